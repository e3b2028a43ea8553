//! Canonical response -> OpenAI JSON.

use base64::Engine as _;
use bytes::Bytes;
use switchyard_types::{
    ChatResponse, Citation, ContentBlock, EmbeddingResponse, EncodingFormat, StopReason,
    TokenLogprob, Usage,
};
use switchyard_wire_openai as wire;

/// OpenAI's `finish_reason` for a canonical stop reason.
pub fn finish_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::PauseTurn => "stop",
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter | StopReason::Refusal => "content_filter",
        StopReason::Malformed | StopReason::Other(_) => "stop",
    }
}

pub(crate) fn usage_to_wire(usage: &Usage) -> wire::Usage {
    wire::Usage {
        prompt_tokens: usage.input_tokens,
        completion_tokens: usage.output_tokens,
        total_tokens: usage.total_tokens(),
        prompt_tokens_details: Some(wire::UsagePromptDetails {
            cached_tokens: Some(usage.cache_read_tokens),
            cache_write_tokens: (usage.cache_write_tokens > 0).then_some(usage.cache_write_tokens),
        }),
        completion_tokens_details: Some(wire::UsageCompletionDetails {
            reasoning_tokens: Some(usage.reasoning_tokens),
        }),
    }
}

/// The `chat.completion` body for a finished answer.
pub fn encode_chat_response(resp: &ChatResponse) -> Bytes {
    let mut text: Option<String> = None;
    let mut refusal: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut tool_calls = Vec::new();
    let mut annotations = Vec::new();
    for block in &resp.content {
        match block {
            ContentBlock::Text {
                text: t, citations, ..
            } => {
                let text = text.get_or_insert_with(String::new);
                // Citation ranges are relative to their block; the message joins the blocks.
                let offset = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
                annotations.extend(citations.iter().filter_map(|c| annotation(c, offset)));
                text.push_str(t);
            }
            ContentBlock::Refusal { text: t } => {
                refusal.get_or_insert_with(String::new).push_str(t)
            }
            ContentBlock::Reasoning { text: t, .. } => {
                reasoning.get_or_insert_with(String::new).push_str(t)
            }
            ContentBlock::ToolUse {
                id,
                name,
                arguments,
                ..
            } => tool_calls.push(wire::ToolCall {
                id: id.clone(),
                kind: "function".to_owned(),
                function: wire::FunctionCall {
                    name: name.clone(),
                    arguments: arguments.clone(),
                },
            }),
            // Nothing in OpenAI's response can carry these.
            ContentBlock::RedactedReasoning { .. }
            | ContentBlock::Image { .. }
            | ContentBlock::Audio { .. }
            | ContentBlock::Document { .. }
            | ContentBlock::ToolResult { .. } => {}
        }
    }
    let body = wire::ChatCompletion {
        id: resp.id.clone(),
        object: "chat.completion".to_owned(),
        created: resp.created,
        model: resp.model.clone(),
        choices: vec![wire::Choice {
            index: 0,
            message: wire::ResponseMessage {
                role: "assistant".to_owned(),
                content: text,
                refusal,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                reasoning_content: reasoning,
                annotations: (!annotations.is_empty()).then_some(annotations),
            },
            finish_reason: Some(finish_reason(&resp.stop_reason).to_owned()),
            logprobs: resp.logprobs.as_deref().map(logprobs_to_wire),
        }],
        usage: Some(usage_to_wire(&resp.usage)),
        system_fingerprint: resp.system_fingerprint.clone(),
        service_tier: resp.service_tier.clone(),
    };
    to_bytes(&body)
}

/// A citation as an OpenAI `url_citation`, when it has what one needs: a source and a range
/// in the answer. Others (a quoted document passage) have no OpenAI form.
pub(crate) fn annotation(citation: &Citation, offset: u32) -> Option<wire::Annotation> {
    Some(wire::Annotation {
        kind: "url_citation".to_owned(),
        url_citation: Some(wire::UrlCitation {
            start_index: citation.start?.saturating_add(offset),
            end_index: citation.end?.saturating_add(offset),
            url: citation.source.clone()?,
            title: citation.title.clone().unwrap_or_default(),
        }),
    })
}

fn logprobs_to_wire(tokens: &[TokenLogprob]) -> serde_json::Value {
    fn one(t: &TokenLogprob, with_top: bool) -> serde_json::Value {
        let mut v = serde_json::json!({
            "token": t.token,
            "logprob": t.logprob,
            "bytes": t.bytes,
        });
        if with_top {
            v["top_logprobs"] = t.top.iter().map(|a| one(a, false)).collect();
        }
        v
    }
    serde_json::json!({
        "content": tokens.iter().map(|t| one(t, true)).collect::<Vec<_>>(),
        "refusal": null,
    })
}

/// The `list` body for `POST /v1/embeddings`.
pub fn encode_embeddings_response(resp: &EmbeddingResponse, format: EncodingFormat) -> Bytes {
    let data = resp
        .embeddings
        .iter()
        .enumerate()
        .map(|(index, vector)| wire::EmbeddingData {
            object: "embedding".to_owned(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            embedding: match format {
                EncodingFormat::Float => wire::Embedding::Float(vector.clone()),
                EncodingFormat::Base64 => {
                    let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                    wire::Embedding::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
            },
        })
        .collect();
    to_bytes(&wire::EmbeddingsResponse {
        object: "list".to_owned(),
        data,
        model: resp.model.clone(),
        usage: wire::EmbeddingUsage {
            prompt_tokens: resp.input_tokens,
            total_tokens: resp.input_tokens,
        },
    })
}

/// The `GET /v1/models` body: `(id, owned_by, created)` per model.
pub fn encode_model_list<'a>(models: impl Iterator<Item = (&'a str, &'a str, u64)>) -> Bytes {
    to_bytes(&wire::ModelList {
        object: "list".to_owned(),
        data: models
            .map(|(id, owned_by, created)| wire::Model {
                id: id.to_owned(),
                object: "model".to_owned(),
                created,
                owned_by: owned_by.to_owned(),
            })
            .collect(),
    })
}

pub(crate) fn to_bytes<T: serde::Serialize>(value: &T) -> Bytes {
    // The wire structs hold only strings, numbers and JSON values: serialization cannot fail.
    serde_json::to_vec(value)
        .map(Bytes::from)
        .unwrap_or_default()
}
