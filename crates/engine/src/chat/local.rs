//! Canonical request ↔ backend job: prompt rendering, sampling defaults, output constraints,
//! and the generated text turned into canonical stream events.

use std::collections::VecDeque;
use std::sync::Arc;

use switchyard_types::{
    BlockKind, ChatRequest, ChatResponse, ContentBlock, Delta, ResponseFormat, StopReason,
    StreamEvent, ToolChoice, Usage,
};
use tokio::sync::mpsc;

use super::stop::StopMatcher;
use super::toolcall::{Piece, ToolCallParser};
use super::{BackendInfo, ChatBackend, Constraint, Finish, GenEvent, GenerateJob, Sampling};
use crate::template::{ChatTemplate, FALLBACK_TEMPLATE};
use crate::EngineError;

/// One local chat model: its backend and its chat template.
pub struct LocalChat {
    backend: Arc<dyn ChatBackend>,
    template: ChatTemplate,
    /// The model name reported in responses.
    name: String,
}

impl std::fmt::Debug for LocalChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalChat")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LocalChat {
    pub fn new(
        backend: Arc<dyn ChatBackend>,
        name: impl Into<String>,
    ) -> Result<Self, EngineError> {
        let info: &BackendInfo = backend.info();
        let source = info.chat_template.as_deref().unwrap_or(FALLBACK_TEMPLATE);
        let template = ChatTemplate::new(source, &info.bos_token, &info.eos_token)?;
        Ok(Self {
            backend,
            template,
            name: name.into(),
        })
    }

    /// Renders the prompt exactly as it will be generated from (for tests and debugging).
    pub fn render_prompt(&self, request: &ChatRequest) -> Result<String, EngineError> {
        let tools = if matches!(request.tool_choice, Some(ToolChoice::None)) {
            &[][..]
        } else {
            &request.tools[..]
        };
        self.template.render(&request.messages, tools)
    }

    /// The prompt tokens `request` would cost: its rendered prompt (tools included), counted
    /// with the model's own tokenizer.
    pub fn count_tokens(&self, request: &ChatRequest) -> Result<u64, EngineError> {
        let prompt = self.render_prompt(request)?;
        Ok(self.backend.count_tokens(&prompt) as u64)
    }

    /// Queues the request and waits until the engine has accepted the prompt (so a prompt
    /// that is too long, or a full queue, is a plain error rather than a broken stream).
    pub async fn start(&self, request: &ChatRequest) -> Result<Generation, EngineError> {
        check_supported(request)?;
        let prompt = self.render_prompt(request)?;
        let sampling = sampling(request)?;
        let constraint = constraint(request)?;
        let tools_active =
            !request.tools.is_empty() && !matches!(request.tool_choice, Some(ToolChoice::None));
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.backend.submit(GenerateJob {
            prompt,
            max_tokens: request.sampling.max_output_tokens.unwrap_or(u32::MAX),
            sampling,
            constraint,
            events: tx,
        })?;
        let (prompt_tokens, cached_tokens) = match rx.recv().await {
            Some(GenEvent::Started {
                prompt_tokens,
                cached_tokens,
            }) => (prompt_tokens, cached_tokens),
            Some(GenEvent::Failed(e)) => return Err(e),
            Some(other) => {
                return Err(EngineError::Internal(format!(
                    "engine sent {other:?} before starting"
                )))
            }
            None => {
                return Err(EngineError::Internal(
                    "the engine stopped before answering".into(),
                ))
            }
        };
        let mut pending = VecDeque::new();
        pending.push_back(StreamEvent::MessageStart {
            id: format!("chatcmpl-{}", random_id(24)),
            model: self.name.clone(),
            created: unix_now(),
        });
        Ok(Generation {
            rx: Some(rx),
            stop: StopMatcher::new(&request.sampling.stop),
            tools: tools_active.then(|| {
                ToolCallParser::new(request.tools.iter().map(|t| t.name.clone()).collect())
            }),
            pending,
            open_text: None,
            next_index: 0,
            any_tool_call: false,
            stopped_by: None,
            prompt_tokens,
            cached_tokens,
            completion_tokens: 0,
            done: false,
        })
    }
}

/// One running generation, read as canonical stream events.
#[derive(Debug)]
pub struct Generation {
    rx: Option<mpsc::UnboundedReceiver<GenEvent>>,
    stop: StopMatcher,
    tools: Option<ToolCallParser>,
    pending: VecDeque<StreamEvent>,
    open_text: Option<u32>,
    next_index: u32,
    any_tool_call: bool,
    stopped_by: Option<String>,
    prompt_tokens: u32,
    cached_tokens: u32,
    completion_tokens: u32,
    done: bool,
}

