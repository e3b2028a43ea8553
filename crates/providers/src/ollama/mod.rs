//! `type = "ollama-native"`: Ollama's own API (`POST /api/chat`, NDJSON streaming;
//! `POST /api/embed`). (`type = "ollama"` is its OpenAI-compatible `/v1`.)

pub mod request;
pub mod response;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use serde_json::{json, Value};
use switchyard_config::ProviderConfig;
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};

use crate::error::{scrub, ProviderError, ProviderErrorKind};
use crate::transport::{self, Deadline};
use crate::upstream::{api_key, endpoint, event_stream, BodyDecoder, Upstream};
use crate::EventStream;

pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:11434";

#[derive(Debug, Clone)]
pub struct OllamaNative {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    chat_url: http::Uri,
    embed_url: http::Uri,
    upstream: Arc<Upstream>,
}

impl OllamaNative {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        // Ollama ignores keys; a proxy in front of it may not.
        let key = api_key(config);
        let auth = key.map(|k| (AUTHORIZATION, format!("Bearer {k}")));
        let upstream = Upstream::new(config, auth, key, status_error)?;
        Ok(OllamaNative {
            inner: Arc::new(Inner {
                chat_url: endpoint(config, DEFAULT_BASE_URL, "/api", "chat")?,
                embed_url: endpoint(config, DEFAULT_BASE_URL, "/api", "embed")?,
                upstream: Arc::new(upstream),
            }),
        })
    }

    pub async fn chat(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<ChatResponse, ProviderError> {
        let upstream = &self.inner.upstream;
        let body = request::chat_body(request, upstream_model, false, &upstream.id)?;
        let url = self.inner.chat_url.clone();
        let bytes = upstream.post_and_read(url, to_vec(&body)?).await?;
        response::chat_response(&bytes)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let upstream = &self.inner.upstream;
        let body = request::chat_body(request, upstream_model, true, &upstream.id)?;
        let deadline = Deadline::start(upstream.timeouts);
        let url = self.inner.chat_url.clone();
        let response = upstream
            .post(url, to_vec(&body)?, "application/x-ndjson", &deadline)
            .await?;
        let decoder = response::LineDecoder::new();
        Ok(event_stream(response, deadline, decoder, upstream.clone()))
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
        let url = self.inner.embed_url.clone();
        let bytes = self
            .inner
            .upstream
            .post_and_read(url, to_vec(&body)?)
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
}

fn to_vec(body: &Value) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body)
        .map_err(|e| ProviderError::protocol(format!("cannot encode request: {e}")))
}

/// `{"error": "..."}` with the status.
pub(crate) fn status_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    host: &str,
    secrets: &[String],
) -> ProviderError {
    let upstream = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    ProviderError {
        kind: ProviderErrorKind::Status(status),
        message: format!(
            "upstream `{host}` returned HTTP {status}: {}",
            scrub(&upstream, secrets)
        ),
        code: None,
        retry_after: transport::retry_after(headers),
    }
}

impl BodyDecoder for response::LineDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        response::LineDecoder::feed(self, bytes, out)
    }

    fn finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.on_eof(out)
    }

    fn is_done(&self) -> bool {
        response::LineDecoder::is_done(self)
    }
}
