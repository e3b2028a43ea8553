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
