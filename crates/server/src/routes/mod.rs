//! HTTP edges: one module per client dialect, plus operations endpoints.

pub mod anthropic;
pub mod bedrock;
pub mod body;
pub mod explain;
pub mod gemini;
pub mod openai;
pub mod ops;
mod respond;
pub mod responses;
mod sse;

use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::HeaderMap;

use crate::live::Live;
use crate::state::AppState;

/// Largest request body accepted (base64 images make chat bodies large).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// The request body, read once the key was checked (see [`body`]).
pub(crate) async fn read_body(
    body: axum::body::Body,
) -> Result<bytes::Bytes, switchyard_dialects::GatewayError> {
    body::read(body).await
}

/// The whole HTTP app, serving each request from the live state current when it starts.
pub fn router(live: Live) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/models", get(models))
        .route("/v1/responses", post(responses::create))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route(
            "/model/{model_id}/{operation}",
            post(bedrock::model_operation),
        )
        .route("/v1beta/models", get(gemini::models))
        .route("/v1beta/models/{target}", post(gemini::model_method))
        .route("/v1/models/{target}", post(gemini::model_method))
        .route("/v1/route/explain", get(explain::explain))
        .route("/v1/route/health", get(explain::health))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .fallback(openai::not_found)
        .method_not_allowed_fallback(openai::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(axum::middleware::from_fn(run_to_completion))
        .with_state(live)
}

/// Runs each request's handler as a task of its own, so that it runs to its end even when the
/// client goes away: a prompt that reached an upstream gets its answer read, paid for and
/// recorded (ledger row, audit record, log line) instead of vanishing with a dropped future.
/// A panicking handler becomes a 500 instead of a connection closed without a word.
async fn run_to_completion(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(
                target: "switchyard::request",
                panicked = err.is_panic(),
                "a request handler did not finish; answered 500"
            );
            let mut response = Response::new(axum::body::Body::from(
                r#"{"error":{"message":"Internal error: the request could not be completed.","type":"server_error","code":"internal_error"}}"#,
            ));
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

/// `GET /v1/models` is shared by OpenAI and Anthropic clients; Anthropic's SDKs always send
/// `anthropic-version`, and get Anthropic's list shape.
async fn models(state: State<AppState>, headers: HeaderMap) -> Response {
    if headers.contains_key("anthropic-version") {
        anthropic::models(&state.0, &headers)
    } else {
        openai::models(state, headers).await
    }
}
