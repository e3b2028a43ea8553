//! The HTTP side every adapter shares: a pooled client (HTTP/1.1 and HTTP/2 over rustls) and
//! the four timeouts (connect, first byte, idle between chunks, total) applied to every call.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use crate::error::{ProviderError, ProviderErrorKind, TimeoutPhase};

pub use switchyard_config::Timeouts;

/// Largest non-streamed upstream body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Builds the pooled client for one provider.
pub fn client(timeouts: &Timeouts) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Connect,
                format!("cannot build HTTP client: {e}"),
            )
        })
}

/// A call in progress: when it started and the limits that apply.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    timeouts: Timeouts,
}

impl Deadline {
    pub fn start(timeouts: Timeouts) -> Self {
        Deadline {
            started: Instant::now(),
            timeouts,
        }
    }

    fn remaining(&self) -> Duration {
        self.timeouts.total.saturating_sub(self.started.elapsed())
    }

    /// The time allowed for the next wait of `phase`: its own limit, cut by what is left of
    /// the total. Returns which phase will be blamed if it runs out.
    fn limit(&self, own: Duration, phase: TimeoutPhase) -> (Duration, TimeoutPhase, Duration) {
        let remaining = self.remaining();
        if remaining < own {
            (remaining, TimeoutPhase::Total, self.timeouts.total)
        } else {
            (own, phase, own)
        }
    }

    /// Sends the request and waits for the response headers.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ProviderError> {
        let (limit, phase, reported) =
            self.limit(self.timeouts.first_byte, TimeoutPhase::FirstByte);
        match tokio::time::timeout(limit, request.send()).await {
            Err(_) => Err(ProviderError::timeout(phase, reported)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(send_error(&err, self.timeouts.connect)),
        }
    }

    /// The next body chunk, or `None` at the end.
    pub async fn next_chunk(
        &self,
        response: &mut reqwest::Response,
    ) -> Result<Option<Bytes>, ProviderError> {
        let (limit, phase, reported) = self.limit(self.timeouts.idle, TimeoutPhase::Idle);
        match tokio::time::timeout(limit, response.chunk()).await {
            Err(_) => Err(ProviderError::timeout(phase, reported)),
            Ok(Ok(chunk)) => Ok(chunk),
            Ok(Err(err)) => Err(ProviderError::protocol(format!(
                "upstream connection failed while reading the response: {}",
                describe(&err)
            ))),
        }
    }

    /// The whole body, chunk by chunk under the idle and total limits, capped in size.
    pub async fn read_body(
        &self,
        response: &mut reqwest::Response,
    ) -> Result<Bytes, ProviderError> {
        let mut body = BytesMut::new();
        while let Some(chunk) = self.next_chunk(response).await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ProviderError::protocol(
                    "upstream response body is too large",
                ));
            }
            if body.is_empty() && response.content_length().is_none() {
                body.reserve(chunk.len());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

fn send_error(err: &reqwest::Error, connect: Duration) -> ProviderError {
    if err.is_connect() {
        if err.is_timeout() {
            return ProviderError::timeout(TimeoutPhase::Connect, connect);
        }
        return ProviderError::new(
            ProviderErrorKind::Connect,
            format!("could not connect to the upstream: {}", describe(err)),
        );
    }
    if err.is_timeout() {
        return ProviderError::timeout(TimeoutPhase::FirstByte, connect);
    }
    ProviderError::protocol(format!("upstream request failed: {}", describe(err)))
}

/// The error chain as text, without the URL (which may carry a query-string key).
fn describe(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        "connection error".to_owned()
    } else {
        parts.join(": ")
    }
}

/// `retry-after-ms`, then `retry-after` in seconds (an HTTP-date is treated as unknown).
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    text("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}
