//! Converse answer -> canonical response.

use switchyard_types::{ChatResponse, ContentBlock, StopReason, Usage};
use switchyard_wire_bedrock as wire;

use crate::error::ProviderError;

/// `id`: the request id Bedrock answered with (`x-amzn-requestid`); `model`: the model id
/// the request named (Converse answers do not repeat it).
pub fn chat_response(body: &[u8], id: String, model: &str) -> Result<ChatResponse, ProviderError> {
    let answer: wire::ConverseResponse = serde_json::from_slice(body).map_err(|e| {
        ProviderError::protocol(format!("upstream sent a malformed Converse response: {e}"))
    })?;
    let content = answer
        .output
        .message
        .map(|m| m.content)
        .unwrap_or_default()
        .into_iter()
        .filter_map(block)
        .collect();
    Ok(ChatResponse {
        id,
        model: model.to_owned(),
        created: crate::upstream::unix_now(),
        content,
        stop_reason: stop_reason(&answer.stop_reason),
        stop_sequence: None,
        usage: answer.usage.as_ref().map(usage).unwrap_or_default(),
        system_fingerprint: None,
        service_tier: None,
        logprobs: None,
    })
}

fn block(b: wire::OutputBlock) -> Option<ContentBlock> {
    if let Some(text) = b.text {
        return Some(ContentBlock::text(text));
    }
    if let Some(call) = b.tool_use {
        return Some(ContentBlock::ToolUse {
            id: call.tool_use_id,
            name: call.name,
            arguments: call.input.to_string(),
            signature: None,
        });
    }
    let reasoning = b.reasoning_content?;
    if let Some(t) = reasoning.reasoning_text {
        return Some(ContentBlock::Reasoning {
            text: t.text,
            signature: t.signature.filter(|s| !s.is_empty()),
        });
    }
    // Other block kinds (citations, future ones): nothing canonical carries them.
    reasoning
        .redacted_content
        .map(|data| ContentBlock::RedactedReasoning { data })
}

/// Bedrock's stop reasons (`reference/apis.md` §8.1).
pub fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "stop_sequence" => StopReason::StopSequence,
        "max_tokens" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "guardrail_intervened" | "content_filtered" => StopReason::ContentFilter,
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        "malformed_model_output" | "malformed_tool_use" => StopReason::Malformed,
        other => StopReason::Other(other.to_owned()),
    }
}

/// Canonical input counts every prompt token; Bedrock's `inputTokens` excludes cache reads
/// and writes.
pub fn usage(u: &wire::TokenUsage) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_write_input_tokens.unwrap_or(0);
    Usage {
        input_tokens: u.input_tokens + read + write,
        output_tokens: u.output_tokens,
        cache_read_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: 0,
    }
}
