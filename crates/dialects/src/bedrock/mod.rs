//! The AWS Bedrock Runtime dialect: `POST /model/{modelId}/converse` and `converse-stream`
//! (binary `application/vnd.amazon.eventstream`), for boto3 and the AWS SDKs pointed at
//! Switchyard with `endpoint_url`; `invoke` bodies are Anthropic's (decoded by the Anthropic
//! dialect), and `invoke-with-response-stream` wraps Anthropic's events in `chunk` frames.

pub mod decode;
pub mod encode;
pub mod eventstream;
mod invoke;
pub mod stream;

#[cfg(test)]
mod tests;

pub use decode::{decode_converse_request, decode_count_tokens_input, CountInput};
pub use encode::{encode_converse_response, encode_error, error_code, stop_reason};
pub use invoke::InvokeStreamEncoder;
pub use stream::ConverseStreamEncoder;
