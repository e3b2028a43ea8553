//! `type = "anthropic"`: the Anthropic Messages API (`POST /v1/messages`, SSE streaming,
//! `POST /v1/messages/count_tokens`).
//!
//! `request.rs` encodes the canonical request under Anthropic's rules (system prompt,
//! alternating turns, tool results first, required `max_tokens`); `response.rs` and
//! `stream.rs` decode answers and events; `error.rs` classifies failures (529 overloaded is
//! retryable like a 503).

pub(crate) mod error;
pub mod request;
pub mod response;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use switchyard_config::ProviderConfig;
use switchyard_types::{ChatRequest, ChatResponse, StreamEvent};

use crate::error::ProviderError;
use crate::transport::Deadline;
use crate::upstream::{
    api_key, encode_with_options, endpoint, event_stream, Sse, SseDecoder, Upstream,
};
use crate::EventStream;

/// Anthropic's public endpoint, when the config gives no `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version every request names.
pub const API_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone)]
pub struct Anthropic {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    messages_url: http::Uri,
    count_url: http::Uri,
    upstream: Arc<Upstream>,
}

impl Anthropic {
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let key = api_key(config);
        let auth = key.map(|k| (HeaderName::from_static("x-api-key"), k.to_owned()));
        let mut upstream = Upstream::new(config, auth, key, error::status_error)?;
        upstream.headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        Ok(Anthropic {
            inner: Arc::new(Inner {
                messages_url: endpoint(config, DEFAULT_BASE_URL, "/v1", "messages")?,
                count_url: endpoint(config, DEFAULT_BASE_URL, "/v1", "messages/count_tokens")?,
                upstream: Arc::new(upstream),
            }),
        })
    }

    pub async fn chat(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<ChatResponse, ProviderError> {
        let body = self.encode(request, upstream_model, false)?;
        let url = self.inner.messages_url.clone();
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
        let url = self.inner.messages_url.clone();
        let response = upstream
            .post(url, body, "text/event-stream", &deadline)
            .await?;
        let decoder = Sse::new(stream::EventDecoder::new());
        Ok(event_stream(response, deadline, decoder, upstream.clone()))
    }

    /// Anthropic's own count of the prompt tokens.
    pub async fn count_tokens(
        &self,
        request: &ChatRequest,
        upstream_model: &str,
    ) -> Result<u64, ProviderError> {
        let upstream = &self.inner.upstream;
        let body = request::messages_body(request, upstream_model, false, &upstream.id)?;
        let body = serde_json::to_vec(&request::count_tokens_body(body))
            .map_err(|e| ProviderError::protocol(format!("cannot encode request: {e}")))?;
        let url = self.inner.count_url.clone();
        let bytes = upstream.post_and_read(url, body).await?;
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
        let body =
            request::messages_body(request, upstream_model, stream, &self.inner.upstream.id)?;
        encode_with_options(&body, &request.provider_options, "anthropic")
    }
}

impl SseDecoder for stream::EventDecoder {
    fn on_data(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        stream::EventDecoder::on_data(self, data, out)
    }

    fn on_eof(&mut self, _out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        stream::EventDecoder::on_eof(self)
    }

    fn is_done(&self) -> bool {
        stream::EventDecoder::is_done(self)
    }
}
