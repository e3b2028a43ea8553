//! Response bodies exactly as OpenAI writes them.

use serde_json::{json, Value};

pub fn usage_json(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
        }
    })
}

/// A `chat.completion` with one text answer.
pub fn chat_completion_json(
    model: &str,
    text: &str,
    prompt_tokens: u64,
    completion_tokens: u64,
) -> String {
    text_completion_json(model, text, "stop", prompt_tokens, completion_tokens)
}

/// A `chat.completion` with one text answer and this finish reason (`stop`, `length`, ...).
pub fn text_completion_json(
    model: &str,
    text: &str,
    finish_reason: &str,
    prompt_tokens: u64,
    completion_tokens: u64,
) -> String {
    completion_json(
        model,
        json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
        finish_reason,
        usage_json(prompt_tokens, completion_tokens),
    )
}

/// A `chat.completion` whose answer is these tool calls (id, name, arguments JSON text).
pub fn tool_calls_completion_json(model: &str, calls: &[(&str, &str, &str)]) -> String {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, arguments)| {
            json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    completion_json(
        model,
        json!({"role": "assistant", "content": null, "refusal": null, "annotations": [],
               "tool_calls": calls}),
        "tool_calls",
        usage_json(40, 12),
    )
}

/// A `chat.completion` whose answer is one tool call.
pub fn tool_call_completion_json(model: &str, id: &str, name: &str, arguments: &str) -> String {
    completion_json(
        model,
        json!({"role": "assistant", "content": null, "refusal": null, "annotations": [],
               "tool_calls": [{"id": id, "type": "function",
                               "function": {"name": name, "arguments": arguments}}]}),
        "tool_calls",
        usage_json(40, 12),
    )
}

/// The `chat.completion` envelope around one choice's message.
fn completion_json(model: &str, message: Value, finish_reason: &str, usage: Value) -> String {
    json!({
        "id": "chatcmpl-mock123",
        "object": "chat.completion",
        "created": 1_700_000_000u64,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_mock"
    })
    .to_string()
}

/// One `chat.completion.chunk` with the given delta and finish reason.
pub fn chunk_json(
    model: &str,
    delta: Value,
    finish_reason: Option<&str>,
    with_usage_null: bool,
) -> String {
    let mut chunk = json!({
        "id": "chatcmpl-mock123",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000u64,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
    });
    if with_usage_null {
        chunk["usage"] = Value::Null;
    }
    chunk.to_string()
}

fn sse(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// SSE events for a streamed text answer: role, one chunk per piece, finish, optional usage
/// chunk, `[DONE]`. Each returned string is one complete event.
pub fn sse_text_pieces(model: &str, pieces: &[&str], include_usage: bool) -> Vec<String> {
    sse_text_pieces_finish(model, pieces, include_usage, "stop")
}

/// [`sse_text_pieces`] ending with this finish reason.
pub fn sse_text_pieces_finish(
    model: &str,
    pieces: &[&str],
    include_usage: bool,
    finish_reason: &str,
) -> Vec<String> {
    let mut events = vec![sse(&chunk_json(
        model,
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
        include_usage,
    ))];
    for piece in pieces {
        events.push(sse(&chunk_json(
            model,
            json!({"content": piece}),
            None,
            include_usage,
        )));
    }
    events.push(sse(&chunk_json(
        model,
        json!({}),
        Some(finish_reason),
        include_usage,
    )));
    finish(
        &mut events,
        model,
        include_usage,
        usage_json(12, pieces.len() as u64),
    );
    events
}

/// The usage chunk (when asked for) and `[DONE]`.
fn finish(events: &mut Vec<String>, model: &str, include_usage: bool, usage: Value) {
    if include_usage {
        events.push(sse(&json!({
            "id": "chatcmpl-mock123", "object": "chat.completion.chunk", "created": 1_700_000_000u64,
            "model": model, "service_tier": "default", "system_fingerprint": "fp_mock",
            "choices": [], "usage": usage
        })
        .to_string()));
    }
    events.push("data: [DONE]\n\n".to_owned());
}

/// SSE events for parallel tool calls: each call is `(id, name, argument fragments)`.
pub fn sse_tool_call_pieces(
    model: &str,
    calls: &[(&str, &str, Vec<&str>)],
    include_usage: bool,
) -> Vec<String> {
    let mut events = vec![sse(&chunk_json(
        model,
        json!({"role": "assistant", "content": null, "refusal": null}),
        None,
        include_usage,
    ))];
    for (index, (id, name, fragments)) in calls.iter().enumerate() {
        events.push(sse(&chunk_json(
            model,
            json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                   "function": {"name": name, "arguments": ""}}]}),
            None,
            include_usage,
        )));
        for fragment in fragments {
            events.push(sse(&chunk_json(
                model,
                json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
                None,
                include_usage,
            )));
        }
    }
    events.push(sse(&chunk_json(
        model,
        json!({}),
        Some("tool_calls"),
        include_usage,
    )));
    finish(&mut events, model, include_usage, usage_json(30, 20));
    events
}

/// OpenAI's error body.
pub fn error_json(message: &str, kind: &str, code: Option<&str>) -> String {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string()
}
