//! The Gemini API dialect: `POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent` (`?alt=sse`, or a progressively delivered JSON array),
//! `:countTokens`, `:embedContent`, `:batchEmbedContents`, and `GET /v1beta/models`.

pub mod decode;
pub mod encode;
pub mod error;
pub mod stream;

#[cfg(test)]
mod tests;

pub use decode::{decode_count_tokens_request, decode_embed_request, decode_generate_request};
pub use encode::{
    encode_count_tokens, encode_embed_response, encode_generate_response, encode_model_list,
    finish_reason,
};
pub use error::{encode_error, error_status};
pub use stream::GenerateStreamEncoder;
