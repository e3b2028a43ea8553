//! Local chat generation.
//!
//! Layers, top to bottom:
//! - [`LocalChat`]: canonical request → prompt (chat template) + generation settings; the
//!   generated text → canonical stream events ([`stop`] sequences, [`toolcall`] parsing).
//! - [`ChatBackend`]: the project's own engine trait. A backend tokenizes, schedules and
//!   samples; it reports one [`GenEvent::Token`] per generated token.
//! - `llama` (feature `llama`): the llama.cpp backend, one context shared by all requests,
//!   their decoding batched together.

mod local;
pub mod stop;
pub mod toolcall;

#[cfg(feature = "llama")]
pub mod llama;

pub use local::{Generation, LocalChat};

use tokio::sync::mpsc;

use crate::EngineError;

/// Sampling settings, already defaulted and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// 0 means greedy.
    pub temperature: f32,
    pub top_p: f32,
    /// 0 means off.
    pub top_k: i32,
    pub min_p: f32,
    /// 1.0 means off.
    pub repeat_penalty: f32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    pub seed: u32,
    /// `(token id, bias)` pairs added to the logits before sampling.
    pub logit_bias: Vec<(i32, f32)>,
}

/// An output constraint, enforced with a grammar while sampling.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// Any JSON object.
    JsonObject,
    /// JSON matching this JSON Schema (as JSON text).
    JsonSchema(String),
    /// One or more `<tool_call>` blocks calling one of these tools, each given as
    /// `(name, parameters schema as JSON text)`.
    ToolCalls(Vec<(String, String)>),
}

/// One generation request to a backend.
#[derive(Debug)]
pub struct GenerateJob {
    pub prompt: String,
    pub max_tokens: u32,
    pub sampling: Sampling,
    pub constraint: Option<Constraint>,
    /// Where events go (unbounded, so one slow client never stalls the batch; one request's
    /// events are bounded by its context window). When the receiver is dropped the backend stops the generation and
    /// frees its slot (a cancelled client, a matched stop sequence).
    pub events: mpsc::UnboundedSender<GenEvent>,
}

/// What a backend reports, in order: `Started`, `Token`*, then `Done` or `Failed`.
#[derive(Debug, Clone, PartialEq)]
pub enum GenEvent {
    Started {
        prompt_tokens: u32,
        /// Prompt tokens whose KV state was reused from an earlier request.
        cached_tokens: u32,
    },
    /// One generated token and its text (possibly empty while a UTF-8 character is split
    /// across tokens).
    Token(String),
    Done(Finish),
    Failed(EngineError),
}

/// Why generation ended on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model produced an end-of-generation token.
    EndOfGeneration,
    /// `max_tokens` reached, or the sequence filled its context window.
    Length,
}

/// What a backend tells about its model.
#[derive(Debug, Clone)]
pub struct BackendInfo {
    /// The GGUF chat template, if the model ships one.
    pub chat_template: Option<String>,
    pub bos_token: String,
    pub eos_token: String,
}

/// The engine trait: a model that generates text for queued jobs.
pub trait ChatBackend: Send + Sync + 'static {
    /// Queues a job; fails at once with `Overloaded` when the queue is full.
    fn submit(&self, job: GenerateJob) -> Result<(), EngineError>;
    fn info(&self) -> &BackendInfo;
    /// The number of tokens `prompt` is made of, counted exactly as a prompt is evaluated.
    fn count_tokens(&self, prompt: &str) -> usize;
}
