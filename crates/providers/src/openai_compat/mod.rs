//! The OpenAI-compatible adapter: OpenAI, Azure OpenAI, Mistral, Groq, Together, DeepSeek,
//! xAI, Fireworks, vLLM, llama.cpp server, TGI and Ollama's `/v1`. One code path; the
//! differences between hosts are rows in [`quirks`].
//!
//! Files: `quirks.rs` (per-host data), `request.rs` (canonical -> wire), `response.rs`
//! (wire -> canonical), `stream.rs` (SSE chunks -> canonical events), `error.rs` (error
//! responses -> `ProviderError`), `tests.rs` (against the testkit mock).

mod error;
mod quirks;
pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use switchyard_config::{ProviderConfig, ProviderKind};
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};

pub use quirks::{AuthStyle, HostQuirks, MaxTokensField, UrlStyle};

use crate::error::ProviderError;
use crate::sse::{SseEvent, SseParser};
use crate::transport::{self, Deadline, HttpClient, Timeouts, UpstreamResponse};
use crate::EventStream;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;

/// Names and addresses only: credentials (in `headers` and `secrets`) never print.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompat")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// What a request asks the upstream to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Embeddings,
}

impl Operation {
    fn path(self) -> &'static str {
        match self {
            Operation::Chat => "chat/completions",
            Operation::Embeddings => "embeddings",
        }
    }
}

/// One configured OpenAI-compatible provider. Cheap to clone (shared inside).
#[derive(Debug, Clone)]
pub struct OpenAiCompat {
    inner: Arc<Inner>,
}

struct Inner {
    /// The provider id from the config; used in messages.
    id: String,
    /// The host type: picks the `provider_options` entry this provider honours.
    kind: ProviderKind,
    quirks: HostQuirks,
    base_url: String,
    api_version: Option<String>,
    /// `{base}/chat/completions` and `{base}/embeddings`, parsed once, for hosts whose URLs
    /// do not depend on the model.
    fixed_urls: Option<(http::Uri, http::Uri)>,
    /// Auth and configured extra headers, marked sensitive.
    headers: HeaderMap,
    client: HttpClient,
    timeouts: Timeouts,
    /// Values scrubbed from any upstream text the gateway repeats.
    secrets: Vec<String>,
}

impl OpenAiCompat {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let quirks = HostQuirks::for_kind(config.kind);
        let base_url = config
            .base_url
            .clone()
            .or_else(|| quirks.default_base_url.map(str::to_owned))
            .ok_or_else(|| {
                ProviderError::unsupported(format!("provider `{}` needs a base_url", config.id))
            })?;
        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        if let Some(key) = &config.api_key {
            let key = key.expose();
            if !key.is_empty() {
                let (name, value) = match quirks.auth {
                    AuthStyle::Bearer => (AUTHORIZATION, format!("Bearer {key}")),
                    AuthStyle::ApiKeyHeader => (HeaderName::from_static("api-key"), key.to_owned()),
                };
                headers.insert(name, sensitive(&value, &config.id)?);
                secrets.push(key.to_owned());
            }
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
        let base_url = base_url.trim_end_matches('/').to_owned();
        let fixed_urls = match quirks.urls {
            UrlStyle::OpenAi => {
                let parse = |op: &str| {
                    format!("{base_url}/{op}")
                        .parse::<http::Uri>()
                        .map_err(|e| {
                            ProviderError::unsupported(format!(
                                "provider `{}`: invalid base_url: {e}",
                                config.id
                            ))
                        })
                };
                Some((parse("chat/completions")?, parse("embeddings")?))
            }
            UrlStyle::Azure => None,
        };
        Ok(OpenAiCompat {
            inner: Arc::new(Inner {
                id: config.id.clone(),
                kind: config.kind,
                quirks,
                base_url,
                api_version: config.api_version.clone(),
                fixed_urls,
                headers,
                client: transport::client(&config.timeouts, config.tls_ca_file.as_deref())?,
                timeouts: config.timeouts,
                secrets,
            }),
        })
    }

    /// The URL for an operation (`chat/completions`, `embeddings`) on a model.
    pub fn url(
        &self,
        operation: Operation,
        upstream_model: &str,
    ) -> Result<http::Uri, ProviderError> {
        if let Some((chat, embeddings)) = &self.inner.fixed_urls {
            return Ok(match operation {
                Operation::Chat => chat.clone(),
                Operation::Embeddings => embeddings.clone(),
            });
        }
        let text = self.url_text(operation.path(), upstream_model);
        text.parse::<http::Uri>().map_err(|e| {
            ProviderError::unsupported(format!("provider `{}`: invalid URL: {e}", self.inner.id))
        })
    }

