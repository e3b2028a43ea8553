//! Building responses: status, body and the `x-request-id` / `x-switchyard-*` headers.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;

use switchyard_dialects::GatewayError;

use crate::pipeline::{error_kind, RequestContext, Served};
use crate::state::AppState;

/// An error response in a dialect's body, with `Retry-After` when the error has a hint;
/// records the request as finished.
pub fn error(
    state: &AppState,
    ctx: &mut RequestContext,
    err: &GatewayError,
    status: StatusCode,
    body: Bytes,
) -> Response {
    ctx.finish(
        state,
        status.as_u16(),
        Some(error_kind(err.class)),
        None,
        switchyard_types::Usage::default(),
    );
    let mut response = json(status, body, ctx, None);
    if let Some(after) = err.retry_after {
        // Whole seconds, rounded up: `Retry-After: 0` would invite an immediate retry.
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    response
}

/// A JSON answer with its headers; seals the request's receipt with the body's hash.
pub fn json(
    status: StatusCode,
    body: Bytes,
    ctx: &mut RequestContext,
    served: Option<&Served>,
) -> Response {
    let receipt = ctx
        .receipt
        .take()
        .and_then(|mut r| r.header(Some(&crate::receipt::digest(&body))));
    let mut response = with_headers(status, "application/json", Body::from(body), ctx, served);
    if let Some(receipt) = receipt {
        response
            .headers_mut()
            .insert(crate::receipt::HEADER, receipt);
    }
    response
}

pub fn with_headers(
    status: StatusCode,
    content_type: &'static str,
    body: Body,
    ctx: &RequestContext,
    served: Option<&Served>,
) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&ctx.id) {
        headers.insert("x-request-id", v);
    }
    rate_headers(headers, ctx);
    if let Some(served) = served {
        if let Ok(v) = HeaderValue::from_str(&served.provider_id) {
            headers.insert("x-switchyard-provider", v);
        }
        if let Ok(v) = HeaderValue::from_str(&served.deployment_id) {
            headers.insert("x-switchyard-deployment", v);
        }
        headers.insert("x-switchyard-attempts", HeaderValue::from(served.attempts));
        if ctx.cache_hit {
            headers.insert("x-switchyard-cache", HeaderValue::from_static("hit"));
        }
        if let Some(cost) = served.cost_usd {
            if let Ok(v) = HeaderValue::from_str(&format!("{cost:.8}")) {
                headers.insert("x-switchyard-cost-usd", v);
            }
        }
    }
    response
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for a key with rate limits, as
/// OpenAI sends them (reset as a duration such as `0.600s`).
fn rate_headers(headers: &mut http::HeaderMap, ctx: &RequestContext) {
    const NAMES: [[&str; 3]; 2] = [
        [
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
        ],
        [
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
        ],
    ];
    let (requests, tokens) = ctx.rate;
    for (window, [limit, remaining, reset]) in [(requests, NAMES[0]), (tokens, NAMES[1])] {
        let Some(w) = window else { continue };
        headers.insert(limit, HeaderValue::from(w.limit));
        headers.insert(remaining, HeaderValue::from(w.remaining));
        if let Ok(v) = HeaderValue::from_str(&format!("{:.3}s", w.reset_ns as f64 / 1e9)) {
            headers.insert(reset, v);
        }
    }
}