impl Generation {
    /// The next event; `None` after `MessageStop` and the final usage.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, EngineError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let event = match self.rx.as_mut() {
                Some(rx) => rx.recv().await,
                None => None,
            };
            match event {
                Some(GenEvent::Token(text)) => {
                    self.completion_tokens += 1;
                    let fed = self.stop.push(&text);
                    self.emit_text(&fed.text);
                    if let Some(stop) = fed.stopped {
                        // Dropping the receiver tells the engine to stop this sequence.
                        self.rx = None;
                        self.stopped_by = Some(stop);
                        self.finish(Finish::EndOfGeneration);
                    }
                }
                Some(GenEvent::Done(finish)) => {
                    self.rx = None;
                    let rest = self.stop.finish();
                    self.emit_text(&rest);
                    self.finish(finish);
                }
                Some(GenEvent::Failed(e)) => {
                    self.rx = None;
                    self.done = true;
                    return Some(Err(e));
                }
                Some(GenEvent::Started { .. }) => {}
                None => {
                    self.done = true;
                    if self.stopped_by.is_none() {
                        return Some(Err(EngineError::Internal(
                            "the engine ended the generation unexpectedly".into(),
                        )));
                    }
                }
            }
        }
    }

    /// Runs to the end and assembles the complete answer.
    pub async fn collect(mut self) -> Result<ChatResponse, EngineError> {
        let mut response = ChatResponse {
            id: String::new(),
            model: String::new(),
            created: 0,
            content: Vec::new(),
            stop_reason: StopReason::EndTurn,
            stop_sequence: None,
            usage: Usage::default(),
            system_fingerprint: None,
            service_tier: None,
            logprobs: None,
        };
        while let Some(event) = self.next().await {
            match event? {
                StreamEvent::MessageStart { id, model, created } => {
                    response.id = id;
                    response.model = model;
                    response.created = created;
                }
                StreamEvent::BlockStart { block, .. } => response.content.push(match block {
                    BlockKind::ToolUse {
                        id,
                        name,
                        signature,
                    } => ContentBlock::ToolUse {
                        id,
                        name,
                        arguments: String::new(),
                        signature,
                    },
                    _ => ContentBlock::text(""),
                }),
                StreamEvent::BlockDelta { delta, .. } => match (response.content.last_mut(), delta)
                {
                    (Some(ContentBlock::Text { text, .. }), Delta::Text(t)) => text.push_str(&t),
                    (Some(ContentBlock::ToolUse { arguments, .. }), Delta::ToolArguments(a)) => {
                        arguments.push_str(&a)
                    }
                    _ => {}
                },
                StreamEvent::BlockStop { .. } => {}
                StreamEvent::Usage { usage } => response.usage = usage,
                StreamEvent::MessageStop {
                    stop_reason,
                    stop_sequence,
                } => {
                    response.stop_reason = stop_reason;
                    response.stop_sequence = stop_sequence;
                }
            }
        }
        Ok(response)
    }

    fn emit_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.tools.as_mut() {
            Some(parser) => {
                let mut pieces = Vec::new();
                parser.push(text, &mut pieces);
                self.emit_pieces(pieces);
            }
            None => self.emit_piece(Piece::Text(text.to_owned())),
        }
    }

    fn emit_pieces(&mut self, pieces: Vec<Piece>) {
        for piece in pieces {
            self.emit_piece(piece);
        }
    }

    fn emit_piece(&mut self, piece: Piece) {
        match piece {
            Piece::Text(text) => {
                let index = match self.open_text {
                    Some(i) => i,
                    None => {
                        let i = self.next_index;
                        self.next_index += 1;
                        self.open_text = Some(i);
                        self.pending.push_back(StreamEvent::BlockStart {
                            index: i,
                            block: BlockKind::Text,
                        });
                        i
                    }
                };
                self.pending.push_back(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Text(text),
                });
            }
            Piece::ToolCall { name, arguments } => {
                self.close_text();
                let index = self.next_index;
                self.next_index += 1;
                self.any_tool_call = true;
                self.pending.push_back(StreamEvent::BlockStart {
                    index,
                    block: BlockKind::ToolUse {
                        id: format!("call_{}", random_id(24)),
                        name,
                        signature: None,
                    },
                });
                self.pending.push_back(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::ToolArguments(arguments),
                });
                self.pending.push_back(StreamEvent::BlockStop { index });
            }
        }
    }

    fn close_text(&mut self) {
        if let Some(index) = self.open_text.take() {
            self.pending.push_back(StreamEvent::BlockStop { index });
        }
    }

    fn finish(&mut self, finish: Finish) {
        if let Some(mut parser) = self.tools.take() {
            let mut pieces = Vec::new();
            parser.finish(&mut pieces);
            self.emit_pieces(pieces);
        }
        self.close_text();
        let stop_reason = if self.any_tool_call {
            StopReason::ToolUse
        } else if self.stopped_by.is_some() {
            StopReason::StopSequence
        } else {
            match finish {
                Finish::EndOfGeneration => StopReason::EndTurn,
                Finish::Length => StopReason::MaxTokens,
            }
        };
        self.pending.push_back(StreamEvent::Usage {
            usage: Usage {
                input_tokens: u64::from(self.prompt_tokens),
                output_tokens: u64::from(self.completion_tokens),
                cache_read_tokens: u64::from(self.cached_tokens),
                ..Usage::default()
            },
        });
        self.pending.push_back(StreamEvent::MessageStop {
            stop_reason,
            stop_sequence: self.stopped_by.clone(),
        });
        self.done = true;
    }
}

