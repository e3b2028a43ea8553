//! What every HTTP adapter shares: the client and its default headers (credentials marked
//! sensitive), posting a JSON body under the four timeouts with failures classified in the
//! provider's own error format, merging `provider_options`, and turning a streamed body into
//! canonical events through the adapter's decoder.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::Value;
use switchyard_config::ProviderConfig;
use switchyard_types::StreamEvent;

use crate::error::{scrub, ProviderError};
use crate::sse::{SseEvent, SseParser};
use crate::transport::{self, Deadline, HttpClient, Timeouts, UpstreamResponse};
use crate::EventStream;

/// Reads an environment variable (the process environment, or a map in tests).
pub type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment as an [`EnvFn`].
pub fn process_env() -> EnvFn {
    Arc::new(|name: &str| std::env::var(name).ok())
}

/// Classifies a non-success answer: `(status, headers, body, provider id, secrets)`.
pub(crate) type Classify = fn(u16, &HeaderMap, &[u8], &str, &[String]) -> ProviderError;

/// One configured upstream: who it is, how to reach it, what must never be repeated.
pub(crate) struct Upstream {
    pub id: String,
    pub headers: HeaderMap,
    pub client: HttpClient,
    pub timeouts: Timeouts,
    /// Values scrubbed from any upstream text the gateway repeats.
    pub secrets: Vec<String>,
    pub classify: Classify,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// `auth`: the credential header (`x-api-key`, `Authorization`, ...) and its full value;
    /// `secret` is the part to scrub from upstream text. The config's extra headers are sent
    /// too, all marked sensitive.
    pub fn new(
        config: &ProviderConfig,
        auth: Option<(HeaderName, String)>,
        secret: Option<&str>,
        classify: Classify,
    ) -> Result<Self, ProviderError> {
        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        if let Some((name, value)) = auth {
            headers.insert(name, sensitive(&value, &config.id)?);
        }
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            secrets.push(secret.to_owned());
        }
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ProviderError::unsupported(format!("provider `{}`: invalid header name", config.id))
            })?;
            headers.insert(name, sensitive(value.expose(), &config.id)?);
            if value.expose().len() >= 8 {
                secrets.push(value.expose().to_owned());
            }
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("switchyard/", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Upstream {
            id: config.id.clone(),
            headers,
            client: transport::client(&config.timeouts, config.tls_ca_file.as_deref())?,
            timeouts: config.timeouts,
            secrets,
            classify,
        })
    }

    /// Posts `body`; a non-success status becomes the provider's classified error.
    pub async fn post(
        &self,
        url: http::Uri,
        body: Vec<u8>,
        accept: &'static str,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, ProviderError> {
        self.post_with(url, body, accept, HeaderMap::new(), deadline)
            .await
    }

    /// The headers every request carries, with `accept`.
    pub fn headers_for(&self, accept: &'static str) -> HeaderMap {
        let mut headers = self.headers.clone();
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        headers
    }

    /// [`Upstream::post`] with per-request headers on top (a request signature).
    pub async fn post_with(
        &self,
        url: http::Uri,
        body: Vec<u8>,
        accept: &'static str,
        extra: HeaderMap,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, ProviderError> {
        let mut request = http::Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = url;
        let headers = request.headers_mut();
        *headers = self.headers_for(accept);
        // Replaces same-named headers.
        headers.extend(extra);
        let response = deadline.send(&self.client, request).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let (parts, mut body) = response.into_parts();
        let body = deadline.read_error_body(&mut body).await;
        Err((self.classify)(
            status,
            &parts.headers,
            &body,
            &self.id,
            &self.secrets,
        ))
    }

    /// Posts `body` and reads the whole JSON answer.
    pub async fn post_and_read(
        &self,
        url: http::Uri,
        body: Vec<u8>,
    ) -> Result<Bytes, ProviderError> {
        let deadline = Deadline::start(self.timeouts);
        let mut response = self.post(url, body, "application/json", &deadline).await?;
        deadline.read_body(response.body_mut()).await
    }
}

