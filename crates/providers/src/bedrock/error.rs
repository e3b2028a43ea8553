//! Bedrock error responses and stream exceptions -> `ProviderError`, with secrets scrubbed.

use switchyard_wire_bedrock::ErrorBody;

use crate::error::{scrub, ProviderError, ProviderErrorKind};

/// Classifies a non-success response: `{"message": ...}` with the exception's name in
/// `x-amzn-ErrorType` (`ThrottlingException:http://internal.amazon.com/...`).
pub fn status_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    host: &str,
    secrets: &[String],
) -> ProviderError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let kind = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_owned())
        .or_else(|| parsed.as_ref().and_then(|b| b.kind.clone()))
        .map(|k| k.rsplit('#').next().unwrap_or(&k).to_owned());
    let message = match status {
        // Signature and access errors can echo request details: say nothing of them.
        401 | 403 => format!(
            "the upstream `{host}` rejected the gateway's AWS credentials (HTTP {status}{})",
            kind.as_deref()
                .map(|k| format!(", {k}"))
                .unwrap_or_default()
        ),
        _ => {
            let upstream = parsed
                .as_ref()
                .and_then(|b| b.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()
                });
            format!(
                "upstream `{host}` returned HTTP {status}{}: {}",
                kind.as_deref()
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default(),
                scrub(&upstream, secrets)
            )
        }
    };
    let lower = message.to_ascii_lowercase();
    let code = if lower.contains("too long") || lower.contains("context window") {
        Some("context_length_exceeded".to_owned())
    } else {
        kind
    };
    ProviderError {
        kind: ProviderErrorKind::Status(status),
        message,
        code,
        retry_after: crate::transport::retry_after(headers),
    }
}

/// An exception frame in a stream: its `:exception-type` and `{"message": ...}` payload,
/// with the status the same exception has outside a stream.
pub fn exception_error(kind: &str, payload: &[u8]) -> ProviderError {
    let status = match kind {
        "validationException" => 400,
        "accessDeniedException" => 403,
        "resourceNotFoundException" => 404,
        "modelTimeoutException" => 408,
        "throttlingException" => 429,
        "modelStreamErrorException" | "modelErrorException" => 424,
        "serviceUnavailableException" => 503,
        _ => 500,
    };
    let message = serde_json::from_slice::<ErrorBody>(payload)
        .ok()
        .and_then(|b| b.message)
        .unwrap_or_default();
    let mut code = kind.to_owned();
    if let Some(first) = code.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    ProviderError {
        kind: ProviderErrorKind::Status(status),
        message: format!("upstream stream failed ({code}): {message}"),
        code: Some(code),
        retry_after: None,
    }
}
