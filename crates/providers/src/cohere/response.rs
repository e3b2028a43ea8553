//! Cohere v2 answers -> canonical: the chat response, and the stream's kebab-case events
//! (`message-start`, `content-start/delta/end`, `tool-call-start/delta/end`,
//! `message-end` with the finish reason and the only usage).

use std::collections::VecDeque;

use serde_json::Value;
use switchyard_types::{
    BlockKind, ChatResponse, ContentBlock, Delta, StopReason, StreamEvent, Usage,
};

use crate::error::ProviderError;

pub fn finish_reason(reason: Option<&str>) -> StopReason {
    match reason {
        None | Some("COMPLETE") => StopReason::EndTurn,
        Some("STOP_SEQUENCE") => StopReason::StopSequence,
        Some("MAX_TOKENS") => StopReason::MaxTokens,
        Some("TOOL_CALL") => StopReason::ToolUse,
        Some(other) => StopReason::Other(other.to_owned()),
    }
}

/// `usage.tokens` when present (what the model processed), else the billed units.
pub fn usage(u: &Value) -> Usage {
    let counts = if u["tokens"].is_object() {
        &u["tokens"]
    } else {
        &u["billed_units"]
    };
    Usage {
        input_tokens: counts["input_tokens"].as_f64().unwrap_or(0.0) as u64,
        output_tokens: counts["output_tokens"].as_f64().unwrap_or(0.0) as u64,
        cache_read_tokens: u["cached_tokens"].as_f64().unwrap_or(0.0) as u64,
        ..Usage::default()
    }
}

pub fn chat_response(body: &[u8], model: &str) -> Result<ChatResponse, ProviderError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ProviderError::protocol(format!("upstream sent a malformed Cohere response: {e}"))
    })?;
    let message = &v["message"];
    let mut content = Vec::new();
    for part in message["content"].as_array().into_iter().flatten() {
        match part["type"].as_str() {
            Some("text") => content.push(ContentBlock::text(
                part["text"].as_str().unwrap_or_default().to_owned(),
            )),
            Some("thinking") => content.push(ContentBlock::Reasoning {
                text: part["thinking"].as_str().unwrap_or_default().to_owned(),
                signature: None,
            }),
            _ => {}
        }
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        content.push(ContentBlock::ToolUse {
            id: call["id"].as_str().unwrap_or_default().to_owned(),
            name: call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            arguments: call["function"]["arguments"]
                .as_str()
                .unwrap_or("{}")
                .to_owned(),
            signature: None,
        });
    }
    Ok(ChatResponse {
        id: v["id"].as_str().unwrap_or("cohere-chat").to_owned(),
        model: model.to_owned(),
        created: crate::upstream::unix_now(),
        content,
        stop_reason: finish_reason(v["finish_reason"].as_str()),
        stop_sequence: None,
        usage: usage(&v["usage"]),
        system_fingerprint: None,
        service_tier: None,
        logprobs: None,
    })
}

/// Stream events -> canonical. Cohere numbers content and tool calls separately; canonical
/// blocks are numbered in the order they start.
#[derive(Debug, Default)]
pub struct EventDecoder {
    model: String,
    open: Option<u32>,
    next_block: u32,
    done: bool,
}

impl EventDecoder {
    pub fn new(model: &str) -> Self {
        EventDecoder {
            model: model.to_owned(),
            ..Self::default()
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn on_data(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        if data == "[DONE]" {
            return Ok(());
        }
        let v: Value = serde_json::from_str(data).map_err(|e| {
            ProviderError::protocol(format!("upstream sent a malformed stream event: {e}"))
        })?;
        let delta = &v["delta"]["message"];
        match v["type"].as_str() {
            Some("message-start") => out.push_back(StreamEvent::MessageStart {
                id: v["id"].as_str().unwrap_or("cohere-chat").to_owned(),
                model: self.model.clone(),
                created: crate::upstream::unix_now(),
            }),
            Some("content-start") => {
                let thinking = delta["content"]["type"] == "thinking";
                self.start(
                    if thinking {
                        BlockKind::Reasoning
                    } else {
                        BlockKind::Text
                    },
                    out,
                );
            }
            Some("content-delta") => {
                let index = self.current(out);
                let content = &delta["content"];
                let d = match (content["text"].as_str(), content["thinking"].as_str()) {
                    (Some(t), _) => Delta::Text(t.to_owned()),
                    (None, Some(t)) => Delta::Reasoning(t.to_owned()),
                    _ => return Ok(()),
                };
                out.push_back(StreamEvent::BlockDelta { index, delta: d });
            }
            Some("tool-call-start") => {
                let call = &delta["tool_calls"];
                self.start(
                    BlockKind::ToolUse {
                        id: call["id"].as_str().unwrap_or_default().to_owned(),
                        name: call["function"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        signature: None,
                    },
                    out,
                );
                if let Some(args) = call["function"]["arguments"]
                    .as_str()
                    .filter(|a| !a.is_empty())
                {
                    let index = self.current(out);
                    out.push_back(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::ToolArguments(args.to_owned()),
                    });
                }
            }
            Some("tool-call-delta") => {
                if let Some(args) = delta["tool_calls"]["function"]["arguments"].as_str() {
                    let index = self.current(out);
                    out.push_back(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::ToolArguments(args.to_owned()),
                    });
                }
            }
            Some("content-end") | Some("tool-call-end") => self.close(out),
            Some("message-end") => {
                self.close(out);
                self.done = true;
                let d = &v["delta"];
                if let Some(err) = d["error"].as_str().filter(|e| !e.is_empty()) {
                    return Err(ProviderError::protocol(format!(
                        "upstream failed during the stream: {err}"
                    )));
                }
                out.push_back(StreamEvent::MessageStop {
                    stop_reason: finish_reason(d["finish_reason"].as_str()),
                    stop_sequence: None,
                });
                out.push_back(StreamEvent::Usage {
                    usage: usage(&d["usage"]),
                });
            }
            // tool-plan-delta, citation-start/end, and future events.
            _ => {}
        }
        Ok(())
    }

    pub fn on_eof(&mut self) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        Err(ProviderError::interrupted(
            "upstream closed the stream before the answer was complete",
        ))
    }

    fn start(&mut self, block: BlockKind, out: &mut VecDeque<StreamEvent>) {
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some(index);
        out.push_back(StreamEvent::BlockStart { index, block });
    }

    /// The open block; a delta with none open opens a text block.
    fn current(&mut self, out: &mut VecDeque<StreamEvent>) -> u32 {
        match self.open {
            Some(index) => index,
            None => {
                self.start(BlockKind::Text, out);
                self.next_block - 1
            }
        }
    }

    fn close(&mut self, out: &mut VecDeque<StreamEvent>) {
        if let Some(index) = self.open.take() {
            out.push_back(StreamEvent::BlockStop { index });
        }
    }
}
