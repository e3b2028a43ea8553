//! `type = "anthropic"`: the Anthropic Messages API (`POST /v1/messages`, SSE streaming,
//! `POST /v1/messages/count_tokens`).
//!
//! `request.rs` encodes the canonical request under Anthropic's rules (system prompt,
//! alternating turns, tool results first, required `max_tokens`); `response.rs` and
//! `stream.rs` decode answers and events; `error.rs` classifies failures (529 overloaded is
//! retryable like a 503).

mod error;
pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::Incoming;
use switchyard_config::ProviderConfig;
use switchyard_types::{ChatRequest, ChatResponse, StreamEvent};

use crate::error::{scrub, ProviderError};
use crate::sse::{SseEvent, SseParser};
use crate::transport::{self, Deadline, HttpClient, Timeouts, UpstreamResponse};
use crate::EventStream;

/// Anthropic's public endpoint, when the config gives no `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version every request names.
pub const API_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone)]
pub struct Anthropic {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    messages_url: http::Uri,
    count_url: http::Uri,
    headers: HeaderMap,
    client: HttpClient,
    timeouts: Timeouts,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anthropic")
            .field("id", &self.id)
            .field("messages_url", &self.messages_url)
            .finish_non_exhaustive()
    }
}

impl Anthropic {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let base = config
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        // Both `https://api.anthropic.com` and `.../v1` are accepted as the base.
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let url = |path: &str| {
            format!("{base}/v1/{path}")
                .parse::<http::Uri>()
                .map_err(|e| {
                    ProviderError::unsupported(format!(
                        "provider `{}`: invalid base_url: {e}",
                        config.id
                    ))
                })
        };
        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        if let Some(key) = config.api_key.as_ref().map(|k| k.expose()) {
            if !key.is_empty() {
                headers.insert(
                    HeaderName::from_static("x-api-key"),
                    sensitive(key, &config.id)?,
                );
                secrets.push(key.to_owned());
            }
        }
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
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
        Ok(Anthropic {
            inner: Arc::new(Inner {
                id: config.id.clone(),
                messages_url: url("messages")?,
                count_url: url("messages/count_tokens")?,
                headers,
                client: transport::client(&config.timeouts, config.tls_ca_file.as_deref())?,
                timeouts: config.timeouts,
                secrets,
            }),
        })
    }

    pub async fn chat(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<ChatResponse, ProviderError> {
        let body = self.encode(request, upstream_model, false)?;
        let deadline = Deadline::start(self.inner.timeouts);
        let url = self.inner.messages_url.clone();
        let mut response = self.post(url, body, "application/json", &deadline).await?;
        let bytes = deadline.read_body(response.body_mut()).await?;
        response::chat_response(&bytes)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let body = self.encode(request, upstream_model, true)?;
        let deadline = Deadline::start(self.inner.timeouts);
        let url = self.inner.messages_url.clone();
        let response = self.post(url, body, "text/event-stream", &deadline).await?;
        let state = StreamState {
            body: Some(response.into_body()),
            deadline,
            parser: SseParser::new(),
            decoder: stream::EventDecoder::new(),
            pending: VecDeque::new(),
            events: Vec::new(),
            inner: self.inner.clone(),
            ended: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, StreamState::next)))
    }

    /// Anthropic's own count of the prompt tokens.
    pub async fn count_tokens(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<u64, ProviderError> {
        let body = request::messages_body(request, upstream_model, false, &self.inner.id)?;
        let body = serde_json::to_vec(&request::count_tokens_body(body)).map_err(encode_error)?;
        let deadline = Deadline::start(self.inner.timeouts);
        let url = self.inner.count_url.clone();
        let mut response = self.post(url, body, "application/json", &deadline).await?;
        let bytes = deadline.read_body(response.body_mut()).await?;
        let counted: switchyard_wire_anthropic::CountTokensResponse =
            serde_json::from_slice(&bytes).map_err(|e| {
                ProviderError::protocol(format!("upstream sent a malformed token count: {e}"))
            })?;
        Ok(counted.input_tokens)
    }

    /// The body, with `provider_options.anthropic` merged in last.
    fn encode(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        let body = request::messages_body(request, upstream_model, stream, &self.inner.id)?;
        let Some(extra) = request.provider_options.get("anthropic") else {
            return serde_json::to_vec(&body).map_err(encode_error);
        };
        let serde_json::Value::Object(extra) = extra else {
            return Err(ProviderError::unsupported(
                "provider_options.anthropic must be a JSON object",
            ));
        };
        let mut value = serde_json::to_value(&body).map_err(encode_error)?;
        if let serde_json::Value::Object(fields) = &mut value {
            for (key, field) in extra {
                fields.insert(key.clone(), field.clone());
            }
        }
        serde_json::to_vec(&value).map_err(encode_error)
    }

    async fn post(
        &self,
        url: http::Uri,
        body: Vec<u8>,
        accept: &'static str,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, ProviderError> {
        let mut request = http::Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = url;
        let headers = request.headers_mut();
        headers.clone_from(&self.inner.headers);
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let response = deadline.send(&self.inner.client, request).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let (parts, mut body) = response.into_parts();
        let body = deadline.read_body(&mut body).await.unwrap_or_default();
        Err(error::status_error(
            status.as_u16(),
            &parts.headers,
            &body,
            &self.inner.id,
            &self.inner.secrets,
        ))
    }
}

fn encode_error(e: serde_json::Error) -> ProviderError {
    ProviderError::protocol(format!("cannot encode request: {e}"))
}

fn sensitive(value: &str, provider: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        ProviderError::unsupported(format!(
            "provider `{provider}`: a credential is not a valid header value"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The state of one upstream stream, driven by `futures::stream::unfold`.
struct StreamState {
    body: Option<Incoming>,
    deadline: Deadline,
    parser: SseParser,
    decoder: stream::EventDecoder,
    pending: VecDeque<StreamEvent>,
    events: Vec<SseEvent>,
    inner: Arc<Inner>,
    ended: bool,
}

impl StreamState {
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
                err.message = scrub(&err.message, &self.inner.secrets);
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
        let chunk = self.deadline.next_chunk(body).await?;
        let eof = chunk.is_none();
        match chunk {
            Some(bytes) => self
                .parser
                .feed(&bytes, &mut self.events)
                .map_err(|_| ProviderError::protocol("upstream sent an over-long SSE line"))?,
            None => self.parser.finish(&mut self.events),
        }
        for event in self.events.drain(..) {
            self.decoder.on_data(&event.data, &mut self.pending)?;
        }
        if self.decoder.is_done() {
            self.ended = true;
            if let Some(body) = self.body.take() {
                transport::drain_in_background(body);
            }
        } else if eof {
            self.ended = true;
            self.body = None;
            self.decoder.on_eof()?;
        }
        Ok(())
    }
}
