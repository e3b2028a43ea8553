//! OpenAI-compatible SSE (`chat.completion.chunk` events) -> canonical stream events.
//!
//! OpenAI's chunks have no block structure: text, reasoning and tool-call fragments arrive as
//! fields of a `delta`. The decoder opens a canonical block when a new kind of content (or a
//! new tool-call index) appears and closes it when the next one starts or the turn ends.

use std::collections::VecDeque;

use switchyard_types::{BlockKind, Delta, StopReason, StreamEvent};
use switchyard_wire_openai as wire;

use super::response::{citations, stop_reason, usage};
use crate::error::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Text,
    Reasoning,
    Refusal,
    /// A tool call, by OpenAI tool-call index.
    Tool(u32),
}

/// Turns decoded chunks into canonical events.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    next_block: u32,
    /// The block currently open: its kind and canonical index.
    open: Option<(OpenBlock, u32)>,
    /// OpenAI tool-call index -> canonical block index, for every call seen.
    tools: Vec<(u32, u32)>,
    stop: Option<StopReason>,
    done: bool,
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `[DONE]` was seen: nothing more will come.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one SSE `data:` payload.
    pub fn on_data(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        if data.trim() == "[DONE]" {
            self.finish(out);
            return Ok(());
        }
        let chunk: wire::ChatCompletionChunk = serde_json::from_str(data).map_err(|e| {
            ProviderError::protocol(format!("upstream sent an invalid stream chunk: {e}"))
        })?;
        self.on_chunk(chunk, out);
        Ok(())
    }

    fn on_chunk(&mut self, chunk: wire::ChatCompletionChunk, out: &mut VecDeque<StreamEvent>) {
        // Azure's first chunk (prompt filter results) has no id and no choices: skip it.
        if !self.started && (!chunk.id.is_empty() || !chunk.choices.is_empty()) {
            self.started = true;
            out.push_back(StreamEvent::MessageStart {
                id: chunk.id,
                model: chunk.model,
                created: chunk.created,
            });
        }
        if let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) {
            let delta = choice.delta;
            if let Some(text) = delta.reasoning_content.filter(|t| !t.is_empty()) {
                self.push(OpenBlock::Reasoning, Delta::Reasoning(text), out);
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.push(OpenBlock::Text, Delta::Text(text), out);
            }
            for citation in citations(delta.annotations) {
                self.push(OpenBlock::Text, Delta::Citation(citation), out);
            }
            if let Some(text) = delta.refusal.filter(|t| !t.is_empty()) {
                self.push(OpenBlock::Refusal, Delta::Refusal(text), out);
            }
            for call in delta.tool_calls.unwrap_or_default() {
                self.on_tool_call(call, out);
            }
            if let Some(reason) = choice.finish_reason {
                self.close(out);
                let reason = stop_reason(Some(&reason), !self.tools.is_empty());
                self.stop = Some(reason.clone());
                out.push_back(StreamEvent::MessageStop {
                    stop_reason: reason,
                    stop_sequence: None,
                });
            }
        }
        if let Some(Some(u)) = chunk.usage {
            out.push_back(StreamEvent::Usage { usage: usage(&u) });
        }
    }

    fn on_tool_call(&mut self, call: wire::ToolCallDelta, out: &mut VecDeque<StreamEvent>) {
        let function = call.function.unwrap_or_default();
        let known = self
            .tools
            .iter()
            .find(|(t, _)| *t == call.index)
            .map(|(_, b)| *b);
        let index = match known {
            Some(index) => index,
            None => {
                self.close(out);
                let index = self.next_block;
                self.next_block += 1;
                self.tools.push((call.index, index));
                self.open = Some((OpenBlock::Tool(call.index), index));
                let id = call
                    .id
                    .unwrap_or_else(|| format!("call_{}_{}", index, call.index));
                out.push_back(StreamEvent::BlockStart {
                    index,
                    block: BlockKind::ToolUse {
                        id,
                        name: function.name.unwrap_or_default(),
                        signature: None,
                    },
                });
                index
            }
        };
        if let Some(arguments) = function.arguments.filter(|a| !a.is_empty()) {
            out.push_back(StreamEvent::BlockDelta {
                index,
                delta: Delta::ToolArguments(arguments),
            });
        }
    }

    /// Appends `delta` to the open block of `kind`, opening one first if needed.
    fn push(&mut self, kind: OpenBlock, delta: Delta, out: &mut VecDeque<StreamEvent>) {
        let index = self.ensure(kind, out);
        out.push_back(StreamEvent::BlockDelta { index, delta });
    }

    /// The canonical index of an open block of `kind`, opening one if needed.
    fn ensure(&mut self, kind: OpenBlock, out: &mut VecDeque<StreamEvent>) -> u32 {
        if let Some((open, index)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((kind, index));
        let block = match kind {
            OpenBlock::Text => BlockKind::Text,
            OpenBlock::Reasoning => BlockKind::Reasoning,
            OpenBlock::Refusal => BlockKind::Refusal,
            OpenBlock::Tool(_) => BlockKind::Text,
        };
        out.push_back(StreamEvent::BlockStart { index, block });
        index
    }

    fn close(&mut self, out: &mut VecDeque<StreamEvent>) {
        if let Some((_, index)) = self.open.take() {
            out.push_back(StreamEvent::BlockStop { index });
        }
    }

    /// `[DONE]`: close what is open; a stream that never said why it stopped ended normally.
    fn finish(&mut self, out: &mut VecDeque<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        self.close(out);
        if self.stop.is_none() {
            let reason = stop_reason(None, !self.tools.is_empty());
            self.stop = Some(reason.clone());
            out.push_back(StreamEvent::MessageStop {
                stop_reason: reason,
                stop_sequence: None,
            });
        }
    }

    /// The upstream closed the connection. Without `[DONE]` or a finish reason, the answer
    /// is incomplete and that is an error, not a normal end.
    pub fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        if self.stop.is_none() && !self.done {
            return Err(ProviderError::interrupted(
                "upstream closed the stream before the answer was complete",
            ));
        }
        self.finish(out);
        Ok(())
    }
}
