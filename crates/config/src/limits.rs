//! `[server]` (what one client connection may hold: connections, timeouts, HTTP/2 streams)
//! and `[audit]` (the audit queue's bound and what happens when it is full).

use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;

/// `[server]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Connections served at once; more wait in the kernel's accept queue (default 10,000).
    pub max_connections: Option<u32>,
    /// Seconds a client may take to send a request's headers (default 30).
    pub header_timeout_s: Option<f64>,
    /// Seconds a kept-alive connection may sit idle between requests (default 60).
    pub idle_timeout_s: Option<f64>,
    /// Seconds a request body may take to arrive in all (default 60).
    pub body_timeout_s: Option<f64>,
    /// Bytes per second a request body must arrive at, at least, once its first second has
    /// passed (default 1,024).
    pub body_min_bytes_per_s: Option<u64>,
    /// Streams one HTTP/2 connection may run at once (default 256).
    pub http2_max_streams: Option<u32>,
    /// Seconds between HTTP/2 keep-alive pings on an idle connection; a ping unanswered for
    /// as long closes it (default 20).
    pub http2_keepalive_s: Option<f64>,
}

/// `[server]`: the bounds on what clients' connections may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub max_connections: u32,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub body_min_bytes_per_s: u64,
    pub http2_max_streams: u32,
    pub http2_keepalive: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            body_min_bytes_per_s: 1024,
            http2_max_streams: 256,
            http2_keepalive: Duration::from_secs(20),
        }
    }
}

/// `[audit]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Records waiting to be written, at most (default 100,000).
    pub queue: Option<u64>,
    /// `refuse` (default): while the queue is full, new requests get a 503, since a request
    /// served without its record breaks the audit log's promise; `serve`: they are served,
    /// without a record or receipt, and counted.
    pub when_full: Option<String>,
}

/// What the gateway does while the audit queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenAuditFull {
    /// New requests get a 503 until the log catches up (fail closed).
    #[default]
    Refuse,
    /// Requests are served without an audit record (fail open, counted).
    Serve,
}

/// `[audit]`: the queue's bound and the policy when it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLimits {
    pub queue: u64,
    pub when_full: WhenAuditFull,
}

impl Default for AuditLimits {
    fn default() -> Self {
        AuditLimits {
            queue: 100_000,
            when_full: WhenAuditFull::Refuse,
        }
    }
}

fn seconds(key: &str, value: Option<f64>, default: Duration) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(ConfigError::invalid(
            key,
            format!("must be a number of seconds between 0 and 86400, got {s}"),
        )),
    }
}

fn within<T: PartialOrd + Copy + std::fmt::Display>(
    key: &str,
    value: Option<T>,
    default: T,
    low: T,
    high: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if v >= low && v <= high => Ok(v),
        Some(v) => Err(ConfigError::invalid(
            key,
            format!("must be between {low} and {high}, got {v}"),
        )),
    }
}

pub(crate) fn server(raw: Option<&RawServer>) -> Result<ServerLimits, ConfigError> {
    let d = ServerLimits::default();
    let Some(raw) = raw else { return Ok(d) };
    Ok(ServerLimits {
        max_connections: within(
            "server.max_connections",
            raw.max_connections,
            d.max_connections,
            1,
            1_000_000,
        )?,
        header_timeout: seconds(
            "server.header_timeout_s",
            raw.header_timeout_s,
            d.header_timeout,
        )?,
        idle_timeout: seconds("server.idle_timeout_s", raw.idle_timeout_s, d.idle_timeout)?,
        body_timeout: seconds("server.body_timeout_s", raw.body_timeout_s, d.body_timeout)?,
        body_min_bytes_per_s: within(
            "server.body_min_bytes_per_s",
            raw.body_min_bytes_per_s,
            d.body_min_bytes_per_s,
            0,
            1 << 30,
        )?,
        http2_max_streams: within(
            "server.http2_max_streams",
            raw.http2_max_streams,
            d.http2_max_streams,
            1,
            10_000,
        )?,
        http2_keepalive: seconds(
            "server.http2_keepalive_s",
            raw.http2_keepalive_s,
            d.http2_keepalive,
        )?,
    })
}

pub(crate) fn audit(raw: Option<&RawAudit>) -> Result<AuditLimits, ConfigError> {
    let d = AuditLimits::default();
    let Some(raw) = raw else { return Ok(d) };
    let when_full = match raw.when_full.as_deref() {
        None | Some("refuse") => WhenAuditFull::Refuse,
        Some("serve") => WhenAuditFull::Serve,
        Some(other) => {
            return Err(ConfigError::invalid(
                "audit.when_full",
                format!("must be `refuse` or `serve`, not `{other}`"),
            ))
        }
    };
    Ok(AuditLimits {
        queue: within("audit.queue", raw.queue, d.queue, 1, 100_000_000)?,
        when_full,
    })
}
