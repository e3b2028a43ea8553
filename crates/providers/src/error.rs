//! Errors that know which side failed and whether a retry is safe.

use std::time::Duration;

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    Connect,
    FirstByte,
    /// Silence between two body chunks.
    Idle,
    Total,
}

impl TimeoutPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::FirstByte => "first byte",
            TimeoutPhase::Idle => "idle between chunks",
            TimeoutPhase::Total => "total",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The request could not be expressed for this upstream (a feature it lacks). The
    /// client's request is at fault for this target: a 400 that names the feature.
    Unsupported,
    /// Could not connect (refused, DNS, TLS). Nothing reached the upstream.
    Connect,
    Timeout(TimeoutPhase),
    /// The upstream answered with a non-success status.
    Status(u16),
    /// The upstream's answer could not be understood (bad JSON, an event out of place).
    Protocol,
    /// The connection broke during the exchange (reset, closed before the answer was
    /// complete). Like a connect error it says nothing of the request, so before a stream
    /// commits it may go to another deployment.
    Interrupted,
}

/// An upstream failure. `message` is safe to show a client: it never contains the provider's
/// credentials (upstream messages are scrubbed before they are stored here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    pub message: String,
    /// The upstream's machine-readable code, such as `context_length_exceeded`.
    pub code: Option<String>,
    /// From `retry-after-ms` / `retry-after`.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            code: None,
            retry_after: None,
        }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ProviderErrorKind::Unsupported, message)
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ProviderErrorKind::Protocol, message)
    }

    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ProviderErrorKind::Interrupted, message)
    }

    pub fn timeout(phase: TimeoutPhase, after: Duration) -> Self {
        Self::new(
            ProviderErrorKind::Timeout(phase),
            format!(
                "upstream timed out ({} timeout, {:.1} s)",
                phase.as_str(),
                after.as_secs_f64()
            ),
        )
    }

    /// Whether sending the same request again (here or to another deployment) is safe and
    /// may succeed: connect errors, broken connections, timeouts, 408, 409, 429 and 5xx (529
    /// included). Client errors and answers that cannot be understood are never retried.
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ProviderErrorKind::Connect
            | ProviderErrorKind::Interrupted
            | ProviderErrorKind::Timeout(_) => true,
            ProviderErrorKind::Status(s) => matches!(s, 408 | 409 | 429) || *s >= 500,
            ProviderErrorKind::Unsupported | ProviderErrorKind::Protocol => false,
        }
    }
}

/// Removes every secret (and any long prefix of one) from `text`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(secret.as_str(), "***");
        // Upstreams often echo a truncated key ("sk-abc...xyz"): drop long fragments too.
        if let Some(prefix) = secret.get(..secret.len().min(12)) {
            out = out.replace(prefix, "***");
        }
    }
    out
}
