//! Gemini `GenerateContentResponse` -> canonical response and stream events.

use std::collections::VecDeque;

use switchyard_types::{
    BlockKind, ChatResponse, ContentBlock, Delta, StopReason, StreamEvent, Usage,
};
use switchyard_wire_gemini as wire;

use crate::error::ProviderError;

pub fn chat_response(body: &[u8], model: &str) -> Result<ChatResponse, ProviderError> {
    let response: wire::GenerateContentResponse = serde_json::from_slice(body).map_err(|e| {
        ProviderError::protocol(format!(
            "upstream sent a malformed generateContent response: {e}"
        ))
    })?;
    let mut content = Vec::new();
    let mut calls = 0;
    let candidate = response.candidates.first();
    for part in candidate
        .and_then(|c| c.content.as_ref())
        .map(|c| c.parts.clone())
        .unwrap_or_default()
    {
        if let Some(call) = part.function_call {
            content.push(ContentBlock::ToolUse {
                id: call.id.unwrap_or_else(|| format!("call_{calls}")),
                name: call.name,
                arguments: call
                    .args
                    .unwrap_or_else(|| serde_json::json!({}))
                    .to_string(),
                signature: part.thought_signature,
            });
            calls += 1;
        } else if let Some(text) = part.text {
            if part.thought == Some(true) {
                content.push(ContentBlock::Reasoning {
                    text,
                    signature: part.thought_signature,
                });
            } else {
                content.push(ContentBlock::text(text));
            }
        }
    }
    let stop_reason = match candidate {
        Some(c) => finish_reason(c.finish_reason.as_deref(), calls > 0),
        // No candidate: the prompt itself was blocked.
        None if response.prompt_feedback.is_some() => StopReason::ContentFilter,
        None => {
            return Err(ProviderError::protocol(
                "upstream answered with no candidate and no reason",
            ))
        }
    };
    Ok(ChatResponse {
        id: response
            .response_id
            .unwrap_or_else(|| "gemini-response".to_owned()),
        model: response.model_version.unwrap_or_else(|| model.to_owned()),
        created: crate::upstream::unix_now(),
        content,
        stop_reason,
        stop_sequence: None,
        usage: usage(response.usage_metadata.as_ref()),
        system_fingerprint: None,
        service_tier: None,
        logprobs: None,
    })
}

/// Gemini's `finishReason` (`reference/apis.md` §8.1); a function-call turn says `STOP`.
pub fn finish_reason(reason: Option<&str>, called: bool) -> StopReason {
    match reason {
        None | Some("STOP") | Some("FINISH_REASON_UNSPECIFIED") if called => StopReason::ToolUse,
        None | Some("STOP") | Some("FINISH_REASON_UNSPECIFIED") => StopReason::EndTurn,
        Some("MAX_TOKENS") => StopReason::MaxTokens,
        Some(
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION",
        ) => StopReason::ContentFilter,
        Some("MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" | "TOO_MANY_TOOL_CALLS") => {
            StopReason::Malformed
        }
        Some(other) => StopReason::Other(other.to_owned()),
    }
}

/// Thoughts are counted apart from the answer; canonically they are part of the output.
pub fn usage(u: Option<&wire::UsageMetadata>) -> Usage {
    let Some(u) = u else {
        return Usage::default();
    };
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    Usage {
        input_tokens: u.prompt_token_count,
        output_tokens: u.candidates_token_count + thoughts,
        cache_read_tokens: u.cached_content_token_count.unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: thoughts,
    }
}

/// Streamed responses -> canonical events. Text and thoughts open blocks that later chunks
/// continue; each function call is a whole block (start, one arguments delta, stop).
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    open: Option<(bool, u32)>,
    next_block: u32,
    calls: u32,
    finish: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on_data(
        &mut self,
        data: &str,
        model: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let chunk: wire::GenerateContentResponse = serde_json::from_str(data).map_err(|e| {
            ProviderError::protocol(format!("upstream sent a malformed stream chunk: {e}"))
        })?;
        if !self.started {
            self.started = true;
            out.push_back(StreamEvent::MessageStart {
                id: chunk
                    .response_id
                    .clone()
                    .unwrap_or_else(|| "gemini-response".to_owned()),
                model: chunk
                    .model_version
                    .clone()
                    .unwrap_or_else(|| model.to_owned()),
                created: crate::upstream::unix_now(),
            });
        }
        if chunk.usage_metadata.is_some() {
            self.usage = Some(usage(chunk.usage_metadata.as_ref()));
        }
        if chunk.candidates.is_empty() && chunk.prompt_feedback.is_some() {
            self.finish = Some("SAFETY".to_owned());
        }
        for candidate in chunk.candidates {
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                if let Some(call) = part.function_call {
                    self.close(out);
                    let index = self.next_block;
                    self.next_block += 1;
                    out.push_back(StreamEvent::BlockStart {
                        index,
                        block: BlockKind::ToolUse {
                            id: call.id.unwrap_or_else(|| format!("call_{}", self.calls)),
                            name: call.name,
                            signature: part.thought_signature,
                        },
                    });
                    out.push_back(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::ToolArguments(
                            call.args
                                .unwrap_or_else(|| serde_json::json!({}))
                                .to_string(),
                        ),
                    });
                    out.push_back(StreamEvent::BlockStop { index });
                    self.calls += 1;
                } else if let Some(text) = part.text {
                    let thought = part.thought == Some(true);
                    let index = self.ensure(thought, out);
                    if !text.is_empty() {
                        let delta = if thought {
                            Delta::Reasoning(text)
                        } else {
                            Delta::Text(text)
                        };
                        out.push_back(StreamEvent::BlockDelta { index, delta });
                    }
                    if let Some(signature) = part.thought_signature.filter(|_| thought) {
                        out.push_back(StreamEvent::BlockDelta {
                            index,
                            delta: Delta::ReasoningSignature(signature),
                        });
                    }
                }
            }
            if let Some(reason) = candidate.finish_reason {
                self.finish = Some(reason);
            }
        }
        Ok(())
    }

    /// End of the body: complete only if a finish reason arrived.
    pub fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        let Some(reason) = self.finish.take() else {
            return Err(ProviderError::interrupted(
                "upstream closed the stream before the answer was complete",
            ));
        };
        self.done = true;
        self.close(out);
        out.push_back(StreamEvent::MessageStop {
            stop_reason: finish_reason(Some(&reason), self.calls > 0),
            stop_sequence: None,
        });
        out.push_back(StreamEvent::Usage {
            usage: self.usage.unwrap_or_default(),
        });
        Ok(())
    }

    fn ensure(&mut self, thought: bool, out: &mut VecDeque<StreamEvent>) -> u32 {
        if let Some((open_thought, index)) = self.open {
            if open_thought == thought {
                return index;
            }
        }
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((thought, index));
        let block = if thought {
            BlockKind::Reasoning
        } else {
            BlockKind::Text
        };
        out.push_back(StreamEvent::BlockStart { index, block });
        index
    }

    fn close(&mut self, out: &mut VecDeque<StreamEvent>) {
        if let Some((_, index)) = self.open.take() {
            out.push_back(StreamEvent::BlockStop { index });
        }
    }
}
