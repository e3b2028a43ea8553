//! The AWS Bedrock Runtime Converse wire format: requests (`request`), answers and errors
//! (`response`), and the JSON payloads of ConverseStream's event-stream frames (`stream`).
//! Shared by the Bedrock front door (dialects) and the Bedrock upstream adapter (providers).

pub mod request;
pub mod response;
pub mod stream;

pub use request::*;
pub use response::*;
