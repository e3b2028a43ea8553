//! Anthropic error bodies: `{"type":"error","error":{"type","message"},"request_id"}`.

use bytes::Bytes;
use switchyard_wire_anthropic::{ErrorBody, ErrorDetail};

use crate::error::{ErrorClass, GatewayError};

/// Anthropic's `error.type` for each class.
pub fn error_type(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::MethodNotAllowed => "invalid_request_error",
        ErrorClass::Authentication => "authentication_error",
        ErrorClass::PermissionDenied => "permission_error",
        ErrorClass::NotFound => "not_found_error",
        ErrorClass::PayloadTooLarge => "request_too_large",
        ErrorClass::RateLimited => "rate_limit_error",
        ErrorClass::UpstreamUnavailable => "overloaded_error",
        ErrorClass::UpstreamTimeout => "timeout_error",
        ErrorClass::UpstreamError | ErrorClass::Internal => "api_error",
    }
}

pub(crate) fn error_detail(err: &GatewayError) -> ErrorDetail {
    ErrorDetail {
        kind: error_type(err.class).to_owned(),
        message: err.message.clone(),
    }
}

/// The JSON body for an error response.
pub fn encode_error(err: &GatewayError, request_id: &str) -> Bytes {
    let body = ErrorBody {
        kind: "error".to_owned(),
        error: error_detail(err),
        request_id: Some(request_id.to_owned()),
    };
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .unwrap_or_else(|_| {
            Bytes::from_static(
                br#"{"type":"error","error":{"type":"api_error","message":"internal error"}}"#,
            )
        })
}
