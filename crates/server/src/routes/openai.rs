//! The OpenAI front door: decode, authenticate, run the pipeline, encode.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderMap, StatusCode};
use switchyard_dialects::openai;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_providers::EventStream;
use switchyard_types::{StreamEvent, Usage};

use super::respond;
use crate::errors;
use crate::pipeline::{self, error_kind, ChatAnswer, RequestContext, Served};
use crate::routes::MAX_REQUEST_BYTES;
use crate::state::AppState;

const DIALECT: &str = "openai";

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let answer = async {
        state.inner.auth.check(&headers)?;
        let body = body.map_err(body_error)?;
        let request = openai::decode_chat_request(&body)?;
        let include_usage = request.stream_include_usage;
        pipeline::chat(&state, &mut ctx, request)
            .await
            .map(|answer| (answer, include_usage))
    }
    .await;
    match answer {
        Ok((ChatAnswer::Complete(response, served), _)) => {
            ctx.finish(&state, 200, None, None, response.usage);
            respond::json(
                StatusCode::OK,
                openai::encode_chat_response(&response),
                &ctx,
                Some(&served),
            )
        }
        Ok((
            ChatAnswer::Stream {
                first,
                rest,
                served,
            },
            include_usage,
        )) => stream_response(state, ctx, first, rest, served, include_usage),
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let result = async {
        state.inner.auth.check(&headers)?;
        let body = body.map_err(body_error)?;
        let request = openai::decode_embeddings_request(&body)?;
        let format = request.encoding_format;
        pipeline::embed(&state, &mut ctx, request)
            .await
            .map(|(response, served)| (response, served, format))
    }
    .await;
    match result {
        Ok((response, served, format)) => {
            let usage = Usage {
                input_tokens: response.input_tokens,
                ..Usage::default()
            };
            ctx.finish(&state, 200, None, None, usage);
            respond::json(
                StatusCode::OK,
                openai::encode_embeddings_response(&response, format),
                &ctx,
                Some(&served),
            )
        }
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// `GET /v1/models`: the configured model names.
pub async fn models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    if let Err(err) = state.inner.auth.check(&headers) {
        return fail(&state, &mut ctx, &err);
    }
    let created = state.inner.created;
    let body = openai::encode_model_list(
        state
            .inner
            .routes
            .models()
            .iter()
            .map(|m| (m.name.as_str(), "switchyard", created)),
    );
    ctx.finish(&state, 200, None, None, Usage::default());
    respond::json(StatusCode::OK, body, &ctx, None)
}

/// Any other path: an OpenAI-shaped 404.
pub async fn not_found(State(state): State<AppState>, uri: http::Uri) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let err = GatewayError::new(
        ErrorClass::NotFound,
        format!(
            "Invalid URL ({}): no such endpoint on this server",
            uri.path()
        ),
    )
    .with_code("unknown_url");
    fail(&state, &mut ctx, &err)
}

/// A known path with the wrong method: an OpenAI-shaped 405.
pub async fn method_not_allowed(
    State(state): State<AppState>,
    method: http::Method,
    uri: http::Uri,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let err = GatewayError::new(
        ErrorClass::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    );
    fail(&state, &mut ctx, &err)
}

fn body_error(rejection: BytesRejection) -> GatewayError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        GatewayError::new(
            ErrorClass::PayloadTooLarge,
            format!(
                "Request body is larger than {} MiB.",
                MAX_REQUEST_BYTES / (1024 * 1024)
            ),
        )
    } else {
        GatewayError::invalid(
            format!("Could not read the request body: {rejection}"),
            None,
        )
    }
}

fn fail(state: &AppState, ctx: &mut RequestContext, err: &GatewayError) -> Response {
    let status = errors::status(err.class);
    ctx.finish(
        state,
        status.as_u16(),
        Some(error_kind(err.class)),
        None,
        Usage::default(),
    );
    let mut response = respond::json(status, openai::encode_error(err), ctx, None);
    if let Some(after) = err.retry_after {
        // Whole seconds, rounded up: `Retry-After: 0` would invite an immediate retry.
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(secs.max(1)),
        );
    }
    response
}

/// The SSE response. Metrics and the log line are recorded when the stream ends, fails, or
/// the client goes away (then with status 499).
fn stream_response(
    state: AppState,
    ctx: RequestContext,
    first: Vec<StreamEvent>,
    rest: EventStream,
    served: Served,
    include_usage: bool,
) -> Response {
    let mut encoder =
        openai::ChatStreamEncoder::new(String::new(), String::new(), 0, include_usage);
    let mut head = BytesMut::new();
    for event in first {
        encoder.encode(event, &mut head);
    }
    let mut response = respond::with_headers(
        StatusCode::OK,
        "text/event-stream",
        Body::empty(),
        &ctx,
        Some(&served),
    );
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    let sse = SseBody {
        ttft: Some(ctx.started.elapsed()),
        state,
        ctx,
        encoder,
        upstream: rest,
        head: Some(head.freeze()),
        finished: false,
    };
    *response.body_mut() = Body::from_stream(futures::stream::unfold(sse, SseBody::next));
    response
}

/// Bytes larger than this are sent without waiting to coalesce more events.
const COALESCE_BYTES: usize = 16 * 1024;

struct SseBody {
    state: AppState,
    ctx: RequestContext,
    encoder: openai::ChatStreamEncoder,
    upstream: EventStream,
    head: Option<Bytes>,
    ttft: Option<Duration>,
    finished: bool,
}

impl SseBody {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        if let Some(head) = self.head.take().filter(|h| !h.is_empty()) {
            return Some((Ok(head), self));
        }
        if self.finished {
            return None;
        }
        let mut out = BytesMut::new();
        let mut item = self.upstream.next().await;
        loop {
            match item {
                Some(Ok(event)) => self.encoder.encode(event, &mut out),
                Some(Err(err)) => {
                    let err = errors::from_provider(&err);
                    self.encoder.fail(&err, &mut out);
                    self.end(Some(error_kind(err.class)));
                    return Some((Ok(out.freeze()), self));
                }
                None => {
                    self.encoder.finish(&mut out);
                    self.end(None);
                    return Some((Ok(out.freeze()), self));
                }
            }
            // Send what is ready; events that arrived together go out in one write.
            if out.len() >= COALESCE_BYTES {
                return Some((Ok(out.freeze()), self));
            }
            match futures::FutureExt::now_or_never(self.upstream.next()) {
                Some(next) => item = next,
                None if out.is_empty() => item = self.upstream.next().await,
                None => return Some((Ok(out.freeze()), self)),
            }
        }
    }

    fn end(&mut self, error: Option<&'static str>) {
        self.finished = true;
        let usage = self.encoder.usage().unwrap_or_default();
        self.ctx.finish(&self.state, 200, error, self.ttft, usage);
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        if !self.finished {
            let usage = self.encoder.usage().unwrap_or_default();
            self.ctx
                .finish(&self.state, 499, Some("client_cancelled"), self.ttft, usage);
        }
    }
}
