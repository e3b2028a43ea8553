//! Canonical response -> Anthropic Messages JSON.

use bytes::Bytes;
use serde_json::{json, Value};
use switchyard_types::{ChatResponse, Citation, ContentBlock, StopReason, Usage};
use switchyard_wire_anthropic as wire;

use crate::json::arguments_object;

/// The JSON body of a non-streamed answer.
pub fn encode_message_response(response: &ChatResponse) -> Bytes {
    let body = wire::MessageResponse {
        id: message_id(&response.id),
        kind: "message".to_owned(),
        role: "assistant".to_owned(),
        model: response.model.clone(),
        content: response.content.iter().filter_map(block_to_wire).collect(),
        stop_reason: Some(stop_reason(&response.stop_reason).to_owned()),
        stop_sequence: response.stop_sequence.clone(),
        usage: usage_to_wire(&response.usage),
    };
    to_bytes(&body)
}

/// `{"input_tokens": N}` for `POST /v1/messages/count_tokens`.
pub fn encode_count_tokens(input_tokens: u64) -> Bytes {
    to_bytes(&wire::CountTokensResponse { input_tokens })
}

/// `GET /v1/models` for Anthropic clients: `(id, created unix seconds)` pairs.
pub fn encode_model_list<'a>(models: impl Iterator<Item = (&'a str, u64)>) -> Bytes {
    let data: Vec<Value> = models
        .map(|(id, created)| {
            json!({
                "type": "model",
                "id": id,
                "display_name": id,
                "created_at": rfc3339(created),
            })
        })
        .collect();
    let first = data.first().and_then(|m| m.get("id")).cloned();
    let last = data.last().and_then(|m| m.get("id")).cloned();
    to_bytes(&json!({
        "data": data,
        "has_more": false,
        "first_id": first,
        "last_id": last,
    }))
}

/// Anthropic message ids start with `msg_`; other providers' ids are kept behind the prefix.
pub(crate) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else if id.is_empty() {
        "msg_switchyard".to_owned()
    } else {
        format!("msg_{id}")
    }
}

/// The `stop_reason` for each canonical reason (`reference/apis.md` §8.1).
pub fn stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::Malformed | StopReason::Other(_) => "end_turn",
        StopReason::StopSequence => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFilter | StopReason::Refusal => "refusal",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
        StopReason::PauseTurn => "pause_turn",
    }
}

/// Anthropic's `input_tokens` excludes cache reads and writes; canonical input counts all.
pub(crate) fn usage_to_wire(usage: &Usage) -> wire::Usage {
    let cached = usage.cache_read_tokens + usage.cache_write_tokens;
    wire::Usage {
        input_tokens: Some(usage.input_tokens.saturating_sub(cached)),
        output_tokens: usage.output_tokens,
        cache_creation_input_tokens: Some(usage.cache_write_tokens),
        cache_read_input_tokens: Some(usage.cache_read_tokens),
    }
}

fn block_to_wire(block: &ContentBlock) -> Option<wire::ResponseBlock> {
    Some(match block {
        ContentBlock::Text {
            text, citations, ..
        } => wire::ResponseBlock::Text {
            text: text.clone(),
            citations: (!citations.is_empty())
                .then(|| citations.iter().map(citation_to_wire).collect()),
        },
        ContentBlock::Refusal { text } => wire::ResponseBlock::Text {
            text: text.clone(),
            citations: None,
        },
        ContentBlock::ToolUse {
            id,
            name,
            arguments,
            ..
        } => wire::ResponseBlock::ToolUse {
            id: id.clone(),
            name: name.clone(),
            input: arguments_object(arguments),
        },
        ContentBlock::Reasoning { text, signature } => wire::ResponseBlock::Thinking {
            thinking: text.clone(),
            signature: signature.clone().unwrap_or_default(),
        },
        ContentBlock::RedactedReasoning { data } => {
            wire::ResponseBlock::RedactedThinking { data: data.clone() }
        }
        // Inputs only; never part of an answer.
        ContentBlock::Image { .. }
        | ContentBlock::Audio { .. }
        | ContentBlock::Document { .. }
        | ContentBlock::ToolResult { .. } => return None,
    })
}

/// A URL source is a web citation; anything else a character range in a supplied document.
pub(crate) fn citation_to_wire(c: &Citation) -> Value {
    match c.source.as_deref() {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => json!({
            "type": "web_search_result_location",
            "url": url,
            "title": c.title,
            "cited_text": c.cited_text.clone().unwrap_or_default(),
            "encrypted_index": "",
        }),
        source => json!({
            "type": "char_location",
            "cited_text": c.cited_text.clone().unwrap_or_default(),
            "document_index": source.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
            "document_title": c.title,
            "start_char_index": c.start.unwrap_or(0),
            "end_char_index": c.end.unwrap_or(0),
        }),
    }
}

fn rfc3339(unix: u64) -> String {
    let ms = i64::try_from(unix.saturating_mul(1000)).unwrap_or(i64::MAX);
    switchyard_types::calendar::format_rfc3339(ms, false)
}

fn to_bytes<T: serde::Serialize>(value: &T) -> Bytes {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(1_795_910_400), "2026-11-29T00:00:00Z");
    }
}
