//! The OpenAI Chat Completions, Embeddings and Models wire format as serde structs.
//!
//! One format, two users: the OpenAI front door (`dialects::openai`) decodes client requests
//! with these structs and encodes responses with them, and the OpenAI-compatible upstream
//! adapter (`providers::openai_compat`) does the reverse. Conversions to and from the
//! canonical types live with those users, not here: this crate is only the shape of the JSON.
//!
//! Requests are strict (unknown fields are rejected, as the OpenAI API does); responses and
//! chunks are lenient (upstreams add fields: Azure filter results, llama.cpp timings, ...).

mod chat;
mod chunk;
mod embeddings;
mod error;
mod models;
mod serde_util;

pub use chat::{
    Annotation, ChatCompletion, ChatCompletionRequest, ChatMessage, Choice, ContentPart, FileRef,
    FunctionCall, FunctionDef, ImageUrl, InputAudio, JsonSchemaFormat, MessageContent,
    NamedFunction, ResponseFormat, ResponseMessage, Stop, StreamOptions, ToolCall, ToolChoice,
    ToolChoiceNamed, ToolDef, UrlCitation, Usage, UsageCompletionDetails, UsagePromptDetails,
};
pub use chunk::{ChatCompletionChunk, ChunkChoice, ChunkDelta, FunctionDelta, ToolCallDelta};
pub use embeddings::{
    Embedding, EmbeddingData, EmbeddingInput, EmbeddingUsage, EmbeddingsRequest, EmbeddingsResponse,
};
pub use error::{ErrorBody, ErrorDetail, NestedError, UpstreamErrorBody};
pub use models::{Model, ModelList};
