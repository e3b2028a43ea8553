//! Building responses: status, body and the `x-request-id` / `x-switchyard-*` headers.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;

use crate::pipeline::{RequestContext, Served};

pub fn json(
    status: StatusCode,
    body: Bytes,
    ctx: &RequestContext,
    served: Option<&Served>,
) -> Response {
    with_headers(status, "application/json", Body::from(body), ctx, served)
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
    if let Some(served) = served {
        if let Ok(v) = HeaderValue::from_str(&served.provider_id) {
            headers.insert("x-switchyard-provider", v);
        }
        if let Ok(v) = HeaderValue::from_str(&served.deployment_id) {
            headers.insert("x-switchyard-deployment", v);
        }
        headers.insert("x-switchyard-attempts", HeaderValue::from(served.attempts));
    }
    response
}
