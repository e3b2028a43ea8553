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

use http::header::HeaderName;
use switchyard_config::ProviderConfig;
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};
use switchyard_wire_gemini as wire;

use crate::error::ProviderError;
use crate::transport::Deadline;
use crate::upstream::{
    api_key, base_url, encode_with_options, event_stream, path_segment, Sse, SseDecoder, Upstream,
};
use crate::EventStream;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

#[derive(Debug, Clone)]
pub struct Gemini {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base: String,
    upstream: Arc<Upstream>,
}

impl Gemini {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        // `https://generativelanguage.googleapis.com` and `.../v1beta` are both accepted.
        let base = base_url(config, DEFAULT_BASE_URL, "/v1beta");
        let key = api_key(config);
        let auth = key.map(|k| (HeaderName::from_static("x-goog-api-key"), k.to_owned()));
        let upstream = Upstream::new(config, auth, key, error::status_error)?;
        Ok(Gemini {
            inner: Arc::new(Inner {
                base,
                upstream: Arc::new(upstream),
            }),
        })
    }

    fn url(&self, model: &str, method: &str) -> Result<http::Uri, ProviderError> {
        let model = model.trim_start_matches("models/");
        let encoded = path_segment(model);
        format!("{}/v1beta/models/{encoded}:{method}", self.inner.base)
            .parse()
            .map_err(|e| {
                ProviderError::unsupported(format!(
                    "provider `{}`: invalid URL: {e}",
                    self.inner.upstream.id
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
        let bytes = self.inner.upstream.post_and_read(url, body).await?;
        response::chat_response(&bytes, upstream_model)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let body = self.encode(request)?;
        let upstream = &self.inner.upstream;
        let deadline = Deadline::start(upstream.timeouts);
        let url = self.url(upstream_model, "streamGenerateContent?alt=sse")?;
        let response = upstream
            .post(url, body, "text/event-stream", &deadline)
            .await?;
        let decoder = Sse::new(Chunks {
            decoder: response::ChunkDecoder::new(),
            model: upstream_model.to_owned(),
            upstream: upstream.clone(),
        });
        Ok(event_stream(response, deadline, decoder, upstream.clone()))
    }

    /// Gemini's own count of the prompt tokens (system instruction and tools included).
    pub async fn count_tokens(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<u64, ProviderError> {
        let mut inner = request::generate_body(request, &self.inner.upstream.id)?;
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
        let bytes = self.inner.upstream.post_and_read(url, body).await?;
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
        let bytes = self.inner.upstream.post_and_read(url, body).await?;
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
        let body = request::generate_body(request, &self.inner.upstream.id)?;
        encode_with_options(&body, &request.provider_options, "gemini")
    }
}

fn encode_error(e: serde_json::Error) -> ProviderError {
    ProviderError::protocol(format!("cannot encode request: {e}"))
}

/// Gemini's streamed responses; a stream ends at EOF, with no terminator.
struct Chunks {
    decoder: response::ChunkDecoder,
    model: String,
    upstream: Arc<Upstream>,
}

impl SseDecoder for Chunks {
    fn on_data(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        if data.contains("\"error\"") {
            if let Some(err) = error::stream_error(data, &self.upstream.id, &self.upstream.secrets)
            {
                return Err(err);
            }
        }
        self.decoder.on_data(data, &self.model, out)
    }

    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.decoder.on_eof(out)
    }

    fn is_done(&self) -> bool {
        false
    }
}