/// A credential as a header value that is never printed.
pub(crate) fn sensitive(value: &str, provider: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        ProviderError::unsupported(format!(
            "provider `{provider}`: a credential is not a valid header value"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The body as JSON bytes, with `provider_options[kind]` merged into its top level (the one
/// escape hatch for fields with no canonical meaning, sent only to their own provider type).
pub(crate) fn encode_with_options<T: serde::Serialize>(
    body: &T,
    options: &BTreeMap<String, Value>,
    kind: &str,
) -> Result<Vec<u8>, ProviderError> {
    let encode_error =
        |e: serde_json::Error| ProviderError::protocol(format!("cannot encode request: {e}"));
    let Some(extra) = options.get(kind) else {
        return serde_json::to_vec(body).map_err(encode_error);
    };
    let Value::Object(extra) = extra else {
        return Err(ProviderError::unsupported(format!(
            "provider_options.{kind} must be a JSON object"
        )));
    };
    let mut value = serde_json::to_value(body).map_err(encode_error)?;
    if let Value::Object(fields) = &mut value {
        for (key, field) in extra {
            fields.insert(key.clone(), field.clone());
        }
    }
    serde_json::to_vec(&value).map_err(encode_error)
}

/// Turns a streamed body into canonical events as its bytes arrive.
pub(crate) trait BodyDecoder: Send + 'static {
    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
    /// The body ended; an answer that is not complete by now is an error.
    fn finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
    /// The answer is complete (what follows in the body, if anything, is read off the
    /// client's path).
    fn is_done(&self) -> bool;
}

/// A decoder of SSE `data:` payloads.
pub(crate) trait SseDecoder: Send + 'static {
    fn on_data(&mut self, data: &str, out: &mut VecDeque<StreamEvent>)
        -> Result<(), ProviderError>;
    /// The body ended; an answer that is not complete by now is an error.
    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError>;
    fn is_done(&self) -> bool;
}

/// An SSE body: the event parser in front of a decoder of `data:` payloads.
pub(crate) struct Sse<T> {
    parser: SseParser,
    events: Vec<SseEvent>,
    decoder: T,
}

impl<T: SseDecoder> Sse<T> {
    pub fn new(decoder: T) -> Self {
        Sse {
            parser: SseParser::new(),
            events: Vec::new(),
            decoder,
        }
    }

    /// Decodes the events parsed so far; once the answer is complete, whatever follows is
    /// ignored (however the bytes were cut into reads).
    fn drain(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        for event in self.events.drain(..) {
            if self.decoder.is_done() {
                break;
            }
            self.decoder.on_data(&event.data, out)?;
        }
        Ok(())
    }
}

impl<T: SseDecoder> BodyDecoder for Sse<T> {
    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.parser
            .feed(bytes, &mut self.events)
            .map_err(|_| ProviderError::protocol("upstream sent an over-long SSE line"))?;
        self.drain(out)
    }

    fn finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.parser.finish(&mut self.events);
        self.drain(out)?;
        if self.decoder.is_done() {
            return Ok(());
        }
        self.decoder.on_eof(out)
    }

    fn is_done(&self) -> bool {
        self.decoder.is_done()
    }
}

/// The canonical event stream of a response body. Errors are scrubbed of the upstream's
/// secrets before they leave.
pub(crate) fn event_stream<D: BodyDecoder>(
    response: UpstreamResponse,
    deadline: Deadline,
    decoder: D,
    upstream: Arc<Upstream>,
) -> EventStream {
    let state = StreamState {
        body: Some(response.into_body()),
        deadline,
        decoder,
        pending: VecDeque::new(),
        upstream,
        ended: false,
    };
    Box::pin(futures::stream::unfold(state, StreamState::next))
}

struct StreamState<D> {
    body: Option<Incoming>,
    deadline: Deadline,
    decoder: D,
    pending: VecDeque<StreamEvent>,
    upstream: Arc<Upstream>,
    ended: bool,
}

impl<D: BodyDecoder> StreamState<D> {
    async fn next(mut self) -> Option<(Result<StreamEvent, ProviderError>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.ended {
                return None;
            }
            if let Err(mut err) = self.read().await {
                self.ended = true;
                self.body = None;
                err.message = scrub(&err.message, &self.upstream.secrets);
                return Some((Err(err), self));
            }
        }
    }

    /// Reads one network chunk and decodes whatever events it completes.
    async fn read(&mut self) -> Result<(), ProviderError> {
        let Some(body) = self.body.as_mut() else {
            self.ended = true;
            return Ok(());
        };
        match self.deadline.next_chunk(body).await? {
            Some(bytes) => self.decoder.feed(&bytes, &mut self.pending)?,
            None => {
                self.ended = true;
                self.body = None;
                self.decoder.finish(&mut self.pending)?;
            }
        }
        if self.decoder.is_done() {
            self.ended = true;
            if let Some(body) = self.body.take() {
                transport::drain_in_background(body);
            }
        }
        Ok(())
    }
}

/// The configured base URL (or `default`) without a trailing `/` or a trailing `prefix`
/// (`/v1`, `/v2`, `/api`, ...), so that both `https://host` and `https://host/v1` work.
pub(crate) fn base_url(config: &ProviderConfig, default: &str, prefix: &str) -> String {
    let base = config
        .base_url
        .as_deref()
        .unwrap_or(default)
        .trim_end_matches('/');
    base.strip_suffix(prefix).unwrap_or(base).to_owned()
}

/// `{base}{prefix}/{path}` as a URI, where `base` is [`base_url`].
pub(crate) fn endpoint(
    config: &ProviderConfig,
    default: &str,
    prefix: &str,
    path: &str,
) -> Result<http::Uri, ProviderError> {
    let base = base_url(config, default, prefix);
    format!("{base}{prefix}/{path}").parse().map_err(|e| {
        ProviderError::unsupported(format!("provider `{}`: invalid base_url: {e}", config.id))
    })
}

/// The configured API key, when there is a non-empty one.
pub(crate) fn api_key(config: &ProviderConfig) -> Option<&str> {
    config
        .api_key
        .as_ref()
        .map(|k| k.expose())
        .filter(|k| !k.is_empty())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (one URL path segment).
pub(crate) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Unix seconds now (`created` of answers whose upstream does not say).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Tool arguments are JSON text canonically and a JSON object for providers that take them
/// as a document; text that is not a JSON object (a model's malformed call) is sent to
/// `target` as `{}`, with a warning.
pub(crate) fn arguments_object(arguments: &str, target: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            if !arguments.trim().is_empty() {
                tracing::warn!(
                    target: "switchyard::upstream",
                    "a tool call's arguments are not a JSON object; sent to {target} as {{}}"
                );
            }
            Value::Object(Default::default())
        }
    }
}

/// A tool id with every character outside `[a-zA-Z0-9_-]` replaced by `_` (the same on a
/// call and on its result, so the pair still matches); `fallback` when it is empty.
pub(crate) fn tool_id_chars(id: &str, fallback: &str) -> String {
    let out: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}
