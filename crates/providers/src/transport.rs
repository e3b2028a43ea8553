//! The HTTP side every adapter shares: a pooled client (HTTP/1.1, and HTTP/2 where the
//! upstream offers it over TLS ALPN; rustls with the webpki roots) and the four timeouts
//! (connect, first byte, idle between chunks, total) applied to every call.
//!
//! Built directly on hyper's pooled client: a gateway sends millions of requests to a handful
//! of hosts, and a general-purpose client's redirect and URL handling showed up at several
//! percent of the CPU per request.

use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::time::Instant;

use crate::error::{ProviderError, ProviderErrorKind, TimeoutPhase};

pub use switchyard_config::Timeouts;

/// Largest non-streamed upstream body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// The most of an error answer's body kept (for its message).
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// The longest an error answer's body is read (within the call's own limits).
const ERROR_BODY_WAIT: Duration = Duration::from_secs(5);

/// The pooled client for one provider.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An upstream response whose body has not been read yet.
pub type UpstreamResponse = http::Response<Incoming>;

/// Builds the pooled client for one provider. TLS trusts the built-in web roots plus the
/// certificates in `extra_ca` (PEM), if given; HTTP/2 is used where the server offers it
/// through ALPN.
pub fn client(timeouts: &Timeouts, extra_ca: Option<&Path>) -> Result<HttpClient, ProviderError> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(timeouts.connect));
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(30)));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(extra_ca)?)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https))
}

pub(crate) fn tls_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, ProviderError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let bad = |what: String| {
            ProviderError::unsupported(format!("tls_ca_file {}: {what}", path.display()))
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no PEM certificates found".to_owned()));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProviderError::unsupported(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
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
        client: &HttpClient,
        request: http::Request<Full<Bytes>>,
    ) -> Result<UpstreamResponse, ProviderError> {
        let (limit, phase, reported) =
            self.limit(self.timeouts.first_byte, TimeoutPhase::FirstByte);
        match tokio::time::timeout(limit, client.request(request)).await {
            Err(_) => Err(ProviderError::timeout(phase, reported)),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(send_error(&err, self.timeouts.connect)),
        }
    }

    /// The next body chunk, or `None` at the end.
    pub async fn next_chunk(&self, body: &mut Incoming) -> Result<Option<Bytes>, ProviderError> {
        let (limit, phase, reported) = self.limit(self.timeouts.idle, TimeoutPhase::Idle);
        tokio::time::timeout(limit, next_data(body))
            .await
            .map_err(|_| ProviderError::timeout(phase, reported))?
    }

    /// The whole body, chunk by chunk under the idle and total limits, capped in size.
    pub async fn read_body(&self, body: &mut Incoming) -> Result<Bytes, ProviderError> {
        let mut out = BytesMut::new();
        while let Some(chunk) = self.next_chunk(body).await? {
            if out.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ProviderError::protocol(
                    "upstream response body is too large",
                ));
            }
            if out.is_empty() {
                // The common case: one chunk, no copy.
                out = BytesMut::from(chunk.as_ref());
                continue;
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}

impl Deadline {
    /// The start of an error answer's body: at most [`MAX_ERROR_BODY_BYTES`], read for at
    /// most [`ERROR_BODY_WAIT`] (and the call's limits). Whatever arrived by then, never an
    /// error: an upstream that sends an endless or stalled error body does not hold the
    /// request, and its message is still shown as far as it came.
    pub async fn read_error_body(&self, body: &mut Incoming) -> Bytes {
        let mut out = BytesMut::new();
        let read = async {
            while out.len() < MAX_ERROR_BODY_BYTES {
                let Ok(Some(chunk)) = self.next_chunk(body).await else {
                    break;
                };
                let room = MAX_ERROR_BODY_BYTES - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
        };
        let _ = tokio::time::timeout(ERROR_BODY_WAIT, read).await;
        out.freeze()
    }
}

/// A small call (a credentials or token endpoint): sent under `timeouts` with the total cut
/// to `limit`, the whole body read. The error says whether it could not be reached or its
/// answer could not be read; a non-success status comes back with the body for the caller.
pub(crate) async fn fetch_small(
    client: &HttpClient,
    mut timeouts: Timeouts,
    limit: Duration,
    request: http::Request<Full<Bytes>>,
) -> Result<(http::StatusCode, Bytes), String> {
    timeouts.total = timeouts.total.min(limit);
    timeouts.first_byte = timeouts.first_byte.min(timeouts.total);
    let deadline = Deadline::start(timeouts);
    let mut response = deadline
        .send(client, request)
        .await
        .map_err(|e| format!("unreachable: {}", e.message))?;
    let status = response.status();
    let body = deadline
        .read_body(response.body_mut())
        .await
        .map_err(|e| format!("unreadable answer: {}", e.message))?;
    Ok((status, body))
}

/// The next data frame of a body (trailers are skipped).
async fn next_data(body: &mut Incoming) -> Result<Option<Bytes>, ProviderError> {
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
            Some(Err(err)) => {
                return Err(ProviderError::interrupted(format!(
                    "upstream connection failed while reading the response: {}",
                    describe(&err)
                )))
            }
        }
    }
}

/// Reads and discards the rest of a body in the background (bounded in time), so that the
/// connection can go back to the pool without delaying the caller.
pub fn drain_in_background(mut body: Incoming) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = body.frame().await {}
        })
        .await;
    });
}

fn send_error(err: &hyper_util::client::legacy::Error, connect: Duration) -> ProviderError {
    let text = describe(err);
    if err.is_connect() {
        if text.contains("timed out") || text.contains("timeout") {
            return ProviderError::timeout(TimeoutPhase::Connect, connect);
        }
        return ProviderError::new(
            ProviderErrorKind::Connect,
            format!("could not connect to the upstream: {text}"),
        );
    }
    ProviderError::interrupted(format!("upstream request failed: {text}"))
}

/// The error and its sources as one line. Request URLs are not part of hyper's errors, so a
/// key in a query string cannot leak through here.
pub(crate) fn describe(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

pub use crate::retry_after::retry_after;
