//! Canonical stream events -> Gemini's streamed `GenerateContentResponse`s.
//!
//! With `alt=sse` each response is one `data:` event (CRLF-framed, as Gemini sends; no event
//! names, no `[DONE]`); without it the responses are the elements of one JSON array delivered
//! progressively. Text and thoughts go out as they arrive; a function call goes out whole
//! when its block ends (Gemini never streams arguments); the last response carries the
//! `finishReason` and the usage.

use bytes::{BufMut, BytesMut};
use switchyard_types::{BlockKind, Delta, StopReason, StreamEvent, Usage};
use switchyard_wire_gemini as wire;

use super::encode::{finish_reason, function_call_part, usage_metadata};
use super::error::error_detail;
use crate::error::GatewayError;

#[derive(Debug)]
pub struct GenerateStreamEncoder {
    sse: bool,
    id: String,
    model: String,
    /// The tool call being assembled: (block index, id, name, signature, arguments).
    tool: Option<(u32, String, String, Option<String>, String)>,
    usage: Option<Usage>,
    stop: Option<StopReason>,
    /// Array mode: whether the opening `[` has been written.
    opened: bool,
    finished: bool,
}

impl GenerateStreamEncoder {
    pub fn new(sse: bool, model: String) -> Self {
        GenerateStreamEncoder {
            sse,
            id: String::new(),
            model,
            tool: None,
            usage: None,
            stop: None,
            opened: false,
            finished: false,
        }
    }

    pub fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        match event {
            StreamEvent::MessageStart { id, model, .. } => {
                self.id = id;
                if !model.is_empty() {
                    self.model = model;
                }
            }
            StreamEvent::BlockStart { index, block } => {
                if let BlockKind::ToolUse {
                    id,
                    name,
                    signature,
                } = block
                {
                    self.tool = Some((index, id, name, signature, String::new()));
                }
            }
            StreamEvent::BlockDelta { index, delta } => match delta {
                Delta::Text(text) | Delta::Refusal(text) => self.parts(
                    vec![wire::Part {
                        text: Some(text),
                        ..Default::default()
                    }],
                    out,
                ),
                Delta::Reasoning(text) => self.parts(
                    vec![wire::Part {
                        text: Some(text),
                        thought: Some(true),
                        ..Default::default()
                    }],
                    out,
                ),
                Delta::ReasoningSignature(signature) => self.parts(
                    vec![wire::Part {
                        text: Some(String::new()),
                        thought: Some(true),
                        thought_signature: Some(signature),
                        ..Default::default()
                    }],
                    out,
                ),
                Delta::ToolArguments(piece) => {
                    if let Some(tool) = self.tool.as_mut().filter(|t| t.0 == index) {
                        tool.4.push_str(&piece);
                    }
                }
                Delta::Citation(_) => {}
            },
            StreamEvent::BlockStop { index } => {
                if self.tool.as_ref().is_some_and(|t| t.0 == index) {
                    if let Some((_, id, name, signature, arguments)) = self.tool.take() {
                        let part = function_call_part(&id, &name, &arguments, signature);
                        self.parts(vec![part], out);
                    }
                }
            }
            StreamEvent::Usage { usage } => self.usage = Some(usage),
            StreamEvent::MessageStop { stop_reason, .. } => self.stop = Some(stop_reason),
        }
    }

    /// The last response: finish reason and usage; closes the array in array mode.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        let reason = self.stop.clone().unwrap_or(StopReason::EndTurn);
        let response = wire::GenerateContentResponse {
            candidates: vec![wire::Candidate {
                content: Some(wire::Content {
                    role: Some("model".to_owned()),
                    parts: Vec::new(),
                }),
                finish_reason: Some(finish_reason(&reason).to_owned()),
                index: Some(0),
                citation_metadata: None,
            }],
            usage_metadata: Some(usage_metadata(&self.usage.unwrap_or_default())),
            ..self.envelope()
        };
        self.write(&response, out);
        self.close(out);
    }

    /// An error after the response started, in band; `http_status` is the status the
    /// error would have had before the response started (the body's `code`).
    pub fn fail(&mut self, err: &GatewayError, http_status: u16, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        let body = wire::ErrorBody {
            error: error_detail(err, http_status),
        };
        self.write(&body, out);
        self.close(out);
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn parts(&mut self, parts: Vec<wire::Part>, out: &mut BytesMut) {
        let response = wire::GenerateContentResponse {
            candidates: vec![wire::Candidate {
                content: Some(wire::Content {
                    role: Some("model".to_owned()),
                    parts,
                }),
                finish_reason: None,
                index: Some(0),
                citation_metadata: None,
            }],
            ..self.envelope()
        };
        self.write(&response, out);
    }

    fn envelope(&self) -> wire::GenerateContentResponse {
        wire::GenerateContentResponse {
            candidates: Vec::new(),
            prompt_feedback: None,
            usage_metadata: None,
            model_version: Some(self.model.clone()),
            response_id: (!self.id.is_empty()).then(|| self.id.clone()),
        }
    }

    fn write<T: serde::Serialize>(&mut self, value: &T, out: &mut BytesMut) {
        if self.sse {
            out.put_slice(b"data: ");
        } else if self.opened {
            out.put_slice(b",\r\n");
        } else {
            out.put_slice(b"[");
            self.opened = true;
        }
        if serde_json::to_writer((&mut *out).writer(), value).is_err() {
            out.put_slice(b"{}");
        }
        if self.sse {
            out.put_slice(b"\r\n\r\n");
        }
    }

    fn close(&mut self, out: &mut BytesMut) {
        self.finished = true;
        if !self.sse {
            if !self.opened {
                out.put_slice(b"[");
            }
            out.put_slice(b"]");
        }
    }
}
