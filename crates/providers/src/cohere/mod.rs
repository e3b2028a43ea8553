//! `type = "cohere"`: Cohere's v2 API (`POST /v2/chat`, SSE streaming with kebab-case
//! events; `POST /v2/embed`).

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
use crate::upstream::{
    api_key, encode_with_options, endpoint, event_stream, Sse, SseDecoder, Upstream,
};
use crate::EventStream;

pub const DEFAULT_BASE_URL: &str = "https://api.cohere.com";

#[derive(Debug, Clone)]
pub struct Cohere {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    chat_url: http::Uri,
    embed_url: http::Uri,
    upstream: Arc<Upstream>,
}

impl Cohere {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let key = api_key(config);
        let auth = key.map(|k| (AUTHORIZATION, format!("Bearer {k}")));
        let upstream = Upstream::new(config, auth, key, status_error)?;
        Ok(Cohere {
            inner: Arc::new(Inner {
                chat_url: endpoint(config, DEFAULT_BASE_URL, "/v2", "chat")?,
                embed_url: endpoint(config, DEFAULT_BASE_URL, "/v2", "embed")?,
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
        let body = encode_with_options(&body, &request.provider_options, "cohere")?;
        let bytes = upstream
            .post_and_read(self.inner.chat_url.clone(), body)
            .await?;
        response::chat_response(&bytes, upstream_model)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let upstream = &self.inner.upstream;
        let body = request::chat_body(request, upstream_model, true, &upstream.id)?;
        let body = encode_with_options(&body, &request.provider_options, "cohere")?;
        let deadline = Deadline::start(upstream.timeouts);
        let url = self.inner.chat_url.clone();
        let response = upstream
            .post(url, body, "text/event-stream", &deadline)
            .await?;
        let decoder = Sse::new(response::EventDecoder::new(upstream_model));
        Ok(event_stream(response, deadline, decoder, upstream.clone()))
    }

    pub async fn embed(
        &self,
        request: &EmbeddingRequest,
        upstream_model: &str,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let EmbeddingInput::Texts(texts) = &request.input else {
            return Err(ProviderError::unsupported(
                "token-id input is not supported by Cohere embeddings; send text",
            ));
        };
        let mut body = json!({"model": upstream_model, "texts": texts,
                              "input_type": "search_document", "embedding_types": ["float"]});
        if let Some(d) = request.dimensions {
            body["output_dimension"] = json!(d);
        }
        let body = serde_json::to_vec(&body)
            .map_err(|e| ProviderError::protocol(format!("cannot encode request: {e}")))?;
        let bytes = self
            .inner
            .upstream
            .post_and_read(self.inner.embed_url.clone(), body)
            .await?;
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::protocol(format!("upstream sent malformed embeddings: {e}"))
        })?;
        let embeddings: Vec<Vec<f32>> =
            serde_json::from_value(parsed["embeddings"]["float"].clone()).map_err(|e| {
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
            input_tokens: parsed["meta"]["billed_units"]["input_tokens"]
                .as_f64()
                .unwrap_or(0.0) as u64,
        })
    }
}

/// `{"message": "..."}` (or `{"id","message"}`) with the status.
pub(crate) fn status_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    host: &str,
    secrets: &[String],
) -> ProviderError {
    let message = match status {
        401 | 403 | 498 => {
            format!("the upstream `{host}` rejected the gateway's credentials (HTTP {status})")
        }
        _ => {
            let upstream = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()
                });
            format!(
                "upstream `{host}` returned HTTP {status}: {}",
                scrub(&upstream, secrets)
            )
        }
    };
    ProviderError {
        kind: ProviderErrorKind::Status(status),
        message,
        code: None,
        retry_after: transport::retry_after(headers),
    }
}

impl SseDecoder for response::EventDecoder {
    fn on_data(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        response::EventDecoder::on_data(self, data, out)
    }

    fn on_eof(&mut self, _out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        response::EventDecoder::on_eof(self)
    }

    fn is_done(&self) -> bool {
        response::EventDecoder::is_done(self)
    }
}
