//! Canonical stream events -> Anthropic Messages SSE.
//!
//! `message_start` (followed by a `ping`, as Anthropic sends), then per block
//! `content_block_start` / `content_block_delta`* / `content_block_stop`, then one
//! `message_delta` with the stop reason and the cumulative usage, then `message_stop`.
//! `message_start` waits for the first block so that usage a provider reports before any
//! content (the prompt tokens) is in it; the final usage goes out in `message_delta`,
//! whatever order the provider reported usage and stop in.

use bytes::{BufMut, BytesMut};
use serde_json::Value;
use switchyard_types::{BlockKind, Delta, StopReason, StreamEvent, Usage};
use switchyard_wire_anthropic as wire;

use super::encode::{citation_to_wire, message_id, stop_reason, usage_to_wire};
use super::error::error_detail;
use crate::error::GatewayError;

/// Turns canonical events into SSE bytes for an Anthropic client.
#[derive(Debug)]
pub struct MessageStreamEncoder {
    id: String,
    model: String,
    started: bool,
    usage: Option<Usage>,
    stop: Option<(StopReason, Option<String>)>,
    finished: bool,
}

impl MessageStreamEncoder {
    /// `id` and `model` are used until the provider's `MessageStart` says otherwise.
    pub fn new(id: String, model: String) -> Self {
        MessageStreamEncoder {
            id,
            model,
            started: false,
            usage: None,
            stop: None,
            finished: false,
        }
    }

    /// Appends the SSE bytes for one event (possibly none) to `out`.
    pub fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        match event {
            StreamEvent::MessageStart { id, model, .. } => {
                if !id.is_empty() {
                    self.id = id;
                }
                if !model.is_empty() {
                    self.model = model;
                }
            }
            StreamEvent::Usage { usage } => self.usage = Some(usage),
            StreamEvent::MessageStop {
                stop_reason,
                stop_sequence,
            } => self.stop = Some((stop_reason, stop_sequence)),
            StreamEvent::BlockStart { index, block } => {
                self.start(out);
                let content_block = match block {
                    BlockKind::Text | BlockKind::Refusal => wire::ResponseBlock::Text {
                        text: String::new(),
                        citations: None,
                    },
                    BlockKind::ToolUse { id, name, .. } => wire::ResponseBlock::ToolUse {
                        id,
                        name,
                        input: Value::Object(Default::default()),
                    },
                    BlockKind::Reasoning => wire::ResponseBlock::Thinking {
                        thinking: String::new(),
                        signature: String::new(),
                    },
                    BlockKind::RedactedReasoning { data } => {
                        wire::ResponseBlock::RedactedThinking { data }
                    }
                };
                write(
                    out,
                    &wire::StreamEvent::ContentBlockStart {
                        index,
                        content_block,
                    },
                );
            }
            StreamEvent::BlockDelta { index, delta } => {
                self.start(out);
                let delta = match delta {
                    Delta::Text(text) | Delta::Refusal(text) => {
                        wire::BlockDelta::TextDelta { text }
                    }
                    Delta::ToolArguments(partial_json) => {
                        wire::BlockDelta::InputJsonDelta { partial_json }
                    }
                    Delta::Reasoning(thinking) => wire::BlockDelta::ThinkingDelta { thinking },
                    Delta::ReasoningSignature(signature) => {
                        wire::BlockDelta::SignatureDelta { signature }
                    }
                    Delta::Citation(c) => wire::BlockDelta::CitationsDelta {
                        citation: citation_to_wire(&c),
                    },
                };
                write(out, &wire::StreamEvent::ContentBlockDelta { index, delta });
            }
            StreamEvent::BlockStop { index } => {
                self.start(out);
                write(out, &wire::StreamEvent::ContentBlockStop { index });
            }
        }
    }

    /// The end of a complete stream: the stop reason, the final usage, `message_stop`.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.start(out);
        self.finished = true;
        let (reason, sequence) = self.stop.clone().unwrap_or((StopReason::EndTurn, None));
        write(
            out,
            &wire::StreamEvent::MessageDelta {
                delta: wire::MessageDeltaBody {
                    stop_reason: Some(stop_reason(&reason).to_owned()),
                    stop_sequence: sequence,
                },
                usage: usage_to_wire(&self.usage.unwrap_or_default()),
            },
        );
        write(out, &wire::StreamEvent::MessageStop);
    }

    /// An error after the response has started: an in-band `error` event, as Anthropic sends.
    pub fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.finished = true;
        write(
            out,
            &wire::StreamEvent::Error {
                error: error_detail(err),
            },
        );
    }

    /// The last usage the provider reported.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let mut usage = usage_to_wire(&self.usage.unwrap_or_default());
        usage.output_tokens = usage.output_tokens.max(1);
        let message = wire::MessageResponse {
            id: message_id(&self.id),
            kind: "message".to_owned(),
            role: "assistant".to_owned(),
            model: self.model.clone(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage,
        };
        write(out, &wire::StreamEvent::MessageStart { message });
        write(out, &wire::StreamEvent::Ping);
    }
}

fn write(out: &mut BytesMut, event: &wire::StreamEvent) {
    out.put_slice(b"event: ");
    out.put_slice(event.name().as_bytes());
    out.put_slice(b"\ndata: ");
    // Serializing these plain structs cannot fail; an empty object keeps the frame valid.
    if serde_json::to_writer((&mut *out).writer(), event).is_err() {
        out.put_slice(b"{}");
    }
    out.put_slice(b"\n\n");
}
