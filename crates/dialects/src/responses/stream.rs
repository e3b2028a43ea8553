//! Canonical stream events -> Responses API streaming events.
//!
//! `response.created`, `response.in_progress`, then per output item `output_item.added`,
//! its deltas (`output_text.delta` inside a `content_part`, `function_call_arguments.delta`,
//! `reasoning_summary_text.delta`, `refusal.delta`), their `.done` events and
//! `output_item.done`; finally `response.completed` (or `response.incomplete`) with the whole
//! response and its usage. Every event carries a `sequence_number`; there is no `[DONE]`.
//! An error after the first byte is `response.failed`.

use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};
use switchyard_types::{BlockKind, Delta, StopReason, StreamEvent, Usage};

use super::encode::{
    function_call_item, item_id, message_item, output_text, reasoning_item, response_id,
    response_object, status_of, Echo,
};
use crate::error::GatewayError;

/// The output item being streamed.
#[derive(Debug)]
enum Open {
    Text {
        id: String,
        text: String,
    },
    Refusal {
        id: String,
        text: String,
    },
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
    Reasoning {
        id: String,
        text: String,
    },
}

#[derive(Debug)]
pub struct ResponseStreamEncoder {
    echo: Echo,
    id: String,
    created: u64,
    sequence: u64,
    started: bool,
    open: Option<(u32, Open)>,
    output: Vec<Value>,
    usage: Option<Usage>,
    stop: Option<StopReason>,
    finished: bool,
}

impl ResponseStreamEncoder {
    pub fn new(echo: Echo, created: u64) -> Self {
        ResponseStreamEncoder {
            echo,
            id: String::new(),
            created,
            sequence: 0,
            started: false,
            open: None,
            output: Vec::new(),
            usage: None,
            stop: None,
            finished: false,
        }
    }

