//! The Anthropic Messages wire format as Anthropic sends it, for the mock upstream: bodies
//! with Anthropic's field order, SSE events with their `event:` names, and the mock's default
//! answers on `/v1/messages` and `/v1/messages/count_tokens`.

use serde_json::{json, Value};

use crate::openai::Reply;
use crate::scenario::{self, Ask, Finish, Plan};

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
    end_with(stop_reason, None, output)
}

fn end_with(stop_reason: &str, stop_sequence: Option<&str>, output: u64) -> Vec<String> {
    vec![
        event(json!({"type": "message_delta",
                     "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                     "usage": {"output_tokens": output}})),
        event(json!({"type": "message_stop"})),
    ]
}

/// A streamed text answer made of `pieces`.
pub fn sse_text(model: &str, pieces: &[&str], input: u64, output: u64) -> Vec<String> {
    sse_text_stopped(model, pieces, "end_turn", None, input, output)
}

/// [`sse_text`] ending with this stop reason (and matched stop sequence).
pub fn sse_text_stopped(
    model: &str,
    pieces: &[&str],
    stop_reason: &str,
    stop_sequence: Option<&str>,
    input: u64,
    output: u64,
) -> Vec<String> {
    let mut events = start(model, input);
    events.push(event(json!({"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}})));
    for piece in pieces {
        events.push(event(json!({"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": piece}})));
    }
    events.push(event(json!({"type": "content_block_stop", "index": 0})));
    events.extend(end_with(stop_reason, stop_sequence, output));
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
    let greeting = "Hello! This is the Switchyard mock Anthropic upstream.";
    match scenario::plan(&ask(request), greeting, "toolu_mock") {
        Plan::Calls(calls) => {
            if stream {
                let arguments: Vec<String> =
                    calls.iter().map(|c| c.arguments.to_string()).collect();
                let split: Vec<(&str, &str, Vec<&str>)> = calls
                    .iter()
                    .zip(&arguments)
                    .map(|(c, a)| {
                        let (head, tail) = a.split_at(a.len() / 2);
                        (c.id.as_str(), c.name.as_str(), vec![head, tail])
                    })
                    .collect();
                return Reply::sse_events(sse_tool_calls(&model, &split, 20, 8));
            }
            let content: Vec<Value> = calls
                .iter()
                .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}))
                .collect();
            Reply::Json {
                status: 200,
                headers: Vec::new(),
                body: message_json(&model, Value::Array(content), "tool_use", 20, 8),
            }
        }
        Plan::Text { text, finish } => {
            let (reason, sequence) = match &finish {
                Finish::End => ("end_turn", None),
                Finish::Stop(s) => ("stop_sequence", Some(s.as_str())),
                Finish::Length => ("max_tokens", None),
            };
            if stream {
                return Reply::sse_events(sse_text_stopped(
                    &model,
                    &scenario::pieces(&text),
                    reason,
                    sequence,
                    12,
                    10,
                ));
            }
            let mut body: Value = serde_json::from_str(&message_json(
                &model,
                json!([{"type": "text", "text": text}]),
                reason,
                12,
                10,
            ))
            .unwrap_or(Value::Null);
            body["stop_sequence"] = json!(sequence);
            Reply::Json {
                status: 200,
                headers: Vec::new(),
                body: body.to_string(),
            }
        }
    }
}

/// What an Anthropic Messages request asks for.
fn ask(request: &Value) -> Ask {
    let messages = request["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tail = scenario::after_last(messages, "role", "assistant");
    let blocks: Vec<&Value> = tail
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .collect();
    let tools = match request["tool_choice"]["type"].as_str() {
        Some("none") => Vec::new(),
        Some("tool") => scenario::strings(&request["tool_choice"]["name"]),
        _ => request["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect(),
    };
    Ask {
        stop: scenario::strings(&request["stop_sequences"]),
        max_tokens: request["max_tokens"].as_u64(),
        tools,
        tool_results: blocks
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| scenario::result_text(&b["content"]))
            .collect(),
        images: blocks
            .iter()
            .filter(|b| b["type"] == "image")
            .map(|b| b["source"]["data"].as_str().unwrap_or("").to_owned())
            .collect(),
        json_schema: request["output_config"]["format"]["type"] == "json_schema",
    }
}
