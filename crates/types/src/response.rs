//! The canonical chat response.

use serde::{Deserialize, Serialize};

use crate::content::ContentBlock;
use crate::usage::Usage;

/// Why generation stopped. Every dialect's stop/finish reasons map onto these
/// (see the table in `reference/apis.md` §8.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Natural end of the turn.
    EndTurn,
    /// A stop sequence matched (see `ChatResponse::stop_sequence`).
    StopSequence,
    /// The output token limit was reached.
    MaxTokens,
    /// The model called one or more tools.
    ToolUse,
    /// Output was withheld or cut by a safety system.
    ContentFilter,
    /// The model refused.
    Refusal,
    /// The context window filled up during generation.
    ContextWindowExceeded,
    /// A server-side tool turn paused and can be resumed (Anthropic `pause_turn`).
    PauseTurn,
    /// The model produced malformed output or a malformed tool call.
    Malformed,
    /// Anything else, with the provider's own word.
    Other(String),
}

/// A complete (non-streamed) answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub id: String,
    /// The upstream model that answered, as the provider named it.
    pub model: String,
    /// Unix seconds.
    pub created: u64,
    pub content: Vec<ContentBlock>,
    pub stop_reason: StopReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<String>,
    pub usage: Usage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Per-token log probabilities, when the client asked for them and the provider gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// The log probability of one generated token, with the most likely alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TokenLogprob>,
}
