//! The Anthropic Messages dialect: `POST /v1/messages` (streaming and not),
//! `POST /v1/messages/count_tokens`, and the Anthropic shape of `GET /v1/models`.
//!
//! Position in the pipeline: first and last step, like every dialect. [`decode`] turns the
//! client's body into a canonical request; [`encode`] and [`stream`] turn the canonical
//! answer back into Anthropic's JSON and SSE; [`error`] renders failures.

pub mod decode;
pub mod encode;
pub mod error;
pub mod stream;

#[cfg(test)]
mod tests;

pub use decode::{decode_count_tokens_request, decode_messages_request};
pub use encode::{encode_count_tokens, encode_message_response, encode_model_list, stop_reason};
pub use error::{encode_error, error_type};
pub use stream::MessageStreamEncoder;
