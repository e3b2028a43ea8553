//! Errors as every dialect needs to render them.

/// What went wrong, in the broad classes every client dialect distinguishes. The server maps
/// each class to an HTTP status; each dialect maps it to its own error `type` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Malformed JSON or a schema violation in the client's request.
    InvalidRequest,
    /// Missing or invalid API key.
    Authentication,
    /// The key is valid but not allowed to do this.
    PermissionDenied,
    /// Unknown model or route.
    NotFound,
    /// A known path called with the wrong HTTP method.
    MethodNotAllowed,
    /// The request body is larger than the gateway accepts.
    PayloadTooLarge,
    /// A rate limit was hit (the gateway's own or the upstream's).
    RateLimited,
    /// The upstream answered with an error or garbage.
    UpstreamError,
    /// The upstream could not be reached or is overloaded.
    UpstreamUnavailable,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// A bug or unexpected state in the gateway itself.
    Internal,
}

/// An error ready to be rendered in a client's dialect. `message` must never contain a secret:
/// it is built from the gateway's own words, and upstream messages are scrubbed before they
/// get here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub class: ErrorClass,
    pub message: String,
    /// The request field at fault, when known (`messages[0].content`).
    pub param: Option<String>,
    /// A machine-readable code (`model_not_found`, `context_length_exceeded`).
    pub code: Option<String>,
    /// When the client may usefully retry (sent as `Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

impl GatewayError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        GatewayError {
            class,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>, param: Option<String>) -> Self {
        GatewayError {
            param,
            ..GatewayError::new(ErrorClass::InvalidRequest, message)
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }
}
