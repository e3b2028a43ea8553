//! The embedded inference engine: open-weight models running inside the gateway process.
//!
//! - [`chat`]: chat generation. [`chat::LocalChat`] turns a canonical request into a prompt
//!   (the model's own chat template, [`template`]), runs it on a [`chat::ChatBackend`] and
//!   turns the generated text back into canonical content and stream events (stop sequences,
//!   tool calls). The llama.cpp backend (feature `llama`, on by default) batches the decoding
//!   of concurrent requests in one context.
//! - [`embed`]: sentence embeddings on candle's BERT (pure Rust), pooled and normalised as
//!   the model's sentence-transformers config says.
//!
//! Everything here is synchronous compute on dedicated threads; callers talk to it through
//! channels and never block an async worker.

pub mod chat;
pub mod embed;
pub mod template;

mod error;

pub use error::EngineError;
