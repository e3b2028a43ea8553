//! The OpenAI-compatible adapter: OpenAI, Azure OpenAI, Mistral, Groq, Together, DeepSeek,
//! xAI, Fireworks, vLLM, llama.cpp server, TGI and Ollama's `/v1`. One code path; the
//! differences between hosts are rows in [`quirks`].
//!
//! Files: `quirks.rs` (per-host data), `request.rs` (canonical -> wire), `response.rs`
//! (wire -> canonical), `stream.rs` (SSE chunks -> canonical events), `error.rs` (error
//! responses -> `ProviderError`), `tests.rs` (against the testkit mock).

pub(crate) mod error;
mod quirks;
pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use http::header::{HeaderName, AUTHORIZATION};
use switchyard_config::{ProviderConfig, ProviderKind};
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};

pub use quirks::{AuthStyle, HostQuirks, MaxTokensField, UrlStyle};

use crate::error::ProviderError;
use crate::transport::Deadline;
use crate::upstream::{
    api_key, encode_with_options, event_stream, path_segment, Sse, SseDecoder, Upstream,
};
use crate::EventStream;

/// Names and addresses only: credentials (in the upstream's headers) never print.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompat")
            .field("id", &self.upstream.id)
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
    /// The host type: picks the `provider_options` entry this provider honours.
    kind: ProviderKind,
    quirks: HostQuirks,
    base_url: String,
    api_version: Option<String>,
    /// `{base}/chat/completions` and `{base}/embeddings`, parsed once, for hosts whose URLs
    /// do not depend on the model.
    fixed_urls: Option<(http::Uri, http::Uri)>,
    /// Client, auth and extra headers, secrets to scrub.
    upstream: Arc<Upstream>,
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
        let key = api_key(config);
        let auth = key.map(|key| match quirks.auth {
            AuthStyle::Bearer => (AUTHORIZATION, format!("Bearer {key}")),
            AuthStyle::ApiKeyHeader => (HeaderName::from_static("api-key"), key.to_owned()),
        });
        let upstream = Upstream::new(config, auth, key, error::status_error)?;
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
                kind: config.kind,
                quirks,
                base_url,
                api_version: config.api_version.clone(),
                fixed_urls,
                upstream: Arc::new(upstream),
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
            ProviderError::unsupported(format!(
                "provider `{}`: invalid URL: {e}",
                self.inner.upstream.id
            ))
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
        let bytes = self.inner.upstream.post_and_read(url, body).await?;
        response::chat_response(&bytes)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        let body = self.encode(request, upstream_model, true)?;
        let upstream = &self.inner.upstream;
        let deadline = Deadline::start(upstream.timeouts);
        let url = self.url(Operation::Chat, upstream_model)?;
        let response = upstream
            .post(url, body, "text/event-stream", &deadline)
            .await?;
        let decoder = stream_decoder(&upstream.id, &upstream.secrets);
        Ok(event_stream(response, deadline, decoder, upstream.clone()))
    }

    pub async fn embed(
        &self,
        request: &EmbeddingRequest,
        upstream_model: &str,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let body = serde_json::to_vec(&request::embeddings_body(request, upstream_model))
            .map_err(|e| ProviderError::protocol(format!("cannot encode request: {e}")))?;
        let url = self.url(Operation::Embeddings, upstream_model)?;
        let bytes = self.inner.upstream.post_and_read(url, body).await?;
        response::embeddings_response(&bytes, request.input.len())
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
            &self.inner.upstream.id,
        )?;
        // Provider-specific fields for this host type go into the body as given; they may
        // override what the canonical request set.
        encode_with_options(&body, &request.provider_options, self.inner.kind.name())
    }
}

/// The decoder of a streamed answer from `host` (whose `secrets` are scrubbed from errors).
pub(crate) fn stream_decoder(host: &str, secrets: &[String]) -> Sse<Chunks> {
    Sse::new(Chunks {
        decoder: stream::ChunkDecoder::new(),
        host: host.to_owned(),
        secrets: secrets.to_vec(),
    })
}

/// OpenAI-style chunks; an `{"error": ...}` event inside the stream is a failure.
pub(crate) struct Chunks {
    decoder: stream::ChunkDecoder,
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
        self.decoder.on_data(data, out)
    }

    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        self.decoder.on_eof(out)
    }

    fn is_done(&self) -> bool {
        self.decoder.is_done()
    }
}