    pub fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        match event {
            StreamEvent::MessageStart { id, created, .. } => {
                self.id = response_id(&id);
                if created != 0 {
                    self.created = created;
                }
                self.start(out);
            }
            StreamEvent::BlockStart { index, block } => {
                self.start(out);
                self.close(out);
                let n = self.output.len();
                let open = match block {
                    BlockKind::Text => Open::Text {
                        id: item_id("msg", &self.id, n),
                        text: String::new(),
                    },
                    BlockKind::Refusal => Open::Refusal {
                        id: item_id("msg", &self.id, n),
                        text: String::new(),
                    },
                    BlockKind::ToolUse { id, name, .. } => Open::Call {
                        id: item_id("fc", &self.id, n),
                        call_id: id,
                        name,
                        arguments: String::new(),
                    },
                    BlockKind::Reasoning => Open::Reasoning {
                        id: item_id("rs", &self.id, n),
                        text: String::new(),
                    },
                    BlockKind::RedactedReasoning { data } => {
                        let item = reasoning_item(&item_id("rs", &self.id, n), "", Some(&data));
                        self.event(
                            out,
                            "response.output_item.added",
                            json!({"output_index": n, "item": item}),
                        );
                        self.event(
                            out,
                            "response.output_item.done",
                            json!({"output_index": n, "item": item}),
                        );
                        self.output.push(item);
                        return;
                    }
                };
                let item = match &open {
                    Open::Text { id, .. } | Open::Refusal { id, .. } => {
                        message_item(id, Vec::new(), "in_progress")
                    }
                    Open::Call {
                        id, call_id, name, ..
                    } => function_call_item(id, call_id, name, "", "in_progress"),
                    Open::Reasoning { id, .. } => reasoning_item(id, "", None),
                };
                self.event(
                    out,
                    "response.output_item.added",
                    json!({"output_index": n, "item": item}),
                );
                match &open {
                    Open::Text { id, .. } => self.event(
                        out,
                        "response.content_part.added",
                        json!({
                        "item_id": id, "output_index": n, "content_index": 0,
                        "part": output_text("", Vec::new())}),
                    ),
                    Open::Refusal { id, .. } => self.event(
                        out,
                        "response.content_part.added",
                        json!({
                        "item_id": id, "output_index": n, "content_index": 0,
                        "part": {"type": "refusal", "refusal": ""}}),
                    ),
                    _ => {}
                }
                self.open = Some((index, open));
            }
            StreamEvent::BlockDelta { index, delta } => {
                let n = self.output.len();
                let Some((open_index, open)) = self.open.as_mut() else {
                    return;
                };
                if *open_index != index {
                    return;
                }
                let (name, payload) = match (open, delta) {
                    (Open::Text { id, text }, Delta::Text(d)) => {
                        text.push_str(&d);
                        (
                            "response.output_text.delta",
                            json!({"item_id": id, "output_index": n,
                            "content_index": 0, "delta": d, "logprobs": []}),
                        )
                    }
                    (Open::Refusal { id, text }, Delta::Refusal(d) | Delta::Text(d)) => {
                        text.push_str(&d);
                        (
                            "response.refusal.delta",
                            json!({"item_id": id, "output_index": n,
                            "content_index": 0, "delta": d}),
                        )
                    }
                    (Open::Call { id, arguments, .. }, Delta::ToolArguments(d)) => {
                        arguments.push_str(&d);
                        (
                            "response.function_call_arguments.delta",
                            json!({"item_id": id,
                            "output_index": n, "delta": d}),
                        )
                    }
                    (Open::Reasoning { id, text }, Delta::Reasoning(d)) => {
                        text.push_str(&d);
                        (
                            "response.reasoning_summary_text.delta",
                            json!({"item_id": id,
                            "output_index": n, "summary_index": 0, "delta": d}),
                        )
                    }
                    _ => return,
                };
                self.event(out, name, payload);
            }
            StreamEvent::BlockStop { index } => {
                if self.open.as_ref().is_some_and(|(i, _)| *i == index) {
                    self.close(out);
                }
            }
            StreamEvent::Usage { usage } => self.usage = Some(usage),
            StreamEvent::MessageStop { stop_reason, .. } => self.stop = Some(stop_reason),
        }
    }

    /// `response.completed` (or `response.incomplete`) with the whole response.
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.start(out);
        self.close(out);
        self.finished = true;
        let (status, reason) = status_of(&self.stop.clone().unwrap_or(StopReason::EndTurn));
        let response = response_object(
            &self.id,
            self.created,
            &self.echo,
            (status, reason),
            std::mem::take(&mut self.output),
            Some(&self.usage.unwrap_or_default()),
        );
        let name = if status == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.event(out, name, json!({"response": response}));
    }

    /// `response.failed` with the error, after the response started.
    pub fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.start(out);
        self.finished = true;
        let mut response = response_object(
            &self.id,
            self.created,
            &self.echo,
            ("failed", None),
            std::mem::take(&mut self.output),
            self.usage.as_ref(),
        );
        response["error"] = json!({
            "code": err.code.clone().unwrap_or_else(|| "server_error".to_owned()),
            "message": err.message,
        });
        self.event(out, "response.failed", json!({"response": response}));
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        if self.id.is_empty() {
            self.id = response_id("switchyard");
        }
        let response = response_object(
            &self.id,
            self.created,
            &self.echo,
            ("in_progress", None),
            Vec::new(),
            None,
        );
        self.event(out, "response.created", json!({"response": response}));
        self.event(out, "response.in_progress", json!({"response": response}));
    }

    /// Ends the open item: its `.done` events, then `output_item.done`.
    fn close(&mut self, out: &mut BytesMut) {
        let Some((_, open)) = self.open.take() else {
            return;
        };
        let n = self.output.len();
        let item = match open {
            Open::Text { id, text } => {
                let part = output_text(&text, Vec::new());
                self.event(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id,
                    "output_index": n, "content_index": 0, "text": text, "logprobs": []}),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id,
                    "output_index": n, "content_index": 0, "part": part}),
                );
                message_item(&id, vec![part], "completed")
            }
            Open::Refusal { id, text } => {
                let part = json!({"type": "refusal", "refusal": text});
                self.event(
                    out,
                    "response.refusal.done",
                    json!({"item_id": id,
                    "output_index": n, "content_index": 0, "refusal": text}),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id,
                    "output_index": n, "content_index": 0, "part": part}),
                );
                message_item(&id, vec![part], "completed")
            }
            Open::Call {
                id,
                call_id,
                name,
                arguments,
            } => {
                self.event(
                    out,
                    "response.function_call_arguments.done",
                    json!({"item_id": id,
                    "output_index": n, "name": name, "arguments": arguments}),
                );
                function_call_item(&id, &call_id, &name, &arguments, "completed")
            }
            Open::Reasoning { id, text } => {
                self.event(
                    out,
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id,
                    "output_index": n, "summary_index": 0, "text": text}),
                );
                reasoning_item(&id, &text, None)
            }
        };
        self.event(
            out,
            "response.output_item.done",
            json!({"output_index": n, "item": item}),
        );
        self.output.push(item);
    }

    fn event(&mut self, out: &mut BytesMut, name: &str, mut payload: Value) {
        payload["type"] = Value::String(name.to_owned());
        payload["sequence_number"] = Value::from(self.sequence);
        self.sequence += 1;
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_slice(b"\ndata: ");
        if serde_json::to_writer((&mut *out).writer(), &payload).is_err() {
            out.put_slice(b"{}");
        }
        out.put_slice(b"\n\n");
    }
}
