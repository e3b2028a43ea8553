//! The Anthropic Messages front door: decode, authenticate, run the pipeline, encode.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use switchyard_dialects::anthropic;
use switchyard_dialects::GatewayError;
use switchyard_types::Usage;

use super::{respond, sse};
use crate::errors;
use crate::pipeline::{self, ChatAnswer, RequestContext};
use crate::state::AppState;

const DIALECT: &str = "anthropic";

/// `POST /v1/messages`.
pub async fn messages(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let answer = async {
        ctx.identify(&state, &headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
        let request = anthropic::decode_messages_request(&body)?;
        let model = request.model.clone();
        pipeline::chat(&state, &mut ctx, request)
            .await
            .map(|answer| (answer, model))
    }
    .await;
    match answer {
        Ok((ChatAnswer::Complete(response, served), _)) => {
            ctx.finish(&state, 200, None, None, response.usage);
            respond::json(
                StatusCode::OK,
                anthropic::encode_message_response(&response),
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
            model,
        )) => {
            let encoder = anthropic::MessageStreamEncoder::new(String::new(), model);
            sse::respond(state, ctx, encoder, first, rest, served)
        }
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// `POST /v1/messages/count_tokens`: the prompt tokens of a request, counted by the model
/// that would serve it.
pub async fn count_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let counted = async {
        ctx.identify(&state, &headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
        let request = anthropic::decode_count_tokens_request(&body)?;
        pipeline::count_tokens(&state, &mut ctx, &request).await
    }
    .await;
    match counted {
        Ok((tokens, served)) => {
            let usage = Usage {
                input_tokens: tokens,
                ..Usage::default()
            };
            ctx.finish(&state, 200, None, None, usage);
            respond::json(
                StatusCode::OK,
                anthropic::encode_count_tokens(tokens),
                &mut ctx,
                Some(&served),
            )
        }
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// `GET /v1/models` for a client that sent `anthropic-version`.
pub fn models(state: &AppState, headers: &HeaderMap) -> Response {
    let mut ctx = RequestContext::start(state, DIALECT);
    let caller = match state.inner.auth.check(headers) {
        Ok(caller) => caller,
        Err(err) => return fail(state, &mut ctx, &err),
    };
    let created = state.inner.created;
    let body = anthropic::encode_model_list(
        pipeline::listed_models(state, caller.as_deref()).map(|m| (m.name.as_str(), created)),
    );
    ctx.finish(state, 200, None, None, Usage::default());
    respond::json(StatusCode::OK, body, &mut ctx, None)
}

fn fail(state: &AppState, ctx: &mut RequestContext, err: &GatewayError) -> Response {
    let status = errors::anthropic_status(err.class);
    let body = anthropic::encode_error(err, &ctx.id);
    respond::error(state, ctx, err, status, body)
}
