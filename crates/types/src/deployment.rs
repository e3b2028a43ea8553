//! Sovereignty tags carried by every deployment.

use serde::{Deserialize, Serialize};

/// Where a deployment runs, as a code: ISO 3166 alpha-2 (`DE`, `FR`) or a group (`EU`, `EEA`,
/// `US`, `CH`, `GLOBAL`). Kept as text so that new groups need no code change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Jurisdiction(pub String);

impl std::fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a deployment is hosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hosting {
    Cloud,
    OnPrem,
    Embedded,
}

impl Hosting {
    pub fn as_str(self) -> &'static str {
        match self {
            Hosting::Cloud => "cloud",
            Hosting::OnPrem => "on-prem",
            Hosting::Embedded => "embedded",
        }
    }
}

/// How long an operator keeps what is sent to a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Retention {
    /// Nothing is kept once the answer is sent.
    Zero,
    /// Kept up to this many days (abuse monitoring, logs).
    Days(u32),
    /// Not known: counts as kept.
    Unknown,
}

impl Retention {
    /// `zero`, `30d`, `unknown`.
    pub fn parse(text: &str) -> Option<Retention> {
        match text {
            "zero" | "0d" => Some(Retention::Zero),
            "unknown" => Some(Retention::Unknown),
            days => days
                .strip_suffix('d')
                .and_then(|n| n.parse().ok())
                .map(Retention::Days),
        }
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Retention::Zero => f.write_str("zero"),
            Retention::Days(n) => write!(f, "{n}d"),
            Retention::Unknown => f.write_str("unknown"),
        }
    }
}

/// One place a model can be served: a provider plus the upstream model id there, with the
/// tags policy and routing look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// `provider/upstream-model`, unique in a config.
    pub id: String,
    /// Index of the provider in the configuration.
    pub provider_index: usize,
    pub provider_id: String,
    pub upstream_model: String,
    pub jurisdiction: Jurisdiction,
    pub hosting: Hosting,
    /// The company running it (`OpenAI`, `AWS`, `self`, ...).
    pub operator: String,
    pub retention: Retention,
}
