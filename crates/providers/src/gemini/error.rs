//! Google API errors (`{"error":{"code","message","status"}}`) -> `ProviderError`.

use switchyard_wire_gemini::ErrorBody;

use crate::error::{scrub, ProviderError, ProviderErrorKind};

pub fn status_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    host: &str,
    secrets: &[String],
) -> ProviderError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let message = match status {
        401 | 403 => {
            format!("the upstream `{host}` rejected the gateway's credentials (HTTP {status})")
        }
        _ => {
            let upstream = parsed
                .as_ref()
                .map(|b| b.error.message.clone())
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()
                });
            format!(
                "upstream `{host}` returned HTTP {status}: {}",
                scrub(&upstream, secrets)
            )
        }
    };
    let code = if message.contains("exceeds the maximum number of tokens") {
        Some("context_length_exceeded".to_owned())
    } else {
        parsed.map(|b| b.error.status)
    };
    ProviderError {
        kind: ProviderErrorKind::Status(status),
        message,
        code,
        retry_after: crate::transport::retry_after(headers),
    }
}

/// `{"error": ...}` inside a stream.
pub fn stream_error(data: &str, host: &str, secrets: &[String]) -> Option<ProviderError> {
    let body: ErrorBody = serde_json::from_str(data).ok()?;
    let kind = match body.error.code {
        429 | 500..=599 => ProviderErrorKind::Status(body.error.code),
        _ => ProviderErrorKind::Protocol,
    };
    Some(ProviderError {
        kind,
        message: format!(
            "upstream `{host}` failed during the stream: {}",
            scrub(&body.error.message, secrets)
        ),
        code: Some(body.error.status),
        retry_after: None,
    })
}
