//! Cohere's v2 API as Cohere answers it, for the mock upstream: `/v2/chat` responses and
//! kebab-case SSE events, `/v2/embed`.

use serde_json::{json, Value};

use crate::openai::Reply;
use crate::scenario::{self, Ask, Finish, Plan};

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
    let greeting = "Hello! This is the Switchyard mock Cohere upstream.";
    let plan = scenario::plan(&ask(request), greeting, "call_c");
    if !stream {
        let body = match &plan {
            Plan::Calls(calls) => {
                let calls: Vec<Value> = calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments.to_string()}})
                    })
                    .collect();
                json!({"id": "chat-1", "finish_reason": "TOOL_CALL",
                    "message": {"role": "assistant", "tool_plan": "I will look it up.", "tool_calls": calls},
                    "usage": usage(20, 8)})
            }
            Plan::Text { text, finish } => json!({"id": "chat-1", "finish_reason": reason(finish),
                "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
                "usage": usage(12, 10)}),
        };
        return json_reply(body);
    }
    let mut events = vec![event(json!({"type": "message-start", "id": "chat-1",
        "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}))];
    match &plan {
        Plan::Calls(calls) => {
            events.push(event(json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will look it up."}}})));
            for (index, c) in calls.iter().enumerate() {
                events.push(event(json!({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": {
                    "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}}}}})));
                let arguments = c.arguments.to_string();
                let (head, tail) = arguments.split_at(arguments.len() / 2);
                for piece in [head, tail] {
                    events.push(event(json!({"type": "tool-call-delta", "index": index, "delta": {"message": {"tool_calls": {
                        "function": {"arguments": piece}}}}})));
                }
                events.push(event(json!({"type": "tool-call-end", "index": index})));
            }
            events.push(event(json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": usage(20, 8)}})));
        }
        Plan::Text { text, finish } => {
            events.push(event(json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}})));
            for piece in scenario::pieces(text) {
                events.push(event(json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}})));
            }
            events.push(event(json!({"type": "content-end", "index": 0})));
            events.push(event(json!({"type": "message-end", "delta": {"finish_reason": reason(finish), "usage": usage(12, 10)}})));
        }
    }
    Reply::sse_events(events)
}

fn reason(finish: &Finish) -> &'static str {
    match finish {
        Finish::End => "COMPLETE",
        Finish::Stop(_) => "STOP_SEQUENCE",
        Finish::Length => "MAX_TOKENS",
    }
}

/// What a `/v2/chat` request asks for.
fn ask(request: &Value) -> Ask {
    let messages = request["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tail = scenario::after_last(messages, "role", "assistant");
    let tools = if request["tool_choice"] == "NONE" {
        Vec::new()
    } else {
        request["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
            .collect()
    };
    Ask {
        stop: scenario::strings(&request["stop_sequences"]),
        max_tokens: request["max_tokens"].as_u64(),
        tools,
        tool_results: tail
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| scenario::result_text(&m["content"]))
            .collect(),
        images: tail
            .iter()
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .filter(|p| p["type"] == "image_url")
            .filter_map(|p| p["image_url"]["url"].as_str().map(str::to_owned))
            .collect(),
        json_schema: request["response_format"].get("json_schema").is_some(),
    }
}
