//! Anthropic error responses -> `ProviderError`, with secrets scrubbed.

use switchyard_wire_anthropic::ErrorBody;

use crate::error::{scrub, ProviderError, ProviderErrorKind};

/// Classifies a non-success response (`{"type":"error","error":{"type","message"}}`).
pub fn status_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    host: &str,
    secrets: &[String],
) -> ProviderError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let kind = parsed.as_ref().map(|b| b.error.kind.clone());
    let message = match status {
        // Auth messages can echo part of the key: say nothing of them.
        401 | 403 => {
            format!("the upstream `{host}` rejected the gateway's credentials (HTTP {status})")
        }
        _ => {
            let upstream = parsed
                .as_ref()
                .map(|b| b.error.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()
                });
            format!(
                "upstream `{host}` returned HTTP {status}: {}",
                scrub(&upstream, secrets)
            )
        }
    };
    // "prompt is too long" is Anthropic's context overflow; the canonical code says so.
    let code = if message.contains("prompt is too long") {
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
