//! Canonical stream events -> ConverseStream's binary event stream.
//!
//! `messageStart`, then per block `contentBlockStart` (tool calls only: text and reasoning
//! begin with their first delta, as Bedrock sends them), `contentBlockDelta`*,
//! `contentBlockStop`; `messageStop` with the stop reason; `metadata` with usage and latency
//! last. An error after the first byte is a modeled exception frame.

use std::time::Instant;

use bytes::BytesMut;
use serde_json::{json, Value};
use switchyard_types::{BlockKind, Delta, StopReason, StreamEvent, Usage};

use super::encode::{error_code, stop_reason, usage};
use super::eventstream::{write_event, write_exception};
use crate::error::{ErrorClass, GatewayError};

#[derive(Debug)]
pub struct ConverseStreamEncoder {
    started_at: Instant,
    started: bool,
    stopped: bool,
    usage: Option<Usage>,
    finished: bool,
}

impl ConverseStreamEncoder {
    /// `started_at`: when the request arrived (for `metrics.latencyMs`).
    pub fn new(started_at: Instant) -> Self {
        ConverseStreamEncoder {
            started_at,
            started: false,
            stopped: false,
            usage: None,
            finished: false,
        }
    }

    pub fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        match event {
            StreamEvent::MessageStart { .. } => self.start(out),
            StreamEvent::BlockStart { index, block } => {
                self.start(out);
                match block {
                    BlockKind::ToolUse { id, name, .. } => emit(
                        out,
                        "contentBlockStart",
                        json!({
                        "contentBlockIndex": index,
                        "start": {"toolUse": {"toolUseId": id, "name": name}}}),
                    ),
                    BlockKind::RedactedReasoning { data } => emit(
                        out,
                        "contentBlockDelta",
                        json!({
                        "contentBlockIndex": index,
                        "delta": {"reasoningContent": {"redactedContent": data}}}),
                    ),
                    BlockKind::Text | BlockKind::Reasoning | BlockKind::Refusal => {}
                }
            }
            StreamEvent::BlockDelta { index, delta } => {
                self.start(out);
                let delta = match delta {
                    Delta::Text(t) | Delta::Refusal(t) => json!({"text": t}),
                    Delta::ToolArguments(a) => json!({"toolUse": {"input": a}}),
                    Delta::Reasoning(t) => json!({"reasoningContent": {"text": t}}),
                    Delta::ReasoningSignature(s) => json!({"reasoningContent": {"signature": s}}),
                    Delta::Citation(_) => return,
                };
                emit(
                    out,
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": delta}),
                );
            }
            StreamEvent::BlockStop { index } => {
                emit(out, "contentBlockStop", json!({"contentBlockIndex": index}));
            }
            StreamEvent::MessageStop { stop_reason: r, .. } => {
                self.start(out);
                self.stopped = true;
                emit(out, "messageStop", json!({"stopReason": stop_reason(&r)}));
            }
            StreamEvent::Usage { usage } => self.usage = Some(usage),
        }
    }

    /// `metadata` with usage and latency (after `messageStop`, as Bedrock sends it).
    pub fn finish(&mut self, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.start(out);
        if !self.stopped {
            emit(
                out,
                "messageStop",
                json!({"stopReason": stop_reason(&StopReason::EndTurn)}),
            );
        }
        self.finished = true;
        let latency = self.started_at.elapsed().as_millis() as u64;
        emit(
            out,
            "metadata",
            json!({
            "usage": usage(&self.usage.unwrap_or_default()),
            "metrics": {"latencyMs": latency}}),
        );
    }

    /// A modeled exception frame.
    pub fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        if self.finished {
            return;
        }
        self.finished = true;
        let kind = match err.class {
            ErrorClass::RateLimited => "throttlingException",
            ErrorClass::UpstreamUnavailable => "serviceUnavailableException",
            ErrorClass::InvalidRequest => "validationException",
            ErrorClass::Internal => "internalServerException",
            _ => "modelStreamErrorException",
        };
        let payload = json!({"message": err.message, "originalMessage": err.message,
                             "code": error_code(err.class)});
        write_exception(kind, payload.to_string().as_bytes(), out);
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn start(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.started = true;
            emit(out, "messageStart", json!({"role": "assistant"}));
        }
    }
}

fn emit(out: &mut BytesMut, name: &str, payload: Value) {
    write_event(name, payload.to_string().as_bytes(), out);
}
