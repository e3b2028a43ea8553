//! Canonical answers -> Gemini JSON: `GenerateContentResponse`, token counts, embeddings,
//! model lists.

use bytes::Bytes;
use switchyard_types::{ChatResponse, ContentBlock, EmbeddingResponse, StopReason, Usage};
use switchyard_wire_gemini as wire;

use crate::json::arguments_object;

/// The body of a non-streamed answer.
pub fn encode_generate_response(response: &ChatResponse) -> Bytes {
    let parts = response.content.iter().filter_map(part).collect();
    let body = wire::GenerateContentResponse {
        candidates: vec![wire::Candidate {
            content: Some(wire::Content {
                role: Some("model".to_owned()),
                parts,
            }),
            finish_reason: Some(finish_reason(&response.stop_reason).to_owned()),
            index: Some(0),
            citation_metadata: None,
        }],
        prompt_feedback: None,
        usage_metadata: Some(usage_metadata(&response.usage)),
        model_version: Some(response.model.clone()),
        response_id: Some(response.id.clone()),
    };
    to_bytes(&body)
}

/// `{"totalTokens": N}`.
pub fn encode_count_tokens(total: u64) -> Bytes {
    to_bytes(&wire::CountTokensResponse {
        total_tokens: total,
    })
}

/// `:embedContent` answers one embedding, `:batchEmbedContents` a list.
pub fn encode_embed_response(response: &EmbeddingResponse, batch: bool) -> Bytes {
    let mut embeddings: Vec<wire::ContentEmbedding> = response
        .embeddings
        .iter()
        .map(|v| wire::ContentEmbedding { values: v.clone() })
        .collect();
    if batch {
        return to_bytes(&wire::BatchEmbedResponse { embeddings });
    }
    match embeddings.pop() {
        Some(embedding) => to_bytes(&wire::EmbedResponse { embedding }),
        None => to_bytes(&wire::BatchEmbedResponse { embeddings }),
    }
}

/// `GET /v1beta/models`.
pub fn encode_model_list<'a>(models: impl Iterator<Item = &'a str>) -> Bytes {
    let methods = [
        "generateContent",
        "streamGenerateContent",
        "countTokens",
        "embedContent",
        "batchEmbedContents",
    ];
    to_bytes(&wire::ModelList {
        models: models
            .map(|name| wire::ModelInfo {
                name: format!("models/{name}"),
                display_name: name.to_owned(),
                supported_generation_methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            })
            .collect(),
    })
}

/// Gemini's `finishReason`. A function-call turn ends with `STOP`, as Gemini's own does.
pub fn finish_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::ToolUse => "STOP",
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "MAX_TOKENS",
        StopReason::ContentFilter | StopReason::Refusal => "SAFETY",
        StopReason::Malformed => "MALFORMED_FUNCTION_CALL",
        StopReason::PauseTurn | StopReason::Other(_) => "OTHER",
    }
}

/// Gemini counts thoughts apart from the answer (`candidatesTokenCount` excludes them).
pub(crate) fn usage_metadata(usage: &Usage) -> wire::UsageMetadata {
    wire::UsageMetadata {
        prompt_token_count: usage.input_tokens,
        cached_content_token_count: (usage.cache_read_tokens > 0)
            .then_some(usage.cache_read_tokens),
        candidates_token_count: usage.output_tokens.saturating_sub(usage.reasoning_tokens),
        thoughts_token_count: (usage.reasoning_tokens > 0).then_some(usage.reasoning_tokens),
        total_token_count: usage.input_tokens + usage.output_tokens,
    }
}

fn part(block: &ContentBlock) -> Option<wire::Part> {
    Some(match block {
        ContentBlock::Text { text, .. } | ContentBlock::Refusal { text } => wire::Part {
            text: Some(text.clone()),
            ..Default::default()
        },
        ContentBlock::Reasoning { text, signature } => wire::Part {
            text: Some(text.clone()),
            thought: Some(true),
            thought_signature: signature.clone(),
            ..Default::default()
        },
        ContentBlock::ToolUse {
            id,
            name,
            arguments,
            signature,
        } => function_call_part(id, name, arguments, signature.clone()),
        _ => return None,
    })
}

pub(crate) fn function_call_part(
    id: &str,
    name: &str,
    arguments: &str,
    signature: Option<String>,
) -> wire::Part {
    let args = arguments_object(arguments);
    wire::Part {
        function_call: Some(wire::FunctionCall {
            id: (!id.is_empty()).then(|| id.to_owned()),
            name: name.to_owned(),
            args: Some(args),
        }),
        thought_signature: signature,
        ..Default::default()
    }
}

pub(crate) fn to_bytes<T: serde::Serialize>(value: &T) -> Bytes {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}
