//! Upstream error responses -> `ProviderError`, with secrets scrubbed.

use switchyard_wire_openai::UpstreamErrorBody;

use crate::error::{scrub, ProviderError, ProviderErrorKind};

/// Classifies a non-success response. `secrets` are removed from any text kept.
pub fn status_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    host: &str,
    secrets: &[String],
) -> ProviderError {
    let parsed: Option<UpstreamErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(UpstreamErrorBody::code);
    let message = match status {
        // An upstream's own auth messages can echo part of the key: say nothing of them.
        401 | 403 => {
            format!("the upstream `{host}` rejected the gateway's credentials (HTTP {status})")
        }
        _ => {
            let upstream = parsed
                .as_ref()
                .map(|b| b.message().to_owned())
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
    ProviderError {
        kind: ProviderErrorKind::Status(status),
        message,
        code,
        retry_after: crate::transport::retry_after(headers),
    }
}

/// An error object received inside a stream (`data: {"error":{...}}`).
pub fn stream_error(data: &str, host: &str, secrets: &[String]) -> Option<ProviderError> {
    let body: UpstreamErrorBody = serde_json::from_str(data).ok()?;
    if matches!(body, UpstreamErrorBody::Flat { .. }) {
        return None;
    }
    Some(ProviderError {
        kind: ProviderErrorKind::Protocol,
        message: format!(
            "upstream `{host}` failed during the stream: {}",
            scrub(body.message(), secrets)
        ),
        code: body.code(),
        retry_after: None,
    })
}
