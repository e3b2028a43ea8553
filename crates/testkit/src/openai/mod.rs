//! The mock OpenAI-compatible upstream.

mod bodies;
mod server;
mod tls;

pub use bodies::{
    chat_completion_json, chunk_json, error_json, sse_text_pieces, sse_text_pieces_finish,
    sse_tool_call_pieces, text_completion_json, tool_call_completion_json,
    tool_calls_completion_json, usage_json,
};
pub use server::{MockOpenAi, Recorded, Reply, SseEnd};
