//! `type = "bedrock"`: AWS Bedrock Runtime's Converse API (`POST /model/{id}/converse`,
//! `converse-stream` as a binary event stream, `count-tokens`), SigV4-signed.
//!
//! `request.rs` encodes the canonical request under Converse's rules; `response.rs` and
//! `stream.rs` decode answers and event-stream frames; `sign.rs` signs each request with
//! `aws-sigv4`; `credentials.rs` finds keys (config, or the standard AWS chain);
//! `profiles.rs` says where a cross-region inference profile may process data; `error.rs`
//! classifies failures (throttling and unavailability are retryable).

pub mod credentials;
pub(crate) mod error;
pub mod profiles;
pub mod request;
pub mod response;
pub mod sign;
pub mod stream;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::SystemTime;

use switchyard_config::ProviderConfig;
use switchyard_types::{ChatRequest, ChatResponse};

use self::credentials::{CredentialChain, EnvFn};
use crate::error::ProviderError;
use crate::transport::{Deadline, UpstreamResponse};
use crate::upstream::{base_url, event_stream, path_segment, Upstream};
use crate::EventStream;

#[derive(Debug, Clone)]
pub struct Bedrock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `https://bedrock-runtime.{region}.amazonaws.com`, or the configured `base_url`.
    base: String,
    region: String,
    credentials: CredentialChain,
    upstream: Arc<Upstream>,
}

impl Bedrock {
    /// A provider whose credential chain reads the process environment.
    pub fn new(config: &ProviderConfig) -> Result<Self, ProviderError> {
        Self::with_env(config, crate::upstream::process_env())
    }

    /// A provider whose credential chain reads `env` (tests use a map).
    pub fn with_env(config: &ProviderConfig, env: EnvFn) -> Result<Self, ProviderError> {
        let aws = config.aws.as_ref().ok_or_else(|| {
            ProviderError::unsupported(format!(
                "provider `{}`: type bedrock needs a region",
                config.id
            ))
        })?;
        let default = format!("https://bedrock-runtime.{}.amazonaws.com", aws.region);
        let credentials = CredentialChain::new(aws, env, config.timeouts)?;
        let mut upstream = Upstream::new(config, None, None, error::status_error)?;
        upstream.secrets.extend(credentials.static_secrets());
        Ok(Bedrock {
            inner: Arc::new(Inner {
                base: base_url(config, &default, ""),
                region: aws.region.clone(),
                credentials,
                upstream: Arc::new(upstream),
            }),
        })
    }

    pub async fn chat(
        &self,
        request: &ChatRequest,
        model_id: &str,
    ) -> Result<ChatResponse, ProviderError> {
        let body = request::converse_body(request, model_id, &self.inner.upstream.id)?;
        let body = encode(&body)?;
        let deadline = Deadline::start(self.inner.upstream.timeouts);
        let mut response = self
            .send(model_id, "converse", body, "application/json", &deadline)
            .await?;
        let id = request_id(&response);
        let bytes = deadline.read_body(response.body_mut()).await?;
        response::chat_response(&bytes, id, model_id)
    }

    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        model_id: &str,
    ) -> Result<EventStream, ProviderError> {
        let body = request::converse_body(request, model_id, &self.inner.upstream.id)?;
        let body = encode(&body)?;
        let upstream = &self.inner.upstream;
        let deadline = Deadline::start(upstream.timeouts);
        let response = self
            .send(
                model_id,
                "converse-stream",
                body,
                "application/vnd.amazon.eventstream",
                &deadline,
            )
            .await?;
        let decoder = stream::FrameDecoder::new(request_id(&response), model_id.to_owned());
        Ok(event_stream(response, deadline, decoder, upstream.clone()))
    }

    /// Bedrock's own count of the prompt tokens (`count-tokens`).
    pub async fn count_tokens(
        &self,
        request: &ChatRequest,
        model_id: &str,
    ) -> Result<u64, ProviderError> {
        let full = request::converse_body(request, model_id, &self.inner.upstream.id)?;
        let converse = switchyard_wire_bedrock::ConverseRequest {
            inference_config: None,
            output_config: None,
            ..full
        };
        let body = encode(&switchyard_wire_bedrock::CountTokensRequest {
            input: switchyard_wire_bedrock::CountTokensInput {
                converse: &converse,
            },
        })?;
        let deadline = Deadline::start(self.inner.upstream.timeouts);
        let mut response = self
            .send(
                model_id,
                "count-tokens",
                body,
                "application/json",
                &deadline,
            )
            .await?;
        let bytes = deadline.read_body(response.body_mut()).await?;
        let counted: switchyard_wire_bedrock::CountTokensResponse = serde_json::from_slice(&bytes)
            .map_err(|e| {
                ProviderError::protocol(format!("upstream sent a malformed token count: {e}"))
            })?;
        Ok(counted.input_tokens)
    }

    /// Signs and posts `body` to `/model/{id}/{operation}`.
    async fn send(
        &self,
        model_id: &str,
        operation: &str,
        body: Vec<u8>,
        accept: &'static str,
        deadline: &Deadline,
    ) -> Result<UpstreamResponse, ProviderError> {
        let inner = &self.inner;
        let url: http::Uri = format!(
            "{}/model/{}/{operation}",
            inner.base,
            path_segment(model_id)
        )
        .parse()
        .map_err(|_| {
            ProviderError::unsupported(format!("`{model_id}` cannot be part of a Bedrock URL"))
        })?;
        let credentials = inner.credentials.get().await?;
        let headers = inner.upstream.headers_for(accept);
        let signature = sign::sign_post(
            &credentials,
            &inner.region,
            &url,
            &headers,
            &body,
            SystemTime::now(),
        )?;
        inner
            .upstream
            .post_with(url, body, accept, signature, deadline)
            .await
    }
}

fn encode<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body)
        .map_err(|e| ProviderError::protocol(format!("cannot encode request: {e}")))
}

/// Bedrock's request id for the answer (`x-amzn-requestid`), the canonical response id.
fn request_id(response: &UpstreamResponse) -> String {
    response
        .headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(|id| format!("bedrock-{id}"))
        .unwrap_or_else(|| format!("bedrock-{}", crate::upstream::unix_now()))
}
