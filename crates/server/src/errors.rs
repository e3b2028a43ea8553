//! The one place that turns failures into HTTP statuses.

use http::StatusCode;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_providers::{ProviderError, ProviderErrorKind};

/// The HTTP status for an error class.
pub fn status(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Authentication => StatusCode::UNAUTHORIZED,
        ErrorClass::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorClass::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::UpstreamError => StatusCode::BAD_GATEWAY,
        ErrorClass::UpstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status for an Anthropic client: as [`status`], except that an overloaded or
/// unreachable upstream is Anthropic's own `529 overloaded_error`, which its SDKs retry.
pub fn anthropic_status(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::UpstreamUnavailable => {
            StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
        }
        other => status(other),
    }
}

/// The status for a Bedrock client, as AWS answers: unknown keys are 403
/// (`UnrecognizedClientException`), an upstream timeout is 408 (`ModelTimeoutException`), an
/// upstream's own failure 424 (`ModelErrorException`).
pub fn bedrock_status(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::Authentication => StatusCode::FORBIDDEN,
        ErrorClass::UpstreamTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorClass::UpstreamError => StatusCode::FAILED_DEPENDENCY,
        other => status(other),
    }
}

/// What the client is told when an upstream fails. Client-side faults the upstream found
/// (400, 413, 422: the request itself is wrong, e.g. too long for the model) keep their
/// meaning; rate limits stay 429; every other upstream failure
/// is the gateway's 502, 503 or 504.
pub fn from_provider(err: &ProviderError) -> GatewayError {
    let class = match &err.kind {
        // The media fetcher's process-wide limits are in use: the gateway is busy.
        ProviderErrorKind::Unsupported
            if err.code.as_deref() == Some(switchyard_providers::media::GATEWAY_BUSY) =>
        {
            ErrorClass::UpstreamUnavailable
        }
        ProviderErrorKind::Unsupported => ErrorClass::InvalidRequest,
        ProviderErrorKind::Connect => ErrorClass::UpstreamUnavailable,
        ProviderErrorKind::Timeout(_) => ErrorClass::UpstreamTimeout,
        ProviderErrorKind::Protocol | ProviderErrorKind::Interrupted => ErrorClass::UpstreamError,
        ProviderErrorKind::Status(s) => match s {
            400 | 422 => ErrorClass::InvalidRequest,
            413 => ErrorClass::PayloadTooLarge,
            429 => ErrorClass::RateLimited,
            408 | 504 => ErrorClass::UpstreamTimeout,
            503 | 529 => ErrorClass::UpstreamUnavailable,
            _ => ErrorClass::UpstreamError,
        },
    };
    GatewayError {
        class,
        message: err.message.clone(),
        param: None,
        code: err.code.clone(),
        retry_after: err.retry_after,
    }
}