fn check_supported(request: &ChatRequest) -> Result<(), EngineError> {
    let s = &request.sampling;
    if s.n.is_some_and(|n| n > 1) {
        return Err(EngineError::InvalidRequest(
            "n > 1 is not supported by the local engine; send separate requests".into(),
        ));
    }
    if s.logprobs || s.top_logprobs.is_some() {
        return Err(EngineError::InvalidRequest(
            "logprobs are not supported by the local engine".into(),
        ));
    }
    if let Some(r) = &request.reasoning {
        if r.effort.as_deref().is_some_and(|e| e != "none")
            || r.budget_tokens.is_some_and(|b| b > 0)
            || r.enabled == Some(true)
        {
            return Err(EngineError::InvalidRequest(
                "reasoning is not supported by this local model (it has no thinking mode)".into(),
            ));
        }
    }
    if s.max_output_tokens == Some(0) {
        return Err(EngineError::InvalidRequest(
            "max_tokens must be at least 1".into(),
        ));
    }
    Ok(())
}

/// llama.cpp's own defaults where the client is silent.
fn sampling(request: &ChatRequest) -> Result<Sampling, EngineError> {
    let s = &request.sampling;
    let check = |name: &str, v: f64, lo: f64, hi: f64| {
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(v as f32)
        } else {
            Err(EngineError::InvalidRequest(format!(
                "{name} must be between {lo} and {hi}"
            )))
        }
    };
    let seed = match s.seed {
        // Any 64-bit seed maps onto the sampler's 32-bit seed deterministically.
        Some(seed) => (seed as u64 ^ ((seed as u64) >> 32)) as u32,
        None => fastrand::u32(..),
    };
    let mut logit_bias = Vec::with_capacity(s.logit_bias.len());
    for (token, bias) in &s.logit_bias {
        let id: i32 = token.parse().map_err(|_| {
            EngineError::InvalidRequest(format!("logit_bias key {token:?} is not a token id"))
        })?;
        logit_bias.push((id, check("logit_bias value", *bias, -100.0, 100.0)?));
    }
    Ok(Sampling {
        temperature: check("temperature", s.temperature.unwrap_or(0.8), 0.0, 2.0)?,
        top_p: check("top_p", s.top_p.unwrap_or(0.95), 0.0, 1.0)?,
        top_k: s.top_k.map_or(40, |k| k.min(i32::MAX as u32) as i32),
        min_p: check("min_p", s.min_p.unwrap_or(0.05), 0.0, 1.0)?,
        repeat_penalty: check(
            "repetition_penalty",
            s.repetition_penalty.unwrap_or(1.0),
            0.0,
            2.0,
        )?,
        frequency_penalty: check(
            "frequency_penalty",
            s.frequency_penalty.unwrap_or(0.0),
            -2.0,
            2.0,
        )?,
        presence_penalty: check(
            "presence_penalty",
            s.presence_penalty.unwrap_or(0.0),
            -2.0,
            2.0,
        )?,
        seed,
        logit_bias,
    })
}

fn constraint(request: &ChatRequest) -> Result<Option<Constraint>, EngineError> {
    let forced_tools: Option<Vec<&switchyard_types::Tool>> = match &request.tool_choice {
        Some(ToolChoice::Required) if !request.tools.is_empty() => {
            Some(request.tools.iter().collect())
        }
        Some(ToolChoice::Named(name)) => match request.tools.iter().find(|t| &t.name == name) {
            Some(tool) => Some(vec![tool]),
            None => {
                return Err(EngineError::InvalidRequest(format!(
                    "tool_choice names {name:?}, which is not among the tools"
                )))
            }
        },
        _ => None,
    };
    if let Some(tools) = forced_tools {
        return Ok(Some(Constraint::ToolCalls(
            tools
                .into_iter()
                .map(|t| (t.name.clone(), parameters_schema(&t.parameters)))
                .collect(),
        )));
    }
    Ok(match &request.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(Constraint::JsonObject),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            Some(Constraint::JsonSchema(schema.to_string()))
        }
    })
}

fn parameters_schema(parameters: &serde_json::Value) -> String {
    if parameters.is_null() {
        r#"{"type":"object"}"#.to_owned()
    } else {
        parameters.to_string()
    }
}

fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
