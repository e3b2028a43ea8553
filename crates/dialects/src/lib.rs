//! Client dialects (front doors): each module decodes one client wire format into canonical
//! types and encodes canonical responses, streams and errors back into it.
//!
//! Dialects know nothing of upstream providers and nothing of HTTP status codes: the server
//! decides the status from an [`ErrorClass`] and asks the dialect for the body.

pub mod anthropic;
pub mod bedrock;
pub mod gemini;
pub mod openai;
pub mod responses;

mod error;
mod json;

pub use error::{ErrorClass, GatewayError};
