//! Google API error bodies: `{"error":{"code","message","status"}}`.

use bytes::Bytes;
use switchyard_wire_gemini::{ErrorBody, ErrorDetail};

use crate::error::{ErrorClass, GatewayError};

/// Google's canonical status name for each class.
pub fn error_status(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::PayloadTooLarge => "INVALID_ARGUMENT",
        ErrorClass::Authentication => "UNAUTHENTICATED",
        ErrorClass::PermissionDenied => "PERMISSION_DENIED",
        ErrorClass::NotFound | ErrorClass::MethodNotAllowed => "NOT_FOUND",
        ErrorClass::RateLimited => "RESOURCE_EXHAUSTED",
        ErrorClass::UpstreamUnavailable => "UNAVAILABLE",
        ErrorClass::UpstreamTimeout => "DEADLINE_EXCEEDED",
        ErrorClass::UpstreamError | ErrorClass::Internal => "INTERNAL",
    }
}

pub(crate) fn error_detail(err: &GatewayError, http_status: u16) -> ErrorDetail {
    ErrorDetail {
        code: http_status,
        message: err.message.clone(),
        status: error_status(err.class).to_owned(),
    }
}

/// The JSON body of an error response with HTTP status `http_status`.
pub fn encode_error(err: &GatewayError, http_status: u16) -> Bytes {
    serde_json::to_vec(&ErrorBody {
        error: error_detail(err, http_status),
    })
    .map(Bytes::from)
    .unwrap_or_else(|_| {
        Bytes::from_static(
            br#"{"error":{"code":500,"message":"internal error","status":"INTERNAL"}}"#,
        )
    })
}
