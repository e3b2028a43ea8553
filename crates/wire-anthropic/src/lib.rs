//! The Anthropic Messages wire format (`/v1/messages`, `/v1/messages/count_tokens`) as serde
//! structs.
//!
//! One format, two users: the Anthropic front door (`dialects::anthropic`) decodes client
//! requests with these structs and encodes responses and stream events with them; the
//! Anthropic upstream adapter (`providers::anthropic`) does the reverse. Conversions to and
//! from the canonical types live with those users: this crate is only the shape of the JSON.
//!
//! Requests are strict (unknown fields are rejected, as the Messages API does); responses and
//! stream events are lenient (unknown fields are ignored, unknown block and event types are
//! kept as `Unknown` so that a newer upstream does not break an older gateway).

mod error;
mod request;
mod response;
mod stream;

pub use error::{ErrorBody, ErrorDetail};
pub use request::{
    Block, CacheControl, CountTokensRequest, DocumentSource, ImageSource, InputMessage,
    MessageContent, MessagesRequest, Metadata, OutputConfig, OutputFormat, Role, SystemPrompt,
    TextBlockParam, Thinking, ToolChoice, ToolDef, ToolResultContent,
};
pub use response::{CountTokensResponse, MessageResponse, ResponseBlock, Usage};
pub use stream::{BlockDelta, MessageDeltaBody, StreamEvent};
