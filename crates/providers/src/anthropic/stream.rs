//! Anthropic Messages SSE -> canonical stream events.
//!
//! Anthropic numbers blocks itself; blocks with no canonical kind (server-tool blocks) are
//! skipped with their deltas, so canonical indices are renumbered to stay dense. Usage comes
//! in two parts: the input in `message_start`, the cumulative output in `message_delta`.

use std::collections::VecDeque;

use switchyard_types::{BlockKind, Delta, StopReason, StreamEvent, Usage};
use switchyard_wire_anthropic as wire;

use super::response::{citation, stop_reason, usage};
use crate::error::{ProviderError, ProviderErrorKind};

#[derive(Debug, Default)]
pub struct EventDecoder {
    /// Anthropic block index -> canonical index (`None`: skipped block).
    blocks: Vec<(u32, Option<u32>)>,
    next_block: u32,
    usage: Usage,
    stop: Option<(StopReason, Option<String>)>,
    done: bool,
}

impl EventDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one SSE `data:` payload.
    pub fn on_data(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let event: wire::StreamEvent = serde_json::from_str(data).map_err(|e| {
            ProviderError::protocol(format!("upstream sent a malformed stream event: {e}"))
        })?;
        match event {
            wire::StreamEvent::MessageStart { message } => {
                self.usage = usage(&message.usage, 0);
                out.push_back(StreamEvent::MessageStart {
                    id: message.id,
                    model: message.model,
                    created: crate::upstream::unix_now(),
                });
                out.push_back(StreamEvent::Usage { usage: self.usage });
            }
            wire::StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let (kind, initial) = match content_block {
                    wire::ResponseBlock::Text { text, .. } => (Some(BlockKind::Text), text),
                    wire::ResponseBlock::ToolUse { id, name, .. } => (
                        Some(BlockKind::ToolUse {
                            id,
                            name,
                            signature: None,
                        }),
                        String::new(),
                    ),
                    wire::ResponseBlock::Thinking { thinking, .. } => {
                        (Some(BlockKind::Reasoning), thinking)
                    }
                    wire::ResponseBlock::RedactedThinking { data } => {
                        (Some(BlockKind::RedactedReasoning { data }), String::new())
                    }
                    wire::ResponseBlock::Unknown => (None, String::new()),
                };
                let Some(kind) = kind else {
                    self.blocks.push((index, None));
                    return Ok(());
                };
                let canonical = self.next_block;
                self.next_block += 1;
                self.blocks.push((index, Some(canonical)));
                let delta = match &kind {
                    BlockKind::Reasoning => Delta::Reasoning(initial.clone()),
                    _ => Delta::Text(initial.clone()),
                };
                out.push_back(StreamEvent::BlockStart {
                    index: canonical,
                    block: kind,
                });
                if !initial.is_empty() {
                    out.push_back(StreamEvent::BlockDelta {
                        index: canonical,
                        delta,
                    });
                }
            }
            wire::StreamEvent::ContentBlockDelta { index, delta } => {
                let Some(canonical) = self.canonical(index)? else {
                    return Ok(());
                };
                let delta = match delta {
                    wire::BlockDelta::TextDelta { text } => Delta::Text(text),
                    wire::BlockDelta::InputJsonDelta { partial_json } => {
                        if partial_json.is_empty() {
                            return Ok(());
                        }
                        Delta::ToolArguments(partial_json)
                    }
                    wire::BlockDelta::ThinkingDelta { thinking } => Delta::Reasoning(thinking),
                    wire::BlockDelta::SignatureDelta { signature } => {
                        Delta::ReasoningSignature(signature)
                    }
                    wire::BlockDelta::CitationsDelta { citation: c } => {
                        Delta::Citation(citation(&c))
                    }
                    wire::BlockDelta::Unknown => return Ok(()),
                };
                out.push_back(StreamEvent::BlockDelta {
                    index: canonical,
                    delta,
                });
            }
            wire::StreamEvent::ContentBlockStop { index } => {
                if let Some(canonical) = self.canonical(index)? {
                    out.push_back(StreamEvent::BlockStop { index: canonical });
                }
            }
            wire::StreamEvent::MessageDelta { delta, usage: u } => {
                // Cumulative; fields left out keep what `message_start` said.
                let read = u
                    .cache_read_input_tokens
                    .unwrap_or(self.usage.cache_read_tokens);
                let write = u
                    .cache_creation_input_tokens
                    .unwrap_or(self.usage.cache_write_tokens);
                self.usage = Usage {
                    input_tokens: u
                        .input_tokens
                        .map_or(self.usage.input_tokens, |i| i + read + write),
                    output_tokens: u.output_tokens,
                    cache_read_tokens: read,
                    cache_write_tokens: write,
                    reasoning_tokens: 0,
                };
                let reason = stop_reason(delta.stop_reason.as_deref());
                self.stop = Some((reason.clone(), delta.stop_sequence.clone()));
                out.push_back(StreamEvent::MessageStop {
                    stop_reason: reason,
                    stop_sequence: delta.stop_sequence,
                });
                out.push_back(StreamEvent::Usage { usage: self.usage });
            }
            wire::StreamEvent::MessageStop => self.done = true,
            wire::StreamEvent::Ping | wire::StreamEvent::Unknown => {}
            wire::StreamEvent::Error { error } => return Err(stream_error(&error)),
        }
        Ok(())
    }

    /// The upstream closed the connection: complete only after `message_stop`.
    pub fn on_eof(&mut self) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        Err(ProviderError::interrupted(
            "upstream closed the stream before the answer was complete",
        ))
    }

    fn canonical(&self, index: u32) -> Result<Option<u32>, ProviderError> {
        self.blocks
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                ProviderError::protocol(format!(
                    "upstream sent an event for block {index}, which never started"
                ))
            })
    }
}

/// An `error` event: overloaded and API errors keep the status Anthropic would have used, so
/// that before the first byte reached the client they may fall back.
fn stream_error(error: &wire::ErrorDetail) -> ProviderError {
    let kind = match error.kind.as_str() {
        "overloaded_error" => ProviderErrorKind::Status(529),
        "api_error" => ProviderErrorKind::Status(500),
        "rate_limit_error" => ProviderErrorKind::Status(429),
        "timeout_error" => ProviderErrorKind::Status(504),
        _ => ProviderErrorKind::Protocol,
    };
    ProviderError {
        kind,
        message: format!(
            "upstream failed during the stream: {} ({})",
            error.message, error.kind
        ),
        code: Some(error.kind.clone()),
        retry_after: None,
    }
}
