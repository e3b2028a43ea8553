//! `type = "gemini"`: the Gemini API (`generativelanguage.googleapis.com`):
//! `models/{m}:generateContent`, `:streamGenerateContent?alt=sse` (CRLF-framed events, ending
//! at EOF), `:countTokens`, `:batchEmbedContents`; key in `x-goog-api-key`.
//!
//! `type = "vertex"`: the same models on Google Cloud Vertex AI, with the same bodies:
//! `{location}-aiplatform.googleapis.com/v1/projects/{p}/locations/{l}/publishers/google/
//! models/{m}:generateContent` (and `:streamGenerateContent`, `:countTokens`, `:predict` for
//! embeddings), with an OAuth access token (`google_auth.rs`) in `Authorization`.

pub(crate) mod error;
pub mod google_auth;
pub mod request;
pub mod response;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vertex_tests;

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
    /// Set for Vertex AI.
    vertex: Option<Vertex>,
}

#[derive(Debug)]
struct Vertex {
    project: String,
    location: String,
    tokens: google_auth::GoogleTokens,
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
                vertex: None,
            }),
        })
    }

    /// A Vertex AI provider whose credentials are found through the process environment.
    pub fn vertex(config: &ProviderConfig) -> Result<Self, ProviderError> {
        Self::vertex_with_env(config, crate::upstream::process_env())
    }

    /// A Vertex AI provider reading `env` (tests use a map).
    pub fn vertex_with_env(
        config: &ProviderConfig,
        env: crate::upstream::EnvFn,
    ) -> Result<Self, ProviderError> {
        let gcp = config.gcp.as_ref().ok_or_else(|| {
            ProviderError::unsupported(format!(
                "provider `{}`: type vertex needs a project and a location",
                config.id
            ))
        })?;
        let default = if gcp.location == "global" {
            "https://aiplatform.googleapis.com".to_owned()
        } else {
            format!("https://{}-aiplatform.googleapis.com", gcp.location)
        };
        let tokens = google_auth::GoogleTokens::new(gcp, env, config.timeouts)?;
        let upstream = Upstream::new(config, None, None, error::status_error)?;
        Ok(Gemini {
            inner: Arc::new(Inner {
                base: base_url(config, &default, "/v1"),
                upstream: Arc::new(upstream),
                vertex: Some(Vertex {
                    project: gcp.project.clone(),
                    location: gcp.location.clone(),
                    tokens,
                }),
            }),
        })
    }

    fn url(&self, model: &str, method: &str) -> Result<http::Uri, ProviderError> {
        let model = model.trim_start_matches("models/");
        let base = &self.inner.base;
        let url = match &self.inner.vertex {
            None => format!("{base}/v1beta/models/{}:{method}", path_segment(model)),
            // Full resource names (tuned models, endpoints) are used as given.
            Some(_) if model.starts_with("projects/") => format!("{base}/v1/{model}:{method}"),
            Some(v) => {
                let model = model.trim_start_matches("publishers/google/models/");
                format!(
                    "{base}/v1/projects/{}/locations/{}/publishers/google/models/{}:{method}",
                    v.project,
                    v.location,
                    path_segment(model)
                )
            }
        };
        url.parse().map_err(|e| {
            ProviderError::unsupported(format!(
                "provider `{}`: invalid URL: {e}",
                self.inner.upstream.id
            ))
        })
    }

    /// Posts `body`, with a fresh access token for Vertex AI.
    async fn post(
        &self,
        url: http::Uri,
        body: Vec<u8>,
        accept: &'static str,
        deadline: &Deadline,
    ) -> Result<crate::transport::UpstreamResponse, ProviderError> {
        let mut extra = http::HeaderMap::new();
        if let Some(vertex) = &self.inner.vertex {
            let token = vertex.tokens.token().await?;
            extra.insert(
                http::header::AUTHORIZATION,
                crate::upstream::sensitive(&format!("Bearer {token}"), &self.inner.upstream.id)?,
            );
        }
        self.inner
            .upstream
            .post_with(url, body, accept, extra, deadline)
            .await
    }

    async fn post_and_read(
        &self,
        url: http::Uri,
        body: Vec<u8>,
    ) -> Result<bytes::Bytes, ProviderError> {
        let deadline = Deadline::start(self.inner.upstream.timeouts);
        let mut response = self.post(url, body, "application/json", &deadline).await?;
        deadline.read_body(response.body_mut()).await
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
        let upstream = &self.inner.upstream;
        let deadline = Deadline::start(upstream.timeouts);
        let url = self.url(upstream_model, "streamGenerateContent?alt=sse")?;
        let response = self.post(url, body, "text/event-stream", &deadline).await?;
        let decoder = stream_decoder(upstream_model, &upstream.id, &upstream.secrets);
        Ok(event_stream(response, deadline, decoder, upstream.clone()))
    }

    /// Gemini's own count of the prompt tokens (system instruction and tools included).
    pub async fn count_tokens(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<u64, ProviderError> {
        let mut inner = request::generate_body(request, &self.inner.upstream.id)?;
        inner.generation_config = None;
        let body = if self.inner.vertex.is_some() {
            // Vertex AI takes the request's fields at the top level.
            let wire::GenerateContentRequest {
                contents,
                system_instruction,
                tools,
                ..
            } = inner;
            serde_json::to_vec(&serde_json::json!({
                "contents": contents,
                "systemInstruction": system_instruction,
                "tools": tools,
            }))
        } else {
            inner.model = Some(format!(
                "models/{}",
                upstream_model.trim_start_matches("models/")
            ));
            serde_json::to_vec(&wire::CountTokensRequest {
                generate_content_request: Some(inner),
                ..Default::default()
            })
        }
        .map_err(encode_error)?;
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
        if self.inner.vertex.is_some() {
            return self
                .vertex_embed(texts, request.dimensions, upstream_model)
                .await;
        }
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

    /// Vertex AI embeddings: `:predict` with one instance per text.
    async fn vertex_embed(
        &self,
        texts: &[String],
        dimensions: Option<u32>,
        upstream_model: &str,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let instances: Vec<serde_json::Value> = texts
            .iter()
            .map(|t| serde_json::json!({ "content": t }))
            .collect();
        let mut body = serde_json::json!({ "instances": instances });
        if let Some(d) = dimensions {
            body["parameters"] = serde_json::json!({ "outputDimensionality": d });
        }
        let body = serde_json::to_vec(&body).map_err(encode_error)?;
        let url = self.url(upstream_model, "predict")?;
        let bytes = self.post_and_read(url, body).await?;
        let parsed: wire::PredictResponse = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::protocol(format!("upstream sent malformed embeddings: {e}"))
        })?;
        if parsed.predictions.len() != texts.len() {
            return Err(ProviderError::protocol(format!(
                "upstream returned {} embeddings for {} inputs",
                parsed.predictions.len(),
                texts.len()
            )));
        }
        let input_tokens = parsed
            .predictions
            .iter()
            .map(|p| {
                p.embeddings
                    .statistics
                    .as_ref()
                    .map_or(0, |s| s.token_count)
            })
            .sum();
        Ok(EmbeddingResponse {
            model: upstream_model.to_owned(),
            embeddings: parsed
                .predictions
                .into_iter()
                .map(|p| p.embeddings.values)
                .collect(),
            input_tokens,
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

/// The decoder of a streamed answer of `model` from `host` (whose `secrets` are scrubbed
/// from errors).
pub(crate) fn stream_decoder(model: &str, host: &str, secrets: &[String]) -> Sse<Chunks> {
    Sse::new(Chunks {
        decoder: response::ChunkDecoder::new(),
        model: model.to_owned(),
        host: host.to_owned(),
        secrets: secrets.to_vec(),
    })
}

/// Gemini's streamed responses; a stream ends at EOF, with no terminator.
pub(crate) struct Chunks {
    decoder: response::ChunkDecoder,
    model: String,
    host: String,
    secrets: Vec<String>,
}

impl SseDecoder for Chunks {
    fn on_data(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        if data.contains("\"error\"") {
            if let Some(err) = error::stream_error(data, &self.host, &self.secrets) {
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
