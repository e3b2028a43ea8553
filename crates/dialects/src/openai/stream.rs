//! Canonical stream events -> OpenAI `chat.completion.chunk` SSE.
//!
//! Every chunk is written as `data: {json}\n\n`; the stream ends with `data: [DONE]\n\n`.
//! With `stream_options.include_usage`, each chunk carries `"usage":null` and a final chunk
//! with `choices:[]` and the usage comes just before `[DONE]`, whatever order the provider
//! reported usage and stop in.

use bytes::{BufMut, BytesMut};
use switchyard_types::{BlockKind, Delta, StreamEvent, Usage};
use switchyard_wire_openai as wire;

use super::encode::{annotation, finish_reason, usage_to_wire};
use super::error::error_detail;
use crate::error::GatewayError;

/// Turns canonical events into SSE bytes for an OpenAI client.
#[derive(Debug)]
pub struct ChatStreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Canonical block index -> OpenAI tool-call index, for tool blocks.
    tool_indices: Vec<(u32, u32)>,
    next_tool_index: u32,
    usage: Option<Usage>,
    started: bool,
    /// `{"id":..,"object":"chat.completion.chunk","created":..,"model":..,"choices":[{"index":0,"delta":`
    /// for the current id and model: every content chunk starts with the same bytes, so they
    /// are serialized once per stream, not once per chunk.
    prefix: Vec<u8>,
}

impl ChatStreamEncoder {
    /// `id`, `model` and `created` are used until the provider's `MessageStart` says otherwise.
    pub fn new(id: String, model: String, created: u64, include_usage: bool) -> Self {
        ChatStreamEncoder {
            id,
            model,
            created,
            include_usage,
            tool_indices: Vec::new(),
            next_tool_index: 0,
            usage: None,
            started: false,
            prefix: Vec::new(),
        }
    }

