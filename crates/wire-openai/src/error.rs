//! Error bodies: `{"error":{"message","type","param","code"}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body OpenAI (and Switchyard's OpenAI front door) sends with an error status, and also
/// as a `data:` event inside a stream that failed after it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    /// A string for OpenAI; llama.cpp sends a number.
    pub code: Option<Value>,
}

/// What OpenAI-compatible upstreams send on error, in all the shapes seen in the wild:
/// `{"error":{...}}` (OpenAI, newer vLLM, llama.cpp), `{"object":"error","message":...}`
/// (older vLLM, Mistral) and `{"error":"text"}` (Ollama, TGI).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum UpstreamErrorBody {
    Nested { error: NestedError },
    Flat { message: String },
    Text { error: String },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NestedError {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<Value>,
}

impl UpstreamErrorBody {
    /// The human-readable message, whatever the shape.
    pub fn message(&self) -> &str {
        match self {
            UpstreamErrorBody::Nested { error } => &error.message,
            UpstreamErrorBody::Flat { message } => message,
            UpstreamErrorBody::Text { error } => error,
        }
    }

    /// The machine-readable code or type, if any (`context_length_exceeded`, ...).
    pub fn code(&self) -> Option<String> {
        match self {
            UpstreamErrorBody::Nested { error } => match &error.code {
                Some(Value::String(s)) => Some(s.clone()),
                _ => error.kind.clone(),
            },
            _ => None,
        }
    }
}
