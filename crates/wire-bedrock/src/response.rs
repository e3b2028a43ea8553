//! Converse answers, streamed events and errors, as Bedrock sends them.
//!
//! Unlike requests, answers are read leniently: Bedrock adds fields over time (and pads
//! stream events with a random `p` field), so unknown fields are ignored, and a block of a
//! kind Switchyard does not know decodes with every known member empty.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::ReasoningText;

/// The body of a Converse answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    pub output: Output,
    pub stop_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_response_fields: Option<Value>,
}

/// A union whose one member today is `message`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<OutputMessage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputMessage {
    pub role: String,
    #[serde(default)]
    pub content: Vec<OutputBlock>,
}

/// One block of an answer: exactly one member is set by Bedrock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use: Option<OutputToolUse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<OutputReasoning>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputToolUse {
    pub tool_use_id: String,
    pub name: String,
    #[serde(default)]
    pub input: Value,
}

/// `reasoningText` or `redactedContent` (base64).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputReasoning {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_text: Option<ReasoningText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_content: Option<String>,
}

/// Token counts. `inputTokens` excludes cache reads and writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    #[serde(default)]
    pub latency_ms: u64,
}

/// `POST /model/{id}/count-tokens`: `{"input": {"converse": {...}}}`.
#[derive(Debug, Clone, Serialize)]
pub struct CountTokensRequest<'a> {
    pub input: CountTokensInput<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountTokensInput<'a> {
    pub converse: &'a crate::request::ConverseRequest,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensResponse {
    pub input_tokens: u64,
}

/// An error body: `{"message": ...}` (the code is in the `x-amzn-ErrorType` header, or
/// `__type` in some bodies).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, alias = "Message")]
    pub message: Option<String>,
    #[serde(default, rename = "__type")]
    pub kind: Option<String>,
}
