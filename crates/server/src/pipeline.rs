//! The request pipeline, dialect-independent: a canonical request in, a canonical answer out.
//!
//! ```text
//! (dialect decode and authentication happen at the edge, in `routes`)
//!   -> plan route: the model's deployments in order
//!   -> for each candidate until one commits: provider encode, send, decode
//!        (a stream commits when its first event arrives; before that a retryable
//!         failure moves on to the next candidate)
//!   -> canonical response, or the first events plus the rest of the stream
//! (dialect encode, metrics and the log line happen at the edge, in `routes`)
//! ```

use std::time::{Duration, Instant};

use futures::StreamExt;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_providers::{EventStream, Provider, ProviderError, ProviderErrorKind};
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, StreamEvent, Usage,
};
use tokio::sync::OnceCell;

use crate::errors;
use crate::metrics::{RequestRecord, NONE};
use crate::state::AppState;

/// Per-request bookkeeping, from arrival to the last byte.
#[derive(Debug)]
pub struct RequestContext {
    pub id: String,
    pub dialect: &'static str,
    pub started: Instant,
    /// Index of the model in the route table, `NONE` until known.
    pub model: u32,
    /// Index of the provider that served (or last failed), `NONE` if none was tried.
    pub provider: u32,
    recorded: bool,
}

impl RequestContext {
    pub fn start(state: &AppState, dialect: &'static str) -> Self {
        state.inner.metrics.request_started();
        RequestContext {
            id: new_request_id(),
            dialect,
            started: Instant::now(),
            model: NONE,
            provider: NONE,
            recorded: false,
        }
    }

    /// Records metrics and writes the one log line for this request. Idempotent.
    pub fn finish(
        &mut self,
        state: &AppState,
        status: u16,
        error: Option<&'static str>,
        ttft: Option<Duration>,
        usage: Usage,
    ) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let latency = self.started.elapsed();
        state.inner.metrics.record(&RequestRecord {
            model: self.model,
            provider: self.provider,
            dialect: self.dialect,
            status,
            error,
            latency,
            ttft,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
        });
        let model = state
            .inner
            .routes
            .models()
            .get(self.model as usize)
            .map(|m| m.name.as_str())
            .unwrap_or("-");
        let provider = state
            .inner
            .provider_ids
            .get(self.provider as usize)
            .map(String::as_str)
            .unwrap_or("-");
        tracing::info!(
            target: "switchyard::request",
            request_id = %self.id,
            dialect = self.dialect,
            model,
            provider,
            status,
            error = error.unwrap_or(""),
            latency_ms = latency.as_secs_f64() * 1000.0,
            ttft_ms = ttft.map(|t| t.as_secs_f64() * 1000.0).unwrap_or(0.0),
            input_tokens = usage.input_tokens,
            output_tokens = usage.output_tokens,
            "request finished"
        );
    }
}

