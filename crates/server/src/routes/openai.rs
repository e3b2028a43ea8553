//! The OpenAI front door: decode, authenticate, run the pipeline, encode.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use switchyard_dialects::openai;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_types::Usage;

use super::{respond, sse};
use crate::errors;
use crate::pipeline::{self, ChatAnswer, RequestContext};
use crate::state::AppState;

const DIALECT: &str = "openai";

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let answer = async {
        ctx.identify(&state, &headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
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
                &mut ctx,
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
        )) => {
            let encoder =
                openai::ChatStreamEncoder::new(String::new(), String::new(), 0, include_usage);
            sse::respond(state, ctx, encoder, first, rest, served)
        }
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// `POST /v1/embeddings`.
pub async fn embeddings(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let result = async {
        ctx.identify(&state, &headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
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
                &mut ctx,
                Some(&served),
            )
        }
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// `GET /v1/models`: the configured model names.
pub async fn models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let caller = match state.inner.auth.check(&headers) {
        Ok(caller) => caller,
        Err(err) => return fail(&state, &mut ctx, &err),
    };
    let created = state.inner.created;
    let body = openai::encode_model_list(
        pipeline::listed_models(&state, caller.as_deref())
            .map(|m| (m.name.as_str(), "switchyard", created)),
    );
    ctx.finish(&state, 200, None, None, Usage::default());
    respond::json(StatusCode::OK, body, &mut ctx, None)
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

fn fail(state: &AppState, ctx: &mut RequestContext, err: &GatewayError) -> Response {
    let status = errors::status(err.class);
    respond::error(state, ctx, err, status, openai::encode_error(err))
}
