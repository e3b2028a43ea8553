//! Every adapter's decoders of what an upstream sends, over plain bytes and built exactly as
//! the adapters build them: whole answers, streamed bodies cut anywhere, error answers, and
//! the `Retry-After` family of headers. Whatever the bytes, the result is a canonical value or
//! a [`ProviderError`], never a panic; the fuzz targets (`fuzz/fuzz_targets/upstream_*.rs`)
//! hold every decoder to that.

use std::collections::VecDeque;
use std::time::Duration;

use switchyard_types::{ChatResponse, StreamEvent};

use crate::upstream::BodyDecoder;
use crate::ProviderError;

/// An upstream wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
    Cohere,
    Ollama,
    Bedrock,
}

impl Wire {
    pub const ALL: [Wire; 6] = [
        Wire::OpenAi,
        Wire::Anthropic,
        Wire::Gemini,
        Wire::Cohere,
        Wire::Ollama,
        Wire::Bedrock,
    ];

    /// A wire chosen by a byte (fuzz input).
    pub fn from_byte(byte: u8) -> Wire {
        Wire::ALL[usize::from(byte) % Wire::ALL.len()]
    }
}

const HOST: &str = "upstream";
const MODEL: &str = "model";

/// A complete (non-streamed) answer body.
pub fn response(wire: Wire, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    match wire {
        Wire::OpenAi => crate::openai_compat::response::chat_response(body),
        Wire::Anthropic => crate::anthropic::response::chat_response(body),
        Wire::Gemini => crate::gemini::response::chat_response(body, MODEL),
        Wire::Cohere => crate::cohere::response::chat_response(body, MODEL),
        Wire::Ollama => crate::ollama::response::chat_response(body),
        Wire::Bedrock => crate::bedrock::response::chat_response(body, "id".into(), MODEL),
    }
}

/// A streamed body, fed in pieces cut at `cuts` (offsets, in any order, out of range ignored),
/// then ended: the events decoded, or the first error.
pub fn stream(wire: Wire, body: &[u8], cuts: &[usize]) -> Result<Vec<StreamEvent>, ProviderError> {
    match wire {
        Wire::OpenAi => feed(crate::openai_compat::stream_decoder(HOST, &[]), body, cuts),
        Wire::Anthropic => feed(
            crate::upstream::Sse::new(crate::anthropic::stream::EventDecoder::new()),
            body,
            cuts,
        ),
        Wire::Gemini => feed(crate::gemini::stream_decoder(MODEL, HOST, &[]), body, cuts),
        Wire::Cohere => feed(
            crate::upstream::Sse::new(crate::cohere::response::EventDecoder::new(MODEL)),
            body,
            cuts,
        ),
        Wire::Ollama => feed(crate::ollama::response::LineDecoder::new(), body, cuts),
        Wire::Bedrock => feed(
            crate::bedrock::stream::FrameDecoder::new("id".into(), MODEL.into()),
            body,
            cuts,
        ),
    }
}

/// An error answer (`status`, `headers`, `body`) as the adapter classifies it.
pub fn error(wire: Wire, status: u16, headers: &http::HeaderMap, body: &[u8]) -> ProviderError {
    let classify = match wire {
        Wire::OpenAi => crate::openai_compat::error::status_error,
        Wire::Anthropic => crate::anthropic::error::status_error,
        Wire::Gemini => crate::gemini::error::status_error,
        Wire::Cohere => crate::cohere::status_error,
        Wire::Ollama => crate::ollama::status_error,
        Wire::Bedrock => crate::bedrock::error::status_error,
    };
    classify(status, headers, body, HOST, &[])
}

/// When an upstream's headers say it may be called again.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    crate::retry_after::retry_after(headers)
}

fn feed<D: BodyDecoder>(
    mut decoder: D,
    body: &[u8],
    cuts: &[usize],
) -> Result<Vec<StreamEvent>, ProviderError> {
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c <= body.len()).collect();
    cuts.sort_unstable();
    let mut out = VecDeque::new();
    let mut at = 0;
    for cut in cuts.into_iter().chain(std::iter::once(body.len())) {
        if cut > at {
            decoder.feed(&body[at..cut], &mut out)?;
            at = cut;
        }
        if decoder.is_done() {
            break;
        }
    }
    if !decoder.is_done() {
        decoder.finish(&mut out)?;
    }
    Ok(out.into())
}