    /// Appends the SSE bytes for one event (possibly none) to `out`.
    pub fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        match event {
            StreamEvent::MessageStart { id, model, created } => {
                if !id.is_empty() {
                    self.id = id;
                }
                if !model.is_empty() {
                    self.model = model;
                }
                if created != 0 {
                    self.created = created;
                }
                self.prefix.clear();
                self.start(out);
            }
            StreamEvent::BlockStart { index, block } => {
                self.start(out);
                if let BlockKind::ToolUse { id, name, .. } = block {
                    let tool_index = self.next_tool_index;
                    self.next_tool_index += 1;
                    self.tool_indices.push((index, tool_index));
                    self.write_delta(
                        wire::ChunkDelta {
                            tool_calls: Some(vec![wire::ToolCallDelta {
                                index: tool_index,
                                id: Some(id),
                                kind: Some("function".to_owned()),
                                function: Some(wire::FunctionDelta {
                                    name: Some(name),
                                    arguments: Some(String::new()),
                                }),
                            }]),
                            ..Default::default()
                        },
                        None,
                        out,
                    );
                }
            }
            StreamEvent::BlockDelta { index, delta } => {
                self.start(out);
                let delta = match delta {
                    Delta::Text(text) => wire::ChunkDelta {
                        content: Some(text),
                        ..Default::default()
                    },
                    Delta::Reasoning(text) => wire::ChunkDelta {
                        reasoning_content: Some(text),
                        ..Default::default()
                    },
                    Delta::Refusal(text) => wire::ChunkDelta {
                        refusal: Some(text),
                        ..Default::default()
                    },
                    Delta::ToolArguments(arguments) => {
                        let tool_index = self
                            .tool_indices
                            .iter()
                            .find(|(block, _)| *block == index)
                            .map(|(_, t)| *t)
                            .unwrap_or(0);
                        wire::ChunkDelta {
                            tool_calls: Some(vec![wire::ToolCallDelta {
                                index: tool_index,
                                id: None,
                                kind: None,
                                function: Some(wire::FunctionDelta {
                                    name: None,
                                    arguments: Some(arguments),
                                }),
                            }]),
                            ..Default::default()
                        }
                    }
                    // OpenAI has no place for reasoning signatures.
                    Delta::ReasoningSignature(_) => return,
                    Delta::Citation(citation) => match annotation(&citation, 0) {
                        Some(a) => wire::ChunkDelta {
                            annotations: Some(vec![a]),
                            ..Default::default()
                        },
                        // A quoted passage without a URL and range has no OpenAI form.
                        None => return,
                    },
                };
                self.write_delta(delta, None, out);
            }
            StreamEvent::BlockStop { .. } => {}
            StreamEvent::Usage { usage } => self.usage = Some(usage),
            StreamEvent::MessageStop { stop_reason, .. } => {
                self.start(out);
                self.write_delta(
                    wire::ChunkDelta::default(),
                    Some(finish_reason(&stop_reason)),
                    out,
                );
            }
        }
    }

    /// Ends a successful stream: the usage chunk (if asked for) and `[DONE]`.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.include_usage {
            let chunk = self.chunk(
                Vec::new(),
                Some(Some(usage_to_wire(&self.usage.unwrap_or_default()))),
            );
            write_data(&chunk, out);
        }
        out.put_slice(b"data: [DONE]\n\n");
    }

    /// Ends a stream that failed after it started: an error object in-band, as OpenAI does.
    /// No `[DONE]` follows, so clients cannot mistake the answer for complete.
    pub fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        let body = wire::ErrorBody {
            error: error_detail(err),
        };
        write_data(&body, out);
    }

    /// The usage reported so far, for accounting.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        self.write_delta(
            wire::ChunkDelta {
                role: Some("assistant".to_owned()),
                content: Some(String::new()),
                ..Default::default()
            },
            None,
            out,
        );
    }

    /// Writes one content chunk: the cached prefix, the delta, and the closing fields. The
    /// bytes are exactly what serializing a `wire::ChatCompletionChunk` would give (the golden
    /// and round-trip tests hold it to that).
    fn write_delta(&mut self, delta: wire::ChunkDelta, finish: Option<&str>, out: &mut BytesMut) {
        if self.prefix.is_empty() {
            self.prefix = self.chunk_prefix();
        }
        out.put_slice(b"data: ");
        out.put_slice(&self.prefix);
        let mut writer = out.writer();
        let _ = serde_json::to_writer(&mut writer, &delta);
        let out = writer.into_inner();
        out.put_slice(b",\"finish_reason\":");
        let mut writer = out.writer();
        let _ = serde_json::to_writer(&mut writer, &finish);
        let out = writer.into_inner();
        if self.include_usage {
            out.put_slice(b"}],\"usage\":null}\n\n");
        } else {
            out.put_slice(b"}]}\n\n");
        }
    }

    fn chunk_prefix(&self) -> Vec<u8> {
        let mut prefix = Vec::with_capacity(128);
        prefix.extend_from_slice(b"{\"id\":");
        let _ = serde_json::to_writer(&mut prefix, &self.id);
        prefix.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        prefix.extend_from_slice(self.created.to_string().as_bytes());
        prefix.extend_from_slice(b",\"model\":");
        let _ = serde_json::to_writer(&mut prefix, &self.model);
        prefix.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
        prefix
    }

    fn chunk(
        &self,
        choices: Vec<wire::ChunkChoice>,
        usage: Option<Option<wire::Usage>>,
    ) -> wire::ChatCompletionChunk {
        wire::ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage,
            system_fingerprint: None,
            service_tier: None,
        }
    }
}

fn write_data<T: serde::Serialize>(value: &T, out: &mut BytesMut) {
    out.put_slice(b"data: ");
    let mut writer = out.writer();
    // Wire structs always serialize; an error here would only mean an empty event.
    let _ = serde_json::to_writer(&mut writer, value);
    let out = writer.into_inner();
    out.put_slice(b"\n\n");
}
