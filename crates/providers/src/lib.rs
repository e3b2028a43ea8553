//! Upstream providers: canonical request in, canonical response or stream of events out.
//!
//! Position in the pipeline: after routing has chosen a deployment, the server calls
//! [`Provider::chat`], [`Provider::chat_stream`] or [`Provider::embed`]. One folder per wire
//! format (`openai_compat/` serves every OpenAI-compatible host, with per-host quirks as
//! data); [`transport`] holds the HTTP client and the timeouts every adapter shares; [`sse`]
//! is the event-stream parser.
//!
//! Providers know nothing of client dialects or HTTP status codes towards the client: they
//! report a [`ProviderError`] that says which side failed and whether a retry is safe.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod decode;
pub mod gemini;
#[cfg(feature = "local")]
pub mod local;
pub mod media;
pub mod ollama;
pub mod openai_compat;
pub mod transport;

/// The SSE parser every SSE-speaking adapter feeds (its own crate, so that it can be fuzzed
/// without building the adapters).
pub use switchyard_sse as sse;

mod error;
mod retry_after;
#[cfg(test)]
mod test_support;
mod upstream;

use std::pin::Pin;

use futures::Stream;
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, StreamEvent,
};

pub use anthropic::Anthropic;
pub use bedrock::Bedrock;
pub use cohere::Cohere;
pub use error::{ProviderError, ProviderErrorKind, TimeoutPhase};
pub use gemini::Gemini;
#[cfg(feature = "local")]
pub use local::Local;
pub use media::MediaFetcher;
pub use ollama::OllamaNative;
pub use openai_compat::{HostQuirks, OpenAiCompat};

/// A stream of canonical events from an upstream. It ends after `MessageStop` (and any
/// trailing usage) or with one `Err`.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// Every upstream adapter. An enum rather than a trait object: adding a provider is one new
/// folder and one variant here.
#[derive(Debug, Clone)]
pub enum Provider {
    OpenAiCompat(OpenAiCompat),
    Anthropic(Anthropic),
    Bedrock(Bedrock),
    Gemini(Gemini),
    Cohere(Cohere),
    OllamaNative(OllamaNative),
    #[cfg(feature = "local")]
    Local(Local),
}

/// What a request asks of a provider, for [`Provider::can`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    CountTokens,
    Embed,
}

impl Provider {
    /// Whether this provider can do `operation` at all for `upstream_model`: a pure check,
    /// made once per request before any attempt, so that routing skips a deployment that
    /// could never serve it (with this error as the reason) instead of failing on it. What
    /// a particular request asks beyond that (a sampling parameter, a kind of content) is
    /// checked by the adapter's encoder before anything is sent.
    pub fn can(&self, operation: Operation, upstream_model: &str) -> Result<(), ProviderError> {
        match (operation, self) {
            (
                Operation::CountTokens,
                Provider::OpenAiCompat(_) | Provider::OllamaNative(_) | Provider::Cohere(_),
            ) => Err(cannot_count(upstream_model)),
            (Operation::Embed, Provider::Anthropic(_) | Provider::Bedrock(_)) => {
                Err(self.no_embeddings(upstream_model))
            }
            #[cfg(feature = "local")]
            (operation, Provider::Local(p)) => p.can(operation, upstream_model),
            _ => Ok(()),
        }
    }

    /// Whether this provider only takes images and documents inline, so that URLs must be
    /// fetched by the gateway first ([`MediaFetcher`]).
    pub fn needs_inline_media(&self) -> bool {
        matches!(
            self,
            Provider::Gemini(_) | Provider::OllamaNative(_) | Provider::Bedrock(_)
        )
    }

    /// A complete answer. `upstream_model` is the deployment's model id at this provider.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<ChatResponse, ProviderError> {
        match self {
            Provider::OpenAiCompat(p) => p.chat(request, upstream_model).await,
            Provider::Anthropic(p) => p.chat(request, upstream_model).await,
            Provider::Bedrock(p) => p.chat(request, upstream_model).await,
            Provider::Gemini(p) => p.chat(request, upstream_model).await,
            Provider::Cohere(p) => p.chat(request, upstream_model).await,
            Provider::OllamaNative(p) => p.chat(request, upstream_model).await,
            #[cfg(feature = "local")]
            Provider::Local(p) => p.chat(request, upstream_model).await,
        }
    }

    /// A stream of events. Returns once the upstream has answered with a success status, so
    /// that an error before any content can still be retried or reported as a plain error.
    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<EventStream, ProviderError> {
        match self {
            Provider::OpenAiCompat(p) => p.chat_stream(request, upstream_model).await,
            Provider::Anthropic(p) => p.chat_stream(request, upstream_model).await,
            Provider::Bedrock(p) => p.chat_stream(request, upstream_model).await,
            Provider::Gemini(p) => p.chat_stream(request, upstream_model).await,
            Provider::Cohere(p) => p.chat_stream(request, upstream_model).await,
            Provider::OllamaNative(p) => p.chat_stream(request, upstream_model).await,
            #[cfg(feature = "local")]
            Provider::Local(p) => p.chat_stream(request, upstream_model).await,
        }
    }

    /// The prompt tokens `request` would cost at this deployment, exactly as the model
    /// counts them. Providers with no way to count exactly say so instead of guessing.
    pub async fn count_tokens(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<u64, ProviderError> {
        match self {
            Provider::OpenAiCompat(_) | Provider::OllamaNative(_) | Provider::Cohere(_) => {
                Err(cannot_count(upstream_model))
            }
            Provider::Anthropic(p) => p.count_tokens(request, upstream_model).await,
            Provider::Bedrock(p) => p.count_tokens(request, upstream_model).await,
            Provider::Gemini(p) => p.count_tokens(request, upstream_model).await,
            #[cfg(feature = "local")]
            Provider::Local(p) => p.count_tokens(request).await,
        }
    }

    pub async fn embed(
        &self,
        request: &EmbeddingRequest,
        upstream_model: &str,
    ) -> Result<EmbeddingResponse, ProviderError> {
        match self {
            Provider::OpenAiCompat(p) => p.embed(request, upstream_model).await,
            Provider::Gemini(p) => p.embed(request, upstream_model).await,
            Provider::Cohere(p) => p.embed(request, upstream_model).await,
            Provider::OllamaNative(p) => p.embed(request, upstream_model).await,
            Provider::Anthropic(_) | Provider::Bedrock(_) => {
                Err(self.no_embeddings(upstream_model))
            }
            #[cfg(feature = "local")]
            Provider::Local(p) => p.embed(request, upstream_model).await,
        }
    }

    fn no_embeddings(&self, upstream_model: &str) -> ProviderError {
        ProviderError::unsupported(match self {
            Provider::Bedrock(_) => format!(
                "`{upstream_model}` is served through Bedrock Converse, which has no embeddings; route embeddings to another provider"
            ),
            _ => format!("`{upstream_model}` is served by Anthropic, which has no embeddings API"),
        })
    }
}

fn cannot_count(upstream_model: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "counting tokens is not available for `{upstream_model}`: its provider has no token-counting API"
    ))
}
