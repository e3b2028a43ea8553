//! `type = "gemini"`: the Gemini API (`generativelanguage.googleapis.com`):
//! `models/{m}:generateContent`, `:streamGenerateContent?alt=sse` (CRLF-framed events, ending
//! at EOF), `:countTokens`, `:batchEmbedContents`; key in `x-goog-api-key`.

mod error;
pub mod request;
pub mod response;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::Incoming;
use switchyard_config::ProviderConfig;
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};
use switchyard_wire_gemini as wire;

use crate::error::{scrub, ProviderError};
use crate::sse::{SseEvent, SseParser};
use crate::transport::{self, Deadline, HttpClient, Timeouts, UpstreamResponse};
use crate::EventStream;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

#[derive(Debug, Clone)]
pub struct Gemini {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    base: String,
    headers: HeaderMap,
    client: HttpClient,
    timeouts: Timeouts,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gemini")
            .field("id", &self.id)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Gemini {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let base = config
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        // `https://generativelanguage.googleapis.com` and `.../v1beta` are both accepted.
        let base = base.strip_suffix("/v1beta").unwrap_or(base).to_owned();
        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        if let Some(key) = config.api_key.as_ref().map(|k| k.expose()) {
            if !key.is_empty() {
                let mut value = HeaderValue::from_str(key).map_err(|_| {
                    ProviderError::unsupported(format!(
                        "provider `{}`: the API key is not a valid header value",
                        config.id
                    ))
                })?;
                value.set_sensitive(true);
                headers.insert(HeaderName::from_static("x-goog-api-key"), value);
                secrets.push(key.to_owned());
            }
        }
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ProviderError::unsupported(format!("provider `{}`: invalid header name", config.id))
            })?;
            let mut v = HeaderValue::from_str(value.expose()).map_err(|_| {
                ProviderError::unsupported(format!(
                    "provider `{}`: invalid header value",
                    config.id
                ))
            })?;
            v.set_sensitive(true);
            headers.insert(name, v);
            if value.expose().len() >= 8 {
                secrets.push(value.expose().to_owned());
            }
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("switchyard/", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Gemini {
            inner: Arc::new(Inner {
                id: config.id.clone(),
                base,
                headers,
                client: transport::client(&config.timeouts, config.tls_ca_file.as_deref())?,
                timeouts: config.timeouts,
                secrets,
            }),
        })
    }

    fn url(&self, model: &str, method: &str) -> Result<http::Uri, ProviderError> {
        let model = model.trim_start_matches("models/");
        let mut encoded = String::with_capacity(model.len());
        for b in model.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("{}/v1beta/models/{encoded}:{method}", self.inner.base)
            .parse()
            .map_err(|e| {
                ProviderError::unsupported(format!(
                    "provider `{}`: invalid URL: {e}",
                    self.inner.id
                ))
            })
    }

    pub async fn chat(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<ChatResponse, ProviderError> {
        let body = self.encode(request)?;
        let url = self.url(upstream_model, "generateContent")?;
        let bytes = self.post_and_read(url, body).await?;
        response::chat_response(&bytes, upstream_model)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let body = self.encode(request)?;
        let deadline = Deadline::start(self.inner.timeouts);
        let url = self.url(upstream_model, "streamGenerateContent?alt=sse")?;
        let response = self.post(url, body, "text/event-stream", &deadline).await?;
        let state = StreamState {
            body: Some(response.into_body()),
            deadline,
            parser: SseParser::new(),
            decoder: response::ChunkDecoder::new(),
            pending: VecDeque::new(),
            events: Vec::new(),
            inner: self.inner.clone(),
            model: upstream_model.to_owned(),
            ended: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, StreamState::next)))
    }

    /// Gemini's own count of the prompt tokens (system instruction and tools included).
    pub async fn count_tokens(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<u64, ProviderError> {
        let mut inner = request::generate_body(request, &self.inner.id)?;
        inner.model = Some(format!(
            "models/{}",
            upstream_model.trim_start_matches("models/")
        ));
        inner.generation_config = None;
        let body = wire::CountTokensRequest {
            generate_content_request: Some(inner),
            ..Default::default()
        };
        let body = serde_json::to_vec(&body).map_err(encode_error)?;
        let url = self.url(upstream_model, "countTokens")?;
        let bytes = self.post_and_read(url, body).await?;
        let counted: wire::CountTokensResponse = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::protocol(format!("upstream sent a malformed token count: {e}"))
        })?;
        Ok(counted.total_tokens)
    }

    /// Embeddings through `batchEmbedContents`. Gemini reports no token counts for them.
    pub async fn embed(
        &self,
        request: &EmbeddingRequest,
        upstream_model: &str,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let EmbeddingInput::Texts(texts) = &request.input else {
            return Err(ProviderError::unsupported(
                "token-id input is not supported by Gemini embeddings; send text",
            ));
        };
        let model = format!("models/{}", upstream_model.trim_start_matches("models/"));
        let body = wire::BatchEmbedRequest {
            requests: texts
                .iter()
                .map(|t| wire::EmbedRequest {
                    model: Some(model.clone()),
                    content: wire::Content {
                        role: None,
                        parts: vec![wire::Part {
                            text: Some(t.clone()),
                            ..Default::default()
                        }],
                    },
                    task_type: None,
                    title: None,
                    output_dimensionality: request.dimensions,
                })
                .collect(),
        };
        let body = serde_json::to_vec(&body).map_err(encode_error)?;
        let url = self.url(upstream_model, "batchEmbedContents")?;
        let bytes = self.post_and_read(url, body).await?;
        let parsed: wire::BatchEmbedResponse = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::protocol(format!("upstream sent malformed embeddings: {e}"))
        })?;
        if parsed.embeddings.len() != texts.len() {
            return Err(ProviderError::protocol(format!(
                "upstream returned {} embeddings for {} inputs",
                parsed.embeddings.len(),
                texts.len()
            )));
        }
        Ok(EmbeddingResponse {
            model: upstream_model.to_owned(),
            embeddings: parsed.embeddings.into_iter().map(|e| e.values).collect(),
            input_tokens: 0,
        })
    }

    fn encode(&self, request: &ChatRequest) -> Result<Vec<u8>, ProviderError> {
        let body = request::generate_body(request, &self.inner.id)?;
        let Some(extra) = request.provider_options.get("gemini") else {
            return serde_json::to_vec(&body).map_err(encode_error);
        };
        let serde_json::Value::Object(extra) = extra else {
            return Err(ProviderError::unsupported(
                "provider_options.gemini must be a JSON object",
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

    async fn post_and_read(&self, url: http::Uri, body: Vec<u8>) -> Result<Bytes, ProviderError> {
        let deadline = Deadline::start(self.inner.timeouts);
        let mut response = self.post(url, body, "application/json", &deadline).await?;
        deadline.read_body(response.body_mut()).await
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
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let (parts, mut body) = response.into_parts();
        let body = deadline.read_body(&mut body).await.unwrap_or_default();
        Err(error::status_error(
            status,
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

struct StreamState {
    body: Option<Incoming>,
    deadline: Deadline,
    parser: SseParser,
    decoder: response::ChunkDecoder,
    pending: VecDeque<StreamEvent>,
    events: Vec<SseEvent>,
    inner: Arc<Inner>,
    model: String,
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
            if event.data.starts_with("{\"error\"") || event.data.contains("\"error\":") {
                if let Some(err) =
                    error::stream_error(&event.data, &self.inner.id, &self.inner.secrets)
                {
                    return Err(err);
                }
            }
            self.decoder
                .on_data(&event.data, &self.model, &mut self.pending)?;
        }
        if eof {
            self.ended = true;
            self.body = None;
            self.decoder.on_eof(&mut self.pending)?;
        }
        Ok(())
    }
}
