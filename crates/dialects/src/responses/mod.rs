//! The OpenAI Responses dialect: `POST /v1/responses`, stateless (`store: false`
//! semantics): input items in, a `response` object or its event stream out.

pub mod decode;
pub mod encode;
pub mod stream;

#[cfg(test)]
mod tests;

pub use decode::decode_create_request;
pub use encode::{encode_response, Echo};
pub use stream::ResponseStreamEncoder;
