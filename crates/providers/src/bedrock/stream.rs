//! ConverseStream's binary event stream -> canonical stream events.
//!
//! Frames are cut and checked (prelude and message CRCs) by the AWS SDK's own decoder,
//! `aws-smithy-eventstream`; each frame's `:event-type` header names the JSON payload.
//! Bedrock announces only tool calls with `contentBlockStart`: text and reasoning blocks
//! begin with their first delta, so a block starts canonically at its first event of any
//! kind, and Bedrock's block indices are renumbered densely in that order. `messageStop`
//! carries the stop reason; `metadata` (usage) comes last. Exception frames become errors
//! with the status Bedrock gives the same exception outside a stream.

use std::collections::VecDeque;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::BytesMut;
use serde::de::DeserializeOwned;
use switchyard_types::{BlockKind, Delta, StreamEvent};
use switchyard_wire_bedrock::stream as wire;

use super::error::exception_error;
use super::response::{stop_reason, usage};
use crate::error::ProviderError;
use crate::upstream::BodyDecoder;

#[derive(Debug)]
pub struct FrameDecoder {
    frames: MessageFrameDecoder,
    buffer: BytesMut,
    id: String,
    model: String,
    /// Bedrock block index -> canonical index, for blocks that have started.
    blocks: Vec<(u32, u32)>,
    started: bool,
    stopped: bool,
    done: bool,
}

impl FrameDecoder {
    /// `id`: the request id Bedrock answered with; `model`: the model id the request named.
    pub fn new(id: String, model: String) -> Self {
        FrameDecoder {
            frames: MessageFrameDecoder::new(),
            buffer: BytesMut::new(),
            id,
            model,
            blocks: Vec::new(),
            started: false,
            stopped: false,
            done: false,
        }
    }

    fn on_frame(
        &mut self,
        frame: &Message,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let header = |name: &str| {
            frame
                .headers()
                .iter()
                .find(|h| h.name().as_str() == name)
                .and_then(|h| h.value().as_string().ok())
                .map(|s| s.as_str().to_owned())
        };
        match header(":message-type").as_deref() {
            Some("event") => {}
            Some("exception") => {
                let kind = header(":exception-type").unwrap_or_default();
                return Err(exception_error(&kind, frame.payload()));
            }
            Some("error") => {
                let code = header(":error-code").unwrap_or_default();
                let message = header(":error-message").unwrap_or_default();
                return Err(ProviderError::protocol(format!(
                    "upstream stream error {code}: {message}"
                )));
            }
            other => {
                return Err(ProviderError::protocol(format!(
                    "upstream sent an event-stream frame of unknown type {other:?}"
                )))
            }
        }
        let payload = frame.payload();
        match header(":event-type").as_deref().unwrap_or("") {
            "messageStart" => {
                let _: wire::MessageStart = parse(payload)?;
                self.start(out);
            }
            "contentBlockStart" => {
                let event: wire::ContentBlockStart = parse(payload)?;
                self.start(out);
                if let Some(call) = event.start.tool_use {
                    self.open(
                        event.content_block_index,
                        BlockKind::ToolUse {
                            id: call.tool_use_id,
                            name: call.name,
                            signature: None,
                        },
                        out,
                    );
                }
            }
            "contentBlockDelta" => {
                let event: wire::ContentBlockDelta = parse(payload)?;
                self.start(out);
                self.delta(event.content_block_index, event.delta, out);
            }
            "contentBlockStop" => {
                let event: wire::ContentBlockStop = parse(payload)?;
                if let Some(index) = self.index_of(event.content_block_index) {
                    out.push_back(StreamEvent::BlockStop { index });
                }
            }
            "messageStop" => {
                let event: wire::MessageStop = parse(payload)?;
                self.start(out);
                self.stopped = true;
                out.push_back(StreamEvent::MessageStop {
                    stop_reason: stop_reason(&event.stop_reason),
                    stop_sequence: None,
                });
            }
            "metadata" => {
                let event: wire::Metadata = parse(payload)?;
                out.push_back(StreamEvent::Usage {
                    usage: usage(&event.usage),
                });
                if self.stopped {
                    self.done = true;
                }
            }
            // Events added to the API later carry nothing canonical yet.
            _ => {}
        }
        Ok(())
    }

