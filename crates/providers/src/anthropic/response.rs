//! Anthropic Messages response -> canonical response.

use serde_json::Value;
use switchyard_types::{ChatResponse, Citation, ContentBlock, StopReason, Usage};
use switchyard_wire_anthropic as wire;

use crate::error::ProviderError;

pub fn chat_response(body: &[u8]) -> Result<ChatResponse, ProviderError> {
    let message: wire::MessageResponse = serde_json::from_slice(body).map_err(|e| {
        ProviderError::protocol(format!("upstream sent a malformed Messages response: {e}"))
    })?;
    let content = message.content.into_iter().filter_map(block).collect();
    Ok(ChatResponse {
        id: message.id,
        model: message.model,
        created: crate::upstream::unix_now(),
        content,
        stop_reason: stop_reason(message.stop_reason.as_deref()),
        stop_sequence: message.stop_sequence,
        usage: usage(&message.usage, 0),
        system_fingerprint: None,
        service_tier: None,
        logprobs: None,
    })
}

fn block(b: wire::ResponseBlock) -> Option<ContentBlock> {
    Some(match b {
        wire::ResponseBlock::Text { text, citations } => ContentBlock::Text {
            text,
            cache_control: None,
            citations: citations.unwrap_or_default().iter().map(citation).collect(),
        },
        wire::ResponseBlock::ToolUse { id, name, input } => ContentBlock::ToolUse {
            id,
            name,
            arguments: input.to_string(),
            signature: None,
        },
        wire::ResponseBlock::Thinking {
            thinking,
            signature,
        } => ContentBlock::Reasoning {
            text: thinking,
            signature: (!signature.is_empty()).then_some(signature),
        },
        wire::ResponseBlock::RedactedThinking { data } => ContentBlock::RedactedReasoning { data },
        // Server-tool blocks and future block types: nothing canonical to carry them.
        wire::ResponseBlock::Unknown => return None,
    })
}

/// Anthropic's stop reasons (`reference/apis.md` §8.1).
pub fn stop_reason(reason: Option<&str>) -> StopReason {
    match reason {
        None | Some("end_turn") => StopReason::EndTurn,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("tool_use") => StopReason::ToolUse,
        Some("refusal") => StopReason::Refusal,
        Some("pause_turn") => StopReason::PauseTurn,
        Some("model_context_window_exceeded") => StopReason::ContextWindowExceeded,
        Some(other) => StopReason::Other(other.to_owned()),
    }
}

/// Canonical input counts every prompt token; Anthropic's `input_tokens` excludes cache
/// reads and writes. `known_input` is the input already reported (a stream's
/// `message_start`), used when a later usage leaves it out.
pub fn usage(u: &wire::Usage, known_input: u64) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    let input = match u.input_tokens {
        Some(i) => i + read + write,
        None => known_input,
    };
    Usage {
        input_tokens: input,
        output_tokens: u.output_tokens,
        cache_read_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: 0,
    }
}

pub fn citation(c: &Value) -> Citation {
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let number = |k: &str| c.get(k).and_then(Value::as_u64).map(|n| n as u32);
    Citation {
        source: text("url").or_else(|| {
            c.get("document_index")
                .and_then(Value::as_u64)
                .map(|i| i.to_string())
        }),
        title: text("title").or_else(|| text("document_title")),
        cited_text: text("cited_text"),
        start: number("start_char_index"),
        end: number("end_char_index"),
    }
}
