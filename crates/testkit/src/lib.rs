//! Test kit: in-process mock upstreams on ephemeral ports, so tests run in parallel.
//!
//! [`MockOpenAi`] speaks the OpenAI Chat Completions / Embeddings wire format as OpenAI sends
//! it (field order and `null`s included), and on each other provider's paths that provider's
//! format: [`anthropic`], [`gemini`], [`ollama`], [`cohere`], [`bedrock`] (binary event
//! streams, SigV4 required). By default it answers every request sensibly (a short text,
//! streamed or not; deterministic embeddings). Tests queue [`Reply`]s to script
//! faults: error statuses with `Retry-After`, hung connections, stalls after the headers,
//! drip-fed and split SSE frames, resets mid-stream, malformed events.
//!
//! Never shipped in the `switchyard` binary.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod gemini;
pub mod ollama;
pub mod openai;
pub mod scenario;

pub use openai::{MockOpenAi, Recorded, Reply, SseEnd};
