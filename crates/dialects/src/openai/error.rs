//! OpenAI error bodies: `{"error":{"message","type","param","code"}}`.

use bytes::Bytes;
use switchyard_wire_openai::{ErrorBody, ErrorDetail};

use crate::error::{ErrorClass, GatewayError};

/// OpenAI's `type` string for each class.
pub fn error_type(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest
        | ErrorClass::NotFound
        | ErrorClass::MethodNotAllowed
        | ErrorClass::PayloadTooLarge => "invalid_request_error",
        ErrorClass::Authentication => "authentication_error",
        ErrorClass::PermissionDenied => "permission_error",
        ErrorClass::RateLimited => "rate_limit_error",
        ErrorClass::UpstreamError
        | ErrorClass::UpstreamUnavailable
        | ErrorClass::UpstreamTimeout
        | ErrorClass::Internal => "server_error",
    }
}

pub(crate) fn error_detail(err: &GatewayError) -> ErrorDetail {
    ErrorDetail {
        message: err.message.clone(),
        kind: error_type(err.class).to_owned(),
        param: err.param.clone(),
        code: err.code.clone().map(serde_json::Value::String),
    }
}

/// The JSON body for an error response.
pub fn encode_error(err: &GatewayError) -> Bytes {
    let body = ErrorBody {
        error: error_detail(err),
    };
    // Serializing plain strings cannot fail; fall back to a fixed body all the same.
    serde_json::to_vec(&body).map(Bytes::from).unwrap_or_else(|_| {
        Bytes::from_static(br#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#)
    })
}