/// A fresh request id: `req_` + 24 hex digits of randomness.
fn new_request_id() -> String {
    format!("req_{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}

/// Which deployment served, for response headers.
#[derive(Debug, Clone)]
pub struct Served {
    pub deployment_id: String,
    pub provider_id: String,
    pub attempts: u32,
}

pub enum ChatAnswer {
    Complete(ChatResponse, Served),
    /// `first` holds the events already read from the upstream (the stream is committed to
    /// this deployment); `rest` yields the remainder.
    Stream {
        first: Vec<StreamEvent>,
        rest: EventStream,
        served: Served,
    },
}

/// A short, stable name for an error class: metrics label and log field.
pub fn error_kind(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest => "invalid_request",
        ErrorClass::Authentication => "authentication",
        ErrorClass::PermissionDenied => "permission_denied",
        ErrorClass::NotFound => "not_found",
        ErrorClass::MethodNotAllowed => "method_not_allowed",
        ErrorClass::PayloadTooLarge => "payload_too_large",
        ErrorClass::RateLimited => "rate_limited",
        ErrorClass::UpstreamError => "upstream_error",
        ErrorClass::UpstreamUnavailable => "upstream_unavailable",
        ErrorClass::UpstreamTimeout => "upstream_timeout",
        ErrorClass::Internal => "internal",
    }
}

fn unknown_model(name: &str) -> GatewayError {
    GatewayError::new(
        ErrorClass::NotFound,
        format!("The model `{name}` does not exist or you do not have access to it."),
    )
    .with_param("model")
    .with_code("model_not_found")
}

/// Serves a chat request.
pub async fn chat(
    state: &AppState,
    ctx: &mut RequestContext,
    request: ChatRequest,
) -> Result<ChatAnswer, GatewayError> {
    let request = &request;
    let inlined = OnceCell::new();
    let inlined = &inlined;
    let (answer, served) = try_in_order(state, ctx, &request.model, |provider, model| async move {
        let request = for_provider(state, &provider, request, inlined).await?;
        if request.stream {
            let stream = provider.chat_stream(request, &model).await?;
            commit(stream).await.map(Answer::Stream)
        } else {
            provider.chat(request, &model).await.map(Answer::Complete)
        }
    })
    .await?;
    Ok(match answer {
        Answer::Complete(response) => ChatAnswer::Complete(response, served),
        Answer::Stream((first, rest)) => ChatAnswer::Stream {
            first,
            rest,
            served,
        },
    })
}

enum Answer {
    Complete(ChatResponse),
    Stream((Vec<StreamEvent>, EventStream)),
}

/// Serves an embeddings request.
pub async fn embed(
    state: &AppState,
    ctx: &mut RequestContext,
    request: EmbeddingRequest,
) -> Result<(EmbeddingResponse, Served), GatewayError> {
    let request = &request;
    try_in_order(state, ctx, &request.model, |provider, model| async move {
        provider.embed(request, &model).await
    })
    .await
}

/// Counts a request's prompt tokens at the first deployment of its route that can count
/// exactly (a deployment whose provider has no counting API is skipped, never guessed for).
pub async fn count_tokens(
    state: &AppState,
    ctx: &mut RequestContext,
    request: &ChatRequest,
) -> Result<(u64, Served), GatewayError> {
    let inner = &state.inner;
    let plan = inner
        .routes
        .plan(&request.model)
        .map_err(|_| unknown_model(&request.model))?;
    ctx.model = plan.model_index as u32;
    let mut last_error = None;
    let inlined = OnceCell::new();
    for (position, candidate) in plan.candidates.iter().enumerate() {
        let deployment = candidate.deployment;
        let Some(provider) = inner.providers.get(deployment.provider_index) else {
            continue;
        };
        ctx.provider = deployment.provider_index as u32;
        let counted = match for_provider(state, provider, request, &inlined).await {
            Ok(request) => {
                provider
                    .count_tokens(request, &deployment.upstream_model)
                    .await
            }
            Err(err) => Err(err),
        };
        match counted {
            Ok(tokens) => {
                let served = Served {
                    deployment_id: deployment.id.clone(),
                    provider_id: deployment.provider_id.clone(),
                    attempts: position as u32 + 1,
                };
                return Ok((tokens, served));
            }
            Err(err) => {
                let next = err.is_retryable() || err.kind == ProviderErrorKind::Unsupported;
                if !next {
                    return Err(errors::from_provider(&err));
                }
                last_error = Some(err);
            }
        }
    }
    Err(last_error
        .as_ref()
        .map(errors::from_provider)
        .unwrap_or_else(|| {
            GatewayError::new(
                ErrorClass::UpstreamUnavailable,
                "no deployment could count the request's tokens",
            )
        }))
}

/// The request as `provider` can take it: with image and document URLs fetched and inlined
/// when the provider only takes inline data (fetched once per request, whichever deployment
/// needs it first).
async fn for_provider<'a>(
    state: &AppState,
    provider: &Provider,
    request: &'a ChatRequest,
    inlined: &'a OnceCell<ChatRequest>,
) -> Result<&'a ChatRequest, ProviderError> {
    if !provider.needs_inline_media() || !switchyard_providers::media::has_remote_media(request) {
        return Ok(request);
    }
    inlined
        .get_or_try_init(|| async {
            let fetched = state.inner.media.inline(request).await?;
            Ok::<_, ProviderError>(fetched.unwrap_or_else(|| request.clone()))
        })
        .await
}

/// Plans the route for `model` and calls `attempt` on each candidate in order until one
/// succeeds. A failure moves on to the next candidate only when a retry is safe; otherwise,
/// or after the last candidate, it becomes the client's error.
async fn try_in_order<T, F, Fut>(
    state: &AppState,
    ctx: &mut RequestContext,
    model: &str,
    mut attempt: F,
) -> Result<(T, Served), GatewayError>
where
    F: FnMut(Provider, String) -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let inner = &state.inner;
    let plan = inner.routes.plan(model).map_err(|_| unknown_model(model))?;
    ctx.model = plan.model_index as u32;
    let total = plan.candidates.len();
    let mut last_error = None;
    for (position, candidate) in plan.candidates.iter().enumerate() {
        let deployment = candidate.deployment;
        let Some(provider) = inner.providers.get(deployment.provider_index) else {
            continue;
        };
        ctx.provider = deployment.provider_index as u32;
        match attempt(provider.clone(), deployment.upstream_model.clone()).await {
            Ok(value) => {
                let served = Served {
                    deployment_id: deployment.id.clone(),
                    provider_id: deployment.provider_id.clone(),
                    attempts: position as u32 + 1,
                };
                return Ok((value, served));
            }
            Err(err) => {
                let fallback = position + 1 < total && err.is_retryable();
                tracing::warn!(
                    target: "switchyard::upstream",
                    request_id = %ctx.id,
                    deployment = %deployment.id,
                    error = %err.message,
                    fallback,
                    "upstream attempt failed"
                );
                if !fallback {
                    return Err(errors::from_provider(&err));
                }
                last_error = Some(err);
            }
        }
    }
    Err(last_error
        .as_ref()
        .map(errors::from_provider)
        .unwrap_or_else(|| {
            GatewayError::new(
                ErrorClass::UpstreamUnavailable,
                "no deployment could serve the request",
            )
        }))
}

/// Reads a stream up to its first content-bearing event. An error before that point is
/// returned as a plain error: nothing has reached the client, so it may fall back.
async fn commit(mut stream: EventStream) -> Result<(Vec<StreamEvent>, EventStream), ProviderError> {
    let mut first = Vec::new();
    while let Some(item) = stream.next().await {
        let event = item?;
        let content = !matches!(
            event,
            StreamEvent::MessageStart { .. } | StreamEvent::Usage { .. }
        );
        first.push(event);
        if content {
            break;
        }
    }
    Ok((first, stream))
}
