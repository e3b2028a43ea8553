//! Canonical answers -> Bedrock Converse JSON, and errors.

use bytes::Bytes;
use serde_json::{json, Value};
use switchyard_types::{ChatResponse, ContentBlock, StopReason, Usage};

use crate::error::{ErrorClass, GatewayError};
use crate::json::arguments_object;

/// The body of a non-streamed Converse answer.
pub fn encode_converse_response(response: &ChatResponse, latency_ms: u64) -> Bytes {
    let content: Vec<Value> = response.content.iter().filter_map(block).collect();
    let body = json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(&response.stop_reason),
        "usage": usage(&response.usage),
        "metrics": {"latencyMs": latency_ms},
    });
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}

/// Bedrock's `stopReason` (`reference/apis.md` §8.1).
pub fn stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::PauseTurn | StopReason::Other(_) => "end_turn",
        StopReason::StopSequence => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFilter | StopReason::Refusal => "content_filtered",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
        StopReason::Malformed => "malformed_model_output",
    }
}

/// `inputTokens` excludes cache reads and writes, as Bedrock reports Claude's.
pub(crate) fn usage(u: &Usage) -> Value {
    let input = u
        .input_tokens
        .saturating_sub(u.cache_read_tokens + u.cache_write_tokens);
    json!({
        "inputTokens": input,
        "outputTokens": u.output_tokens,
        "totalTokens": input + u.output_tokens,
        "cacheReadInputTokens": u.cache_read_tokens,
        "cacheWriteInputTokens": u.cache_write_tokens,
    })
}

fn block(b: &ContentBlock) -> Option<Value> {
    Some(match b {
        ContentBlock::Text { text, .. } | ContentBlock::Refusal { text } => json!({"text": text}),
        ContentBlock::ToolUse {
            id,
            name,
            arguments,
            ..
        } => {
            json!({"toolUse": {"toolUseId": id, "name": name, "input": arguments_object(arguments)}})
        }
        ContentBlock::Reasoning { text, signature } => {
            let mut t = json!({"text": text});
            if let Some(s) = signature {
                t["signature"] = Value::String(s.clone());
            }
            json!({"reasoningContent": {"reasoningText": t}})
        }
        ContentBlock::RedactedReasoning { data } => {
            json!({"reasoningContent": {"redactedContent": data}})
        }
        _ => return None,
    })
}

/// The AWS error code (`x-amzn-ErrorType`, exception frame type) for each class.
pub fn error_code(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::MethodNotAllowed | ErrorClass::PayloadTooLarge => {
            "ValidationException"
        }
        ErrorClass::Authentication => "UnrecognizedClientException",
        ErrorClass::PermissionDenied => "AccessDeniedException",
        ErrorClass::NotFound => "ResourceNotFoundException",
        ErrorClass::RateLimited => "ThrottlingException",
        ErrorClass::UpstreamError => "ModelErrorException",
        ErrorClass::UpstreamUnavailable => "ServiceUnavailableException",
        ErrorClass::UpstreamTimeout => "ModelTimeoutException",
        ErrorClass::Internal => "InternalServerException",
    }
}

/// `{"message": ...}`; the code travels in the `x-amzn-ErrorType` header.
pub fn encode_error(err: &GatewayError) -> Bytes {
    serde_json::to_vec(&json!({"message": err.message}))
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(br#"{"message":"internal error"}"#))
}
