//! The Gemini API wire format (`models/{m}:generateContent`, `:streamGenerateContent`,
//! `:countTokens`, `:embedContent`, `:batchEmbedContents`) as serde structs, camelCase as on
//! the wire.
//!
//! Requests are strict (Google rejects unknown names); responses are lenient. Conversions to
//! and from the canonical types live with the front door (`dialects::gemini`).

mod content;
mod embed;
mod generate;

pub use content::{Blob, Content, FileData, FunctionCall, FunctionResponse, Part};
pub use embed::{
    BatchEmbedRequest, BatchEmbedResponse, ContentEmbedding, EmbedRequest, EmbedResponse,
    EmbeddingStatistics, PredictResponse, PredictedEmbedding, Prediction,
};
pub use generate::{
    Candidate, CountTokensRequest, CountTokensResponse, ErrorBody, ErrorDetail,
    FunctionCallingConfig, FunctionDeclaration, GenerateContentRequest, GenerateContentResponse,
    GenerationConfig, ModelInfo, ModelList, PromptFeedback, ThinkingConfig, ToolConfig, ToolDef,
    UsageMetadata,
};
