//! Messages and their content blocks.

use serde::{Deserialize, Serialize};

/// Who said a message. `Developer` is kept apart from `System` because OpenAI distinguishes
/// them; targets without the distinction treat both as system instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    /// Results of tool calls. Dialects that carry tool results inside a user turn
    /// (Anthropic, Bedrock, Gemini) map those turns to and from this role.
    Tool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentBlock>,
    /// Optional participant name (OpenAI `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: vec![ContentBlock::text(text)],
            name: None,
        }
    }

    /// All text blocks joined, for dialects whose message content is a single string.
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        for block in &self.content {
            if let ContentBlock::Text { text, .. } = block {
                out.push_str(text);
            }
        }
        out
    }
}

/// Prompt-caching marker (Anthropic `cache_control`, Bedrock `cachePoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheControl {
    /// `"5m"` or `"1h"`; `None` is the provider default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// Requested image fidelity (OpenAI `detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageDetail {
    Auto,
    Low,
    High,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// A remote URL (https). Targets that need bytes fetch it through the guarded fetcher.
    Url { url: String },
    /// Inline base64 data with its media type (`image/png`, ...).
    Base64 { media_type: String, data: String },
    /// A provider-side file reference (OpenAI file id, Gemini file URI, `gs://`, `s3://`).
    FileRef {
        uri: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
}

/// A piece of message content. Every dialect's block kinds map onto these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
        /// Sources the text cites (OpenAI `annotations`, Anthropic and Bedrock `citations`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        citations: Vec<Citation>,
    },
    Image {
        source: ImageSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<ImageDetail>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// Audio input (OpenAI `input_audio`): base64 data and a format such as `wav` or `mp3`.
    Audio { data: String, format: String },
    /// A document or file (PDF, text, ...): inline base64, a URL or a provider file id.
    Document {
        source: ImageSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// A tool call made by the assistant. `arguments` is the JSON text of the arguments as
    /// the model produced it (it may be invalid JSON; object dialects parse it at their edge).
    ToolUse {
        id: String,
        name: String,
        arguments: String,
        /// An opaque provider token that must be sent back with this call to the same
        /// provider (Gemini `thoughtSignature` on function calls); dropped elsewhere.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The result of a tool call, sent back by the client.
    ToolResult {
        tool_use_id: String,
        content: Vec<ContentBlock>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// Model reasoning ("thinking"). `signature` must round-trip unchanged to the same
    /// provider; it is dropped when the conversation moves to another provider.
    Reasoning {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Reasoning the provider returned encrypted (Anthropic `redacted_thinking`, Bedrock
    /// `redactedContent`, Responses `encrypted_content`).
    RedactedReasoning { data: String },
    /// A refusal message from the model (OpenAI `refusal`).
    Refusal { text: String },
}

impl ContentBlock {
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text {
            text: text.into(),
            cache_control: None,
            citations: Vec::new(),
        }
    }
}

/// A source that a piece of answer text cites. Providers say this in different ways (a URL
/// with a character range, a quoted passage of a supplied document); every field is optional
/// so that each can be carried without loss of what it did say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Citation {
    /// A URL, or the id of a document supplied in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The quoted passage of the source, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cited_text: Option<String>,
    /// Character range in the answer text that the citation covers, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u32>,
}
