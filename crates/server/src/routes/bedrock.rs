//! The AWS Bedrock Runtime front door: `POST /model/{modelId}/converse`, `converse-stream`
//! (binary event stream), `invoke` / `invoke-with-response-stream` with Anthropic-format
//! bodies (as Claude on Bedrock takes them), and `count-tokens` for either form. boto3 with `endpoint_url` pointed here works
//! unchanged: its SigV4 signature is not verified (Switchyard holds no AWS secrets); the
//! access key id in it is the Switchyard key.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode};
use switchyard_dialects::{anthropic, bedrock, GatewayError};
use switchyard_types::{StreamEvent, Usage};

use super::respond;
use super::sse::{self, StreamEncoder};
use crate::errors;
use crate::pipeline::{self, ChatAnswer, RequestContext};
use crate::state::AppState;

const DIALECT: &str = "bedrock";
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// `POST /model/{modelId}/{operation}`.
pub async fn model_operation(
    State(state): State<AppState>,
    Path((model_id, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut ctx = RequestContext::start(&state, DIALECT);
    if operation == "count-tokens" {
        return count_tokens(&state, &mut ctx, &model_id, &headers, body).await;
    }
    let invoke = operation.starts_with("invoke");
    let answer = async {
        ctx.identify(&state, &headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
        let request = match operation.as_str() {
            "converse" | "converse-stream" => {
                bedrock::decode_converse_request(&model_id, &body, operation == "converse-stream")?
            }
            "invoke" | "invoke-with-response-stream" => {
                let mut request = anthropic::decode_messages_request(&anthropic_body(&model_id, &body)?)?;
                request.stream = operation == "invoke-with-response-stream";
                request
            }
            other => {
                return Err(GatewayError::new(
                    switchyard_dialects::ErrorClass::NotFound,
                    format!("operation `{other}` is not supported; Switchyard serves converse, converse-stream, invoke, invoke-with-response-stream and count-tokens"),
                ))
            }
        };
        pipeline::chat(&state, &mut ctx, request).await
    }
    .await;
    match answer {
        Ok(ChatAnswer::Complete(response, served)) => {
            ctx.finish(&state, 200, None, None, response.usage);
            let body = if invoke {
                anthropic::encode_message_response(&response)
            } else {
                let latency = ctx.started.elapsed().as_millis() as u64;
                bedrock::encode_converse_response(&response, latency)
            };
            respond::json(StatusCode::OK, body, &mut ctx, Some(&served))
        }
        Ok(ChatAnswer::Stream {
            first,
            rest,
            served,
        }) => {
            let started = ctx.started;
            let mut response = if invoke {
                let encoder = bedrock::InvokeStreamEncoder::new(model_id);
                sse::respond(state, ctx, encoder, first, rest, served)
            } else {
                let encoder = bedrock::ConverseStreamEncoder::new(started);
                sse::respond(state, ctx, encoder, first, rest, served)
            };
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(EVENT_STREAM),
            );
            response
        }
        Err(err) => fail(&state, &mut ctx, &err),
    }
}

/// `POST /model/{modelId}/count-tokens`: `{"inputTokens": n}`, counted by the deployment
/// that would serve the request.
async fn count_tokens(
    state: &AppState,
    ctx: &mut RequestContext,
    model_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let counted = async {
        ctx.identify(state, headers)?;
        let body = super::read_body(body).await?;
        ctx.prompt_sha256 = Some(crate::receipt::digest(&body));
        let request = match bedrock::decode_count_tokens_input(model_id, &body)? {
            bedrock::CountInput::Converse(request) => *request,
            bedrock::CountInput::InvokeBody(invoke) => {
                // A whole invoke body (max_tokens included), as InvokeModel takes it.
                anthropic::decode_messages_request(&anthropic_body(model_id, &invoke)?)?
            }
        };
        pipeline::count_tokens(state, ctx, &request).await
    }
    .await;
    match counted {
        Ok((tokens, served)) => {
            let usage = Usage {
                input_tokens: tokens,
                ..Usage::default()
            };
            ctx.finish(state, 200, None, None, usage);
            let body = Bytes::from(format!("{{\"inputTokens\":{tokens}}}"));
            respond::json(StatusCode::OK, body, ctx, Some(&served))
        }
        Err(err) => fail(state, ctx, &err),
    }
}

/// An AWS-style error: `{"message"}` with the code in `x-amzn-ErrorType`.
fn fail(state: &AppState, ctx: &mut RequestContext, err: &GatewayError) -> Response {
    let status = errors::bedrock_status(err.class);
    let mut response = respond::error(state, ctx, err, status, bedrock::encode_error(err));
    let kind = format!(
        "{}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        bedrock::error_code(err.class)
    );
    if let Ok(v) = HeaderValue::from_str(&kind) {
        response.headers_mut().insert("x-amzn-errortype", v);
    }
    response
}

/// An `invoke` body is Anthropic's without `model`/`stream`, plus `anthropic_version` and
/// `anthropic_beta`: it becomes a Messages request for `model_id`.
fn anthropic_body(model_id: &str, body: &[u8]) -> Result<Vec<u8>, GatewayError> {
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::invalid(format!("The request body is not valid JSON: {e}"), None)
    })?;
    let Some(map) = value.as_object_mut() else {
        return Err(GatewayError::invalid(
            "The request body must be a JSON object",
            None,
        ));
    };
    map.remove("anthropic_version");
    if map
        .remove("anthropic_beta")
        .is_some_and(|b| !b.is_null() && b != serde_json::json!([]))
    {
        return Err(GatewayError::invalid(
            "anthropic_beta features are not supported by Switchyard",
            Some("anthropic_beta".to_owned()),
        ));
    }
    map.insert(
        "model".to_owned(),
        serde_json::Value::String(model_id.to_owned()),
    );
    serde_json::to_vec(&value).map_err(|e| GatewayError::invalid(e.to_string(), None))
}

impl StreamEncoder for bedrock::ConverseStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        bedrock::ConverseStreamEncoder::encode(self, event, out)
    }
    fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        bedrock::ConverseStreamEncoder::fail(self, err, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        bedrock::ConverseStreamEncoder::finish(self, out)
    }
    fn usage(&self) -> Option<Usage> {
        bedrock::ConverseStreamEncoder::usage(self)
    }
    /// Binary event stream: no place for a comment.
    fn cost(&mut self, _usd: f64, _out: &mut BytesMut) {}
    fn receipt(&mut self, _receipt: &str, _out: &mut BytesMut) {}
}

impl StreamEncoder for bedrock::InvokeStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        bedrock::InvokeStreamEncoder::encode(self, event, out)
    }
    fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        bedrock::InvokeStreamEncoder::fail(self, err, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        bedrock::InvokeStreamEncoder::finish(self, out)
    }
    fn usage(&self) -> Option<Usage> {
        bedrock::InvokeStreamEncoder::usage(self)
    }
    /// Binary event stream: no place for a comment.
    fn cost(&mut self, _usd: f64, _out: &mut BytesMut) {}
    fn receipt(&mut self, _receipt: &str, _out: &mut BytesMut) {}
}