    fn url_text(&self, operation: &str, upstream_model: &str) -> String {
        let base = &self.inner.base_url;
        match (self.inner.quirks.urls, &self.inner.api_version) {
            (UrlStyle::OpenAi, _) => format!("{base}/{operation}"),
            (UrlStyle::Azure, Some(version)) => format!(
                "{base}/openai/deployments/{}/{operation}?api-version={}",
                path_segment(upstream_model),
                path_segment(version)
            ),
            (UrlStyle::Azure, None) if base.ends_with("/openai/v1") => {
                format!("{base}/{operation}")
            }
            (UrlStyle::Azure, None) => format!("{base}/openai/v1/{operation}"),
        }
    }

    pub async fn chat(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<ChatResponse, ProviderError> {
        let body = self.encode(request, upstream_model, false)?;
        let url = self.url(Operation::Chat, upstream_model)?;
        let bytes = self.post_and_read(url, body).await?;
        response::chat_response(&bytes)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let body = self.encode(request, upstream_model, true)?;
        let deadline = Deadline::start(self.inner.timeouts);
        let response = self
            .post(
                self.url(Operation::Chat, upstream_model)?,
                body,
                "text/event-stream",
                &deadline,
            )
            .await?;
        let state = StreamState {
            body: Some(response.into_body()),
            deadline,
            parser: SseParser::new(),
            decoder: stream::ChunkDecoder::new(),
            pending: VecDeque::new(),
            events: Vec::new(),
            inner: self.inner.clone(),
            ended: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, StreamState::next)))
    }

    pub async fn embed(
        &self,
        request: &EmbeddingRequest,
        upstream_model: &str,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let body = serde_json::to_vec(&request::embeddings_body(request, upstream_model))
            .map_err(|e| ProviderError::protocol(format!("cannot encode request: {e}")))?;
        let url = self.url(Operation::Embeddings, upstream_model)?;
        let bytes = self.post_and_read(url, body).await?;
        response::embeddings_response(&bytes, request.input.len())
    }

    /// A non-streamed call: POST, then the whole body under the call's timeouts.
    async fn post_and_read(&self, url: http::Uri, body: Vec<u8>) -> Result<Bytes, ProviderError> {
        let deadline = Deadline::start(self.inner.timeouts);
        let mut response = self.post(url, body, "application/json", &deadline).await?;
        deadline.read_body(response.body_mut()).await
    }

    fn encode(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
        stream: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        let body = request::chat_body(
            request,
            upstream_model,
            stream,
            &self.inner.quirks,
            &self.inner.id,
        )?;
        let encode_error =
            |e: serde_json::Error| ProviderError::protocol(format!("cannot encode request: {e}"));
        let kind = self.inner.kind.name();
        let Some(extra) = request.provider_options.get(kind) else {
            return serde_json::to_vec(&body).map_err(encode_error);
        };
        // Provider-specific fields for this host type go into the body as given; they may
        // override what the canonical request set.
        let serde_json::Value::Object(extra) = extra else {
            return Err(ProviderError::unsupported(format!(
                "provider_options.{kind} must be a JSON object"
            )));
        };
        let mut value = serde_json::to_value(&body).map_err(encode_error)?;
        if let serde_json::Value::Object(fields) = &mut value {
            for (key, field) in extra {
                fields.insert(key.clone(), field.clone());
            }
        }
        serde_json::to_vec(&value).map_err(encode_error)
    }

    /// Sends a POST and returns the response if its status is a success; otherwise reads the
    /// error body (under the same timeouts) and classifies it.
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
        let headers = parts.headers;
        let body = deadline.read_body(&mut body).await.unwrap_or_default();
        Err(error::status_error(
            status.as_u16(),
            &headers,
            &body,
            &self.inner.id,
            &self.inner.secrets,
        ))
    }
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

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn path_segment(text: &str) -> String {
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

/// The state of one upstream stream, driven by `futures::stream::unfold`.
struct StreamState {
    body: Option<Incoming>,
    deadline: Deadline,
    parser: SseParser,
    decoder: stream::ChunkDecoder,
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
            match self.read().await {
                Ok(()) => {}
                Err(err) => {
                    self.ended = true;
                    self.body = None;
                    return Some((Err(err), self));
                }
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
            if event.data.contains("\"error\"") {
                if let Some(err) =
                    error::stream_error(&event.data, &self.inner.id, &self.inner.secrets)
                {
                    return Err(err);
                }
            }
            self.decoder.on_data(&event.data, &mut self.pending)?;
        }
        if self.decoder.is_done() {
            self.ended = true;
            if let Some(body) = self.body.take() {
                // After `[DONE]` the answer is complete; the rest of the body (usually just
                // the chunked terminator) is read off the client's path.
                transport::drain_in_background(body);
            }
        } else if eof {
            self.ended = true;
            self.body = None;
            self.decoder.on_eof(&mut self.pending)?;
        }
        Ok(())
    }
}