    fn start(&mut self, out: &mut VecDeque<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push_back(StreamEvent::MessageStart {
                id: self.id.clone(),
                model: self.model.clone(),
                created: crate::upstream::unix_now(),
            });
        }
    }

    fn index_of(&self, bedrock: u32) -> Option<u32> {
        self.blocks
            .iter()
            .find(|(b, _)| *b == bedrock)
            .map(|(_, c)| *c)
    }

    fn open(&mut self, bedrock: u32, block: BlockKind, out: &mut VecDeque<StreamEvent>) -> u32 {
        let index = self.blocks.len() as u32;
        self.blocks.push((bedrock, index));
        out.push_back(StreamEvent::BlockStart { index, block });
        index
    }

    fn delta(&mut self, bedrock: u32, delta: wire::BlockDelta, out: &mut VecDeque<StreamEvent>) {
        let known = self.index_of(bedrock);
        let (kind, delta) = if let Some(text) = delta.text {
            (BlockKind::Text, Delta::Text(text))
        } else if let Some(call) = delta.tool_use {
            // A tool call always starts with contentBlockStart; an unannounced one has no
            // name to give it and is dropped with a warning below.
            let Some(index) = known else {
                tracing::warn!(
                    target: "switchyard::upstream",
                    "Bedrock sent tool arguments for a block it never started; ignored"
                );
                return;
            };
            out.push_back(StreamEvent::BlockDelta {
                index,
                delta: Delta::ToolArguments(call.input),
            });
            return;
        } else if let Some(reasoning) = delta.reasoning_content {
            if let Some(data) = reasoning.redacted_content {
                if known.is_none() {
                    self.open(bedrock, BlockKind::RedactedReasoning { data }, out);
                }
                return;
            }
            match (reasoning.text, reasoning.signature) {
                (Some(text), _) => (BlockKind::Reasoning, Delta::Reasoning(text)),
                (None, Some(signature)) => {
                    (BlockKind::Reasoning, Delta::ReasoningSignature(signature))
                }
                (None, None) => return,
            }
        } else {
            return;
        };
        let index = match known {
            Some(i) => i,
            None => self.open(bedrock, kind, out),
        };
        out.push_back(StreamEvent::BlockDelta { index, delta });
    }
}

impl FrameDecoder {
    /// Decodes the frames `bytes` complete (with what earlier calls left over).
    pub fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        self.buffer.extend_from_slice(bytes);
        loop {
            if self.done {
                return Ok(());
            }
            let frame = self.frames.decode_frame(&mut self.buffer).map_err(|e| {
                ProviderError::protocol(format!(
                    "upstream sent a malformed event-stream frame: {e}"
                ))
            })?;
            match frame {
                DecodedFrame::Incomplete => return Ok(()),
                DecodedFrame::Complete(message) => self.on_frame(&message, out)?,
            }
        }
    }

    /// The body ended: an error unless `messageStop` came.
    pub fn finish(&mut self) -> Result<(), ProviderError> {
        if self.stopped {
            return Ok(());
        }
        Err(ProviderError::interrupted(
            "upstream stream ended before messageStop",
        ))
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl BodyDecoder for FrameDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        FrameDecoder::feed(self, bytes, out)
    }

    fn finish(&mut self, _out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        FrameDecoder::finish(self)
    }

    fn is_done(&self) -> bool {
        FrameDecoder::is_done(self)
    }
}

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(payload).map_err(|e| {
        ProviderError::protocol(format!("upstream sent a malformed stream event: {e}"))
    })
}
