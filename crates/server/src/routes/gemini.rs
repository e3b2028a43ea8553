//! The Gemini API front door: `POST /v1beta/models/{model}:{method}` for `generateContent`,
//! `streamGenerateContent`, `countTokens`, `embedContent` and `batchEmbedContents`, and the
//! model list. The key comes in `x-goog-api-key` or the `key` query parameter.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, StatusCode};
use switchyard_dialects::gemini;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_types::{StreamEvent, Usage};

use super::respond;
use super::sse::{self, StreamEncoder};
use crate::errors;
use crate::pipeline::{self, ChatAnswer, RequestContext};
use crate::state::AppState;

const DIALECT: &str = "gemini";

/// `POST /v1beta/models/{model}:{method}`.
pub async fn model_method(
    State(state): State<AppState>,
    Path(target): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    mut headers: HeaderMap,
    body: Body,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    if let Some(key) = query.get("key").and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("x-goog-api-key", key);
    }
    // `models/` may be repeated in the path by some clients; the model is what precedes `:`.
    let Some((model, method)) = target.rsplit_once(':') else {
        let err = GatewayError::new(
            ErrorClass::NotFound,
            format!("models/{target} names no method; expected models/{{model}}:generateContent"),
        );
        return fail(&state, &mut ctx, &err);
    };
    let model = model.trim_start_matches("models/").to_owned();
    let run = async {
        ctx.identify(&state, &headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
        match method {
            "generateContent" | "streamGenerateContent" => {
                let stream = method == "streamGenerateContent";
                let request = gemini::decode_generate_request(&model, &body, stream)?;
                let sse = query.get("alt").map(String::as_str) == Some("sse");
                Ok(Outcome::Chat(
                    Box::new(pipeline::chat(&state, &mut ctx, request).await?),
                    sse,
                    model.clone(),
                ))
            }
            "countTokens" => {
                let request = gemini::decode_count_tokens_request(&model, &body)?;
                let (tokens, served) = pipeline::count_tokens(&state, &mut ctx, &request).await?;
                Ok(Outcome::Counted(tokens, served))
            }
            "embedContent" | "batchEmbedContents" => {
                let batch = method == "batchEmbedContents";
                let request = gemini::decode_embed_request(&model, &body, batch)?;
                let (response, served) = pipeline::embed(&state, &mut ctx, request).await?;
                Ok(Outcome::Embedded(response, served, batch))
            }
            other => Err(GatewayError::new(
                ErrorClass::NotFound,
                format!("method `{other}` is not supported; Switchyard serves generateContent, streamGenerateContent, countTokens, embedContent and batchEmbedContents"),
            )),
        }
    }
    .await;
    match run {
        Ok(Outcome::Chat(answer, sse_mode, model)) => match *answer {
            ChatAnswer::Complete(response, served) => {
                ctx.finish(&state, 200, None, None, response.usage);
                respond::json(
                    StatusCode::OK,
                    gemini::encode_generate_response(&response),
                    &mut ctx,
                    Some(&served),
                )
            }
            ChatAnswer::Stream {
                first,
                rest,
                served,
            } => {
                let encoder = GeminiStream(gemini::GenerateStreamEncoder::new(sse_mode, model));
                let mut response = sse::respond(state, ctx, encoder, first, rest, served);
                if !sse_mode {
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                }
                response
            }
        },
        Ok(Outcome::Counted(tokens, served)) => {
            let usage = Usage {
                input_tokens: tokens,
                ..Usage::default()
            };
            ctx.finish(&state, 200, None, None, usage);
            respond::json(
                StatusCode::OK,
                gemini::encode_count_tokens(tokens),
                &mut ctx,
                Some(&served),
            )
        }
        Ok(Outcome::Embedded(response, served, batch)) => {
            let usage = Usage {
                input_tokens: response.input_tokens,
                ..Usage::default()
            };
            ctx.finish(&state, 200, None, None, usage);
            respond::json(
                StatusCode::OK,
                gemini::encode_embed_response(&response, batch),
                &mut ctx,
                Some(&served),
            )
        }
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// What a method produced (the chat answer boxed: it is much larger than the others).
enum Outcome {
    Chat(Box<ChatAnswer>, bool, String),
    Counted(u64, pipeline::Served),
    Embedded(switchyard_types::EmbeddingResponse, pipeline::Served, bool),
}

/// `GET /v1beta/models`.
pub async fn models(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    mut headers: HeaderMap,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    if let Some(key) = query.get("key").and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("x-goog-api-key", key);
    }
    let caller = match state.inner.auth.check(&headers) {
        Ok(caller) => caller,
        Err(err) => return fail(&state, &mut ctx, &err),
    };
    let body = gemini::encode_model_list(
        pipeline::listed_models(&state, caller.as_deref()).map(|m| m.name.as_str()),
    );
    ctx.finish(&state, 200, None, None, Usage::default());
    respond::json(StatusCode::OK, body, &mut ctx, None)
}

fn fail(state: &AppState, ctx: &mut RequestContext, err: &GatewayError) -> Response {
    let status = errors::status(err.class);
    let body = gemini::encode_error(err, status.as_u16());
    respond::error(state, ctx, err, status, body)
}

/// The Gemini encoder with the in-band error's `code` taken from the status table.
struct GeminiStream(gemini::GenerateStreamEncoder);

impl StreamEncoder for GeminiStream {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        self.0.encode(event, out)
    }
    fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        self.0.fail(err, errors::status(err.class).as_u16(), out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        self.0.finish(out)
    }
    fn usage(&self) -> Option<Usage> {
        self.0.usage()
    }
    /// Google's SDKs read every non-`data:` line of a stream as JSON: no comment for them.
    fn cost(&mut self, _usd: f64, _out: &mut BytesMut) {}
    fn receipt(&mut self, _receipt: &str, _out: &mut BytesMut) {}
}
