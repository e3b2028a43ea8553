//! Cohere's v2 API as Cohere answers it, for the mock upstream: `/v2/chat` responses and
//! kebab-case SSE events, `/v2/embed`.

use serde_json::{json, Value};

use crate::openai::Reply;

/// One SSE event (Cohere names the event in its `type` and sends `data:` lines only).
pub fn event(data: Value) -> String {
    format!(
        "event: {}\ndata: {data}\n\n",
        data["type"].as_str().unwrap_or("")
    )
}

fn usage(input: u64, output: u64) -> Value {
    json!({"billed_units": {"input_tokens": input, "output_tokens": output},
           "tokens": {"input_tokens": input + 3, "output_tokens": output}})
}

pub fn default_reply(path: &str, request: &Value) -> Reply {
    let json_reply = |body: Value| Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: body.to_string(),
    };
    if path.ends_with("/v2/embed") {
        let n = request["texts"].as_array().map_or(0, Vec::len);
        let vectors: Vec<Value> = (0..n).map(|i| json!([0.1, 0.2 * i as f64, 0.3])).collect();
        return json_reply(json!({"id": "emb-1", "embeddings": {"float": vectors},
            "texts": request["texts"], "meta": {"billed_units": {"input_tokens": n}}}));
    }
    let stream = request["stream"].as_bool() == Some(true);
    let tool = request["tools"][0]["function"]["name"].as_str();
    if !stream {
        let body = match tool {
            Some(name) => json!({"id": "chat-1", "finish_reason": "TOOL_CALL",
                "message": {"role": "assistant", "tool_plan": "I will look it up.",
                    "tool_calls": [{"id": "call_c1", "type": "function",
                        "function": {"name": name, "arguments": "{\"location\":\"Paris\"}"}}]},
                "usage": usage(20, 8)}),
            None => json!({"id": "chat-1", "finish_reason": "COMPLETE",
                "message": {"role": "assistant", "content": [
                    {"type": "text", "text": "Hello! This is the Switchyard mock Cohere upstream."}]},
                "usage": usage(12, 10)}),
        };
        return json_reply(body);
    }
    let mut events = vec![event(json!({"type": "message-start", "id": "chat-1",
        "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}))];
    match tool {
        Some(name) => {
            events.push(event(json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will look it up."}}})));
            events.push(event(json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                "id": "call_c1", "type": "function", "function": {"name": name, "arguments": ""}}}}})));
            for piece in ["{\"location\":", "\"Paris\"}"] {
                events.push(event(json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {
                    "function": {"arguments": piece}}}}})));
            }
            events.push(event(json!({"type": "tool-call-end", "index": 0})));
            events.push(event(json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": usage(20, 8)}})));
        }
        None => {
            events.push(event(json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}})));
            for piece in "Hello! This is the Switchyard mock Cohere upstream.".split_inclusive(' ')
            {
                events.push(event(json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}})));
            }
            events.push(event(json!({"type": "content-end", "index": 0})));
            events.push(event(json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage(12, 10)}})));
        }
    }
    Reply::sse_events(events)
}
