//! Canonical stream events: what every streaming provider is decoded into and every
//! streaming dialect is encoded from.
//!
//! Shape: `MessageStart`, then for each content block `BlockStart`, `BlockDelta`*,
//! `BlockStop` (blocks are numbered from 0 in the order they start), then `Usage` (zero or
//! more times; the last one wins) and finally `MessageStop`. Usage may arrive before or after
//! `MessageStop` depending on the provider; encoders must accept both orders.

use serde::{Deserialize, Serialize};

use crate::content::Citation;
use crate::response::StopReason;
use crate::usage::Usage;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        id: String,
        model: String,
        created: u64,
    },
    BlockStart {
        index: u32,
        block: BlockKind,
    },
    BlockDelta {
        index: u32,
        delta: Delta,
    },
    BlockStop {
        index: u32,
    },
    /// Token counts so far (cumulative, not incremental).
    Usage {
        usage: Usage,
    },
    MessageStop {
        stop_reason: StopReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop_sequence: Option<String>,
    },
}

/// What kind of block starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BlockKind {
    Text,
    /// A tool call: its id and name are known at start, arguments arrive as deltas.
    ToolUse {
        id: String,
        name: String,
        /// See `ContentBlock::ToolUse::signature`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    Reasoning,
    RedactedReasoning {
        data: String,
    },
    Refusal,
}

/// A piece of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Delta {
    Text(String),
    /// A fragment of the tool call's arguments JSON text.
    ToolArguments(String),
    Reasoning(String),
    ReasoningSignature(String),
    Refusal(String),
    /// A citation attached to the text block (Anthropic `citations_delta`, Bedrock `citation`).
    Citation(Citation),
}
