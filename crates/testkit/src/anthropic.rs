//! The Anthropic Messages wire format as Anthropic sends it, for the mock upstream: bodies
//! with Anthropic's field order, SSE events with their `event:` names, and the mock's default
//! answers on `/v1/messages` and `/v1/messages/count_tokens`.

use serde_json::{json, Value};

use crate::openai::Reply;

/// A complete Messages response.
pub fn message_json(
    model: &str,
    content: Value,
    stop_reason: &str,
    input: u64,
    output: u64,
) -> String {
    json!({
        "id": "msg_01MockUpstream",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": input,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output
        }
    })
    .to_string()
}

/// One SSE event: `event: <type>` then the data.
pub fn event(data: Value) -> String {
    let name = data["type"].as_str().unwrap_or("unknown").to_owned();
    format!("event: {name}\ndata: {data}\n\n")
}

fn start(model: &str, input: u64) -> Vec<String> {
    vec![
        event(json!({"type": "message_start", "message": {
            "id": "msg_01MockUpstream", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 1}}})),
        event(json!({"type": "ping"})),
    ]
}

fn end(stop_reason: &str, output: u64) -> Vec<String> {
    vec![
        event(json!({"type": "message_delta",
                     "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                     "usage": {"output_tokens": output}})),
        event(json!({"type": "message_stop"})),
    ]
}

/// A streamed text answer made of `pieces`.
pub fn sse_text(model: &str, pieces: &[&str], input: u64, output: u64) -> Vec<String> {
    let mut events = start(model, input);
    events.push(event(json!({"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}})));
    for piece in pieces {
        events.push(event(json!({"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": piece}})));
    }
    events.push(event(json!({"type": "content_block_stop", "index": 0})));
    events.extend(end("end_turn", output));
    events
}

/// A streamed answer calling `calls` (id, name, argument pieces), one block each.
pub fn sse_tool_calls(
    model: &str,
    calls: &[(&str, &str, Vec<&str>)],
    input: u64,
    output: u64,
) -> Vec<String> {
    let mut events = start(model, input);
    for (index, (id, name, pieces)) in calls.iter().enumerate() {
        events.push(event(json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})));
        for piece in pieces {
            events.push(event(json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": piece}})));
        }
        events.push(event(json!({"type": "content_block_stop", "index": index})));
    }
    events.extend(end("tool_use", output));
    events
}

/// An Anthropic error body.
pub fn error_json(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message},
           "request_id": "req_mock"})
    .to_string()
}

/// The mock's answer to an Anthropic path: a short text (streamed or not), a call to the
/// offered tool, or a token count (one token per four bytes of the messages' JSON).
pub fn default_reply(path: &str, request: &Value) -> Reply {
    let model = request["model"]
        .as_str()
        .unwrap_or("claude-mock")
        .to_owned();
    if path.ends_with("/messages/count_tokens") {
        let bytes = request["messages"].to_string().len() + request["system"].to_string().len();
        return Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: json!({"input_tokens": (bytes / 4).max(1)}).to_string(),
        };
    }
    let stream = request["stream"].as_bool() == Some(true);
    let tool = request["tools"][0]["name"]
        .as_str()
        .filter(|_| request["tool_choice"]["type"] != "none");
    match (tool, stream) {
        (Some(name), true) => Reply::sse_events(sse_tool_calls(
            &model,
            &[("toolu_mock1", name, vec!["{\"location\": ", "\"Paris\"}"])],
            20,
            8,
        )),
        (Some(name), false) => Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: message_json(
                &model,
                json!([{"type": "tool_use", "id": "toolu_mock1", "name": name,
                        "input": {"location": "Paris"}}]),
                "tool_use",
                20,
                8,
            ),
        },
        (None, true) => {
            let text = "Hello! This is the Switchyard mock Anthropic upstream.";
            let pieces: Vec<&str> = text.split_inclusive(' ').collect();
            Reply::sse_events(sse_text(&model, &pieces, 12, 10))
        }
        (None, false) => Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: message_json(
                &model,
                json!([{"type": "text", "text": "Hello! This is the Switchyard mock Anthropic upstream."}]),
                "end_turn",
                12,
                10,
            ),
        },
    }
}
