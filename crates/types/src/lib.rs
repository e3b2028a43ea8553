//! Canonical types: the one vocabulary every client dialect decodes into and every upstream
//! provider encodes from. N dialects + M providers translate through these types, never to
//! each other directly.
//!
//! This crate knows no vendor JSON, no HTTP and no database. JSON Schema values (tool
//! parameters, structured-output schemas) are held as `serde_json::Value` because JSON Schema
//! is itself the canonical form every vendor accepts some version of.

pub mod calendar;
mod content;
mod deployment;
mod embedding;
mod request;
mod response;
mod stream;
mod usage;

pub use content::{CacheControl, Citation, ContentBlock, ImageDetail, ImageSource, Message, Role};
pub use deployment::{Deployment, Hosting, Jurisdiction, Retention};
pub use embedding::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EncodingFormat};
pub use request::{
    ChatRequest, ReasoningConfig, RequestMetadata, ResponseFormat, SamplingParams, Tool, ToolChoice,
};
pub use response::{ChatResponse, StopReason, TokenLogprob};
pub use stream::{BlockKind, Delta, StreamEvent};
pub use usage::Usage;
