//! The OpenAI Responses front door (`POST /v1/responses`), stateless.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use switchyard_dialects::{openai, responses};

use super::respond;
use super::sse;
use crate::errors;
use crate::pipeline::{self, ChatAnswer, RequestContext};
use crate::state::AppState;

const DIALECT: &str = "responses";

/// `POST /v1/responses`.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    let answer = async {
        ctx.identify(&state, &headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
        let request = responses::decode_create_request(&body)?;
        let echo = responses::Echo::from_request(&request);
        pipeline::chat(&state, &mut ctx, request)
            .await
            .map(|answer| (answer, echo))
    }
    .await;
    match answer {
        Ok((ChatAnswer::Complete(response, served), echo)) => {
            ctx.finish(&state, 200, None, None, response.usage);
            respond::json(
                StatusCode::OK,
                responses::encode_response(&response, &echo),
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
            echo,
        )) => {
            let created = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let encoder = responses::ResponseStreamEncoder::new(echo, created);
            sse::respond(state, ctx, encoder, first, rest, served)
        }
        Err(err) => {
            let status = errors::status(err.class);
            respond::error(&state, &mut ctx, &err, status, openai::encode_error(&err))
        }
    }
}
