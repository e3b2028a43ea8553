//! The OpenAI dialect: `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`.
//!
//! Position in the pipeline: first and last step. [`decode`] turns the client's body into a
//! canonical request; [`encode`] and [`stream`] turn the canonical answer back into OpenAI's
//! JSON and SSE; [`error`] renders failures as `{"error":{...}}`.

pub mod decode;
pub mod encode;
pub mod error;
pub mod stream;

#[cfg(test)]
mod tests;

pub use decode::{decode_chat_request, decode_embeddings_request};
pub use encode::{encode_chat_response, encode_embeddings_response, encode_model_list};
pub use error::{encode_error, error_type};
pub use stream::ChatStreamEncoder;
