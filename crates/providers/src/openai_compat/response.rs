//! OpenAI-compatible response body -> canonical response.

use switchyard_types::{
    ChatResponse, Citation, ContentBlock, EmbeddingResponse, StopReason, TokenLogprob, Usage,
};
use switchyard_wire_openai as wire;

use crate::error::ProviderError;

/// The canonical stop reason for an OpenAI-compatible `finish_reason`. `had_tool_calls`
/// corrects hosts (Ollama) that finish a tool-calling turn with `stop`.
pub fn stop_reason(finish_reason: Option<&str>, had_tool_calls: bool) -> StopReason {
    match finish_reason {
        Some("stop") | Some("eos") | None if had_tool_calls => StopReason::ToolUse,
        Some("stop") | Some("eos") | Some("eos_token") | None => StopReason::EndTurn,
        Some("length") => StopReason::MaxTokens,
        Some("model_length") => StopReason::ContextWindowExceeded,
        Some("tool_calls") | Some("function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::ContentFilter,
        Some("error") => StopReason::Malformed,
        Some(other) => StopReason::Other(other.to_owned()),
    }
}

pub fn usage(usage: &wire::Usage) -> Usage {
    Usage {
        input_tokens: usage.prompt_tokens,
        output_tokens: usage.completion_tokens,
        cache_read_tokens: usage
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        cache_write_tokens: usage
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cache_write_tokens)
            .unwrap_or(0),
        reasoning_tokens: usage
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
    }
}

/// OpenAI `url_citation` annotations as canonical citations (other kinds carry no source).
pub fn citations(annotations: Option<Vec<wire::Annotation>>) -> Vec<Citation> {
    annotations
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| a.url_citation)
        .map(|u| Citation {
            source: Some(u.url),
            title: Some(u.title).filter(|t| !t.is_empty()),
            cited_text: None,
            start: Some(u.start_index),
            end: Some(u.end_index),
        })
        .collect()
}

pub fn chat_response(body: &[u8]) -> Result<ChatResponse, ProviderError> {
    let completion: wire::ChatCompletion = serde_json::from_slice(body).map_err(|e| {
        ProviderError::protocol(format!("upstream sent an invalid chat.completion: {e}"))
    })?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| ProviderError::protocol("upstream chat.completion has no choices"))?;
    let message = choice.message;
    let mut content = Vec::new();
    if let Some(text) = message.reasoning_content.filter(|t| !t.is_empty()) {
        content.push(ContentBlock::Reasoning {
            text,
            signature: None,
        });
    }
    if let Some(text) = message.content.filter(|t| !t.is_empty()) {
        content.push(ContentBlock::Text {
            text,
            cache_control: None,
            citations: citations(message.annotations),
        });
    }
    if let Some(text) = message.refusal.filter(|t| !t.is_empty()) {
        content.push(ContentBlock::Refusal { text });
    }
    let tool_calls = message.tool_calls.unwrap_or_default();
    let had_tool_calls = !tool_calls.is_empty();
    for call in tool_calls {
        content.push(ContentBlock::ToolUse {
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
            signature: None,
        });
    }
    Ok(ChatResponse {
        id: completion.id,
        model: completion.model,
        created: completion.created,
        content,
        stop_reason: stop_reason(choice.finish_reason.as_deref(), had_tool_calls),
        stop_sequence: None,
        usage: completion.usage.as_ref().map(usage).unwrap_or_default(),
        system_fingerprint: completion.system_fingerprint,
        service_tier: completion.service_tier,
        logprobs: choice.logprobs.as_ref().and_then(logprobs),
    })
}

fn logprobs(value: &serde_json::Value) -> Option<Vec<TokenLogprob>> {
    fn one(v: &serde_json::Value) -> Option<TokenLogprob> {
        Some(TokenLogprob {
            token: v.get("token")?.as_str()?.to_owned(),
            logprob: v.get("logprob")?.as_f64()?,
            bytes: v
                .get("bytes")
                .and_then(|b| serde_json::from_value(b.clone()).ok()),
            top: v
                .get("top_logprobs")
                .and_then(|t| t.as_array())
                .map(|a| a.iter().filter_map(one).collect())
                .unwrap_or_default(),
        })
    }
    let content = value.get("content")?.as_array()?;
    Some(content.iter().filter_map(one).collect())
}

pub fn embeddings_response(
    body: &[u8],
    expected: usize,
) -> Result<EmbeddingResponse, ProviderError> {
    let resp: wire::EmbeddingsResponse = serde_json::from_slice(body).map_err(|e| {
        ProviderError::protocol(format!("upstream sent an invalid embeddings list: {e}"))
    })?;
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in resp.data {
        let index = item.index as usize;
        let vector = match item.embedding {
            wire::Embedding::Float(v) => v,
            wire::Embedding::Base64(_) => {
                return Err(ProviderError::protocol(
                    "upstream sent base64 embeddings although floats were requested",
                ))
            }
        };
        match slots.get_mut(index) {
            Some(slot) => *slot = Some(vector),
            None => {
                return Err(ProviderError::protocol(
                    "upstream embedding index out of range",
                ))
            }
        }
    }
    let embeddings = slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ProviderError::protocol("upstream returned fewer embeddings than inputs"))?;
    Ok(EmbeddingResponse {
        model: resp.model,
        embeddings,
        input_tokens: resp.usage.prompt_tokens,
    })
}
