//! `type = "ollama-native"`: Ollama's own API (`POST /api/chat`, NDJSON streaming;
//! `POST /api/embed`). (`type = "ollama"` is its OpenAI-compatible `/v1`.)

pub mod request;
pub mod response;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{json, Value};
use switchyard_config::ProviderConfig;
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};

use crate::error::{scrub, ProviderError, ProviderErrorKind};
use crate::transport::{self, Deadline, HttpClient, Timeouts, UpstreamResponse};
use crate::EventStream;

pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:11434";

#[derive(Debug, Clone)]
pub struct OllamaNative {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    chat_url: http::Uri,
    embed_url: http::Uri,
    headers: HeaderMap,
    client: HttpClient,
    timeouts: Timeouts,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OllamaNative")
            .field("id", &self.id)
            .field("chat_url", &self.chat_url)
            .finish_non_exhaustive()
    }
}

impl OllamaNative {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let base = config
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        let base = base.strip_suffix("/api").unwrap_or(base);
        let url = |path: &str| {
            format!("{base}/api/{path}")
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
        // Ollama ignores keys; a proxy in front of it may not.
        if let Some(key) = config
            .api_key
            .as_ref()
            .map(|k| k.expose())
            .filter(|k| !k.is_empty())
        {
            let mut v = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ProviderError::unsupported(format!(
                    "provider `{}`: the API key is not a valid header value",
                    config.id
                ))
            })?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
            secrets.push(key.to_owned());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(OllamaNative {
            inner: Arc::new(Inner {
                id: config.id.clone(),
                chat_url: url("chat")?,
                embed_url: url("embed")?,
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
        let body = request::chat_body(request, upstream_model, false, &self.inner.id)?;
        let bytes = self
            .post_and_read(self.inner.chat_url.clone(), &body)
            .await?;
        response::chat_response(&bytes)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let body = request::chat_body(request, upstream_model, true, &self.inner.id)?;
        let deadline = Deadline::start(self.inner.timeouts);
        let response = self
            .post(
                self.inner.chat_url.clone(),
                &body,
                "application/x-ndjson",
                &deadline,
            )
            .await?;
        let state = StreamState {
            body: Some(response.into_body()),
            deadline,
            decoder: response::LineDecoder::new(),
            pending: VecDeque::new(),
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
        let EmbeddingInput::Texts(texts) = &request.input else {
            return Err(ProviderError::unsupported(
                "token-id input is not supported by Ollama embeddings; send text",
            ));
        };
        let mut body = json!({"model": upstream_model, "input": texts});
        if let Some(d) = request.dimensions {
            body["dimensions"] = json!(d);
        }
        let bytes = self
            .post_and_read(self.inner.embed_url.clone(), &body)
            .await?;
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::protocol(format!("upstream sent malformed embeddings: {e}"))
        })?;
        let embeddings: Vec<Vec<f32>> = serde_json::from_value(parsed["embeddings"].clone())
            .map_err(|e| {
                ProviderError::protocol(format!("upstream sent malformed embeddings: {e}"))
            })?;
        if embeddings.len() != texts.len() {
            return Err(ProviderError::protocol(format!(
                "upstream returned {} embeddings for {} inputs",
                embeddings.len(),
                texts.len()
            )));
        }
        Ok(EmbeddingResponse {
            model: upstream_model.to_owned(),
            embeddings,
            input_tokens: parsed["prompt_eval_count"].as_u64().unwrap_or(0),
        })
    }

    async fn post_and_read(&self, url: http::Uri, body: &Value) -> Result<Bytes, ProviderError> {
        let deadline = Deadline::start(self.inner.timeouts);
        let mut response = self.post(url, body, "application/json", &deadline).await?;
        deadline.read_body(response.body_mut()).await
    }

    async fn post(
        &self,
        url: http::Uri,
        body: &Value,
        accept: &'static str,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, ProviderError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ProviderError::protocol(format!("cannot encode request: {e}")))?;
        let mut request = http::Request::new(Full::new(Bytes::from(bytes)));
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
        let upstream = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
        Err(ProviderError {
            kind: ProviderErrorKind::Status(status),
            message: format!(
                "upstream `{}` returned HTTP {status}: {}",
                self.inner.id,
                scrub(&upstream, &self.inner.secrets)
            ),
            code: None,
            retry_after: transport::retry_after(&parts.headers),
        })
    }
}

struct StreamState {
    body: Option<Incoming>,
    deadline: Deadline,
    decoder: response::LineDecoder,
    pending: VecDeque<StreamEvent>,
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
                self.decoder.on_eof(&mut self.pending)?;
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
