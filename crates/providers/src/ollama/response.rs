//! Ollama `/api/chat` answers: one JSON object, or NDJSON lines ending with `"done": true`.

use std::collections::VecDeque;

use serde::Deserialize;
use serde_json::Value;
use switchyard_types::{
    BlockKind, ChatResponse, ContentBlock, Delta, StopReason, StreamEvent, Usage,
};

use crate::error::{ProviderError, ProviderErrorKind};

#[derive(Debug, Deserialize)]
struct Line {
    #[serde(default)]
    model: String,
    #[serde(default)]
    message: Option<LineMessage>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct LineMessage {
    #[serde(default)]
    content: String,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
}

#[derive(Debug, Deserialize)]
struct ToolCall {
    #[serde(default)]
    id: Option<String>,
    function: Function,
}

#[derive(Debug, Deserialize)]
struct Function {
    name: String,
    #[serde(default)]
    arguments: Value,
}

fn parse(text: &str) -> Result<Line, ProviderError> {
    let line: Line = serde_json::from_str(text).map_err(|e| {
        ProviderError::protocol(format!("upstream sent a malformed Ollama line: {e}"))
    })?;
    if let Some(err) = &line.error {
        let message = err.as_str().map_or_else(|| err.to_string(), str::to_owned);
        return Err(ProviderError::new(
            ProviderErrorKind::Protocol,
            format!("upstream failed during the stream: {message}"),
        ));
    }
    Ok(line)
}

fn stop_reason(reason: Option<&str>, called: bool) -> StopReason {
    match reason {
        _ if called => StopReason::ToolUse,
        None | Some("stop") => StopReason::EndTurn,
        Some("length") => StopReason::MaxTokens,
        Some(other) => StopReason::Other(other.to_owned()),
    }
}

fn usage(line: &Line) -> Usage {
    Usage {
        input_tokens: line.prompt_eval_count.unwrap_or(0),
        output_tokens: line.eval_count.unwrap_or(0),
        ..Usage::default()
    }
}

pub fn chat_response(body: &[u8]) -> Result<ChatResponse, ProviderError> {
    let line = parse(&String::from_utf8_lossy(body))?;
    let mut content = Vec::new();
    let mut called = false;
    if let Some(m) = &line.message {
        if let Some(t) = m.thinking.as_ref().filter(|t| !t.is_empty()) {
            content.push(ContentBlock::Reasoning {
                text: t.clone(),
                signature: None,
            });
        }
        if !m.content.is_empty() {
            content.push(ContentBlock::text(m.content.clone()));
        }
        for (i, call) in m.tool_calls.iter().enumerate() {
            called = true;
            content.push(ContentBlock::ToolUse {
                id: call.id.clone().unwrap_or_else(|| format!("call_{i}")),
                name: call.function.name.clone(),
                arguments: call.function.arguments.to_string(),
                signature: None,
            });
        }
    }
    Ok(ChatResponse {
        id: "ollama-chat".to_owned(),
        model: line.model.clone(),
        created: crate::upstream::unix_now(),
        content,
        stop_reason: stop_reason(line.done_reason.as_deref(), called),
        stop_sequence: None,
        usage: usage(&line),
        system_fingerprint: None,
        service_tier: None,
        logprobs: None,
    })
}

/// The longest NDJSON line accepted from an upstream (as for SSE lines).
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// NDJSON lines -> canonical events.
#[derive(Debug, Default)]
pub struct LineDecoder {
    /// Bytes of a line not ended yet: kept as bytes, so that a character split across two
    /// network reads is decoded whole.
    buffer: Vec<u8>,
    started: bool,
    open: Option<(bool, u32)>,
    next_block: u32,
    calls: u32,
    done: bool,
}

impl LineDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        self.buffer.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = self.buffer[start..]
            .iter()
            .position(|&b| b == b'\n')
            .filter(|_| !self.done)
        {
            let line = String::from_utf8_lossy(&self.buffer[start..start + end]).into_owned();
            start += end + 1;
            let line = line.trim();
            if !line.is_empty() {
                self.on_line(line, out)?;
            }
        }
        self.buffer.drain(..start);
        if self.buffer.len() > MAX_LINE_BYTES {
            return Err(ProviderError::protocol(
                "upstream sent an over-long NDJSON line",
            ));
        }
        Ok(())
    }

    pub fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), ProviderError> {
        let rest = std::mem::take(&mut self.buffer);
        let rest = String::from_utf8_lossy(&rest);
        if !rest.trim().is_empty() {
            self.on_line(rest.trim(), out)?;
        }
        if self.done {
            return Ok(());
        }
        Err(ProviderError::interrupted(
            "upstream closed the stream before the answer was complete",
        ))
    }

    fn on_line(
        &mut self,
        text: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), ProviderError> {
        let line = parse(text)?;
        if !self.started {
            self.started = true;
            out.push_back(StreamEvent::MessageStart {
                id: "ollama-chat".to_owned(),
                model: line.model.clone(),
                created: crate::upstream::unix_now(),
            });
        }
        if let Some(m) = &line.message {
            if let Some(t) = m.thinking.as_ref().filter(|t| !t.is_empty()) {
                let index = self.ensure(true, out);
                out.push_back(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Reasoning(t.clone()),
                });
            }
            if !m.content.is_empty() {
                let index = self.ensure(false, out);
                out.push_back(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Text(m.content.clone()),
                });
            }
            for call in &m.tool_calls {
                self.close(out);
                let index = self.next_block;
                self.next_block += 1;
                out.push_back(StreamEvent::BlockStart {
                    index,
                    block: BlockKind::ToolUse {
                        id: call
                            .id
                            .clone()
                            .unwrap_or_else(|| format!("call_{}", self.calls)),
                        name: call.function.name.clone(),
                        signature: None,
                    },
                });
                out.push_back(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::ToolArguments(call.function.arguments.to_string()),
                });
                out.push_back(StreamEvent::BlockStop { index });
                self.calls += 1;
            }
        }
        if line.done {
            self.done = true;
            self.close(out);
            out.push_back(StreamEvent::MessageStop {
                stop_reason: stop_reason(line.done_reason.as_deref(), self.calls > 0),
                stop_sequence: None,
            });
            out.push_back(StreamEvent::Usage {
                usage: usage(&line),
            });
        }
        Ok(())
    }

    fn ensure(&mut self, thinking: bool, out: &mut VecDeque<StreamEvent>) -> u32 {
        if let Some((open, index)) = self.open {
            if open == thinking {
                return index;
            }
        }
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((thinking, index));
        let block = if thinking {
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
