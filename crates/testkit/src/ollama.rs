//! Ollama's native API as Ollama answers it, for the mock upstream: `/api/chat` as one JSON
//! object or NDJSON lines ending with `"done": true`, and `/api/embed`.

use serde_json::{json, Value};

use crate::openai::Reply;
use crate::scenario::{self, Ask, Finish, Plan};

/// One NDJSON line (or the whole non-streamed answer).
pub fn line(model: &str, message: Value, done: Option<&str>) -> String {
    let mut v = json!({"model": model, "created_at": "2026-11-28T09:00:00.000000Z",
                       "message": message, "done": done.is_some()});
    if let Some(reason) = done {
        v["done_reason"] = json!(reason);
        v["total_duration"] = json!(5_000_000u64);
        v["load_duration"] = json!(1_000_000u64);
        v["prompt_eval_count"] = json!(12);
        v["prompt_eval_duration"] = json!(1_000_000u64);
        v["eval_count"] = json!(10);
        v["eval_duration"] = json!(3_000_000u64);
    }
    format!("{v}\n")
}

pub fn default_reply(path: &str, request: &Value) -> Reply {
    let model = request["model"].as_str().unwrap_or("llama3.2").to_owned();
    if path.ends_with("/api/embed") {
        let n = request["input"].as_array().map_or(1, Vec::len);
        let embeddings: Vec<Value> = (0..n).map(|i| json!([0.5, 0.25 * i as f64, 0.0])).collect();
        return Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: json!({"model": model, "embeddings": embeddings, "prompt_eval_count": n})
                .to_string(),
        };
    }
    let stream = request["stream"].as_bool() != Some(false);
    let greeting = "Hello! This is the Switchyard mock Ollama upstream.";
    let (messages, reason) = match scenario::plan(&ask(request), greeting, "call_ollama") {
        Plan::Calls(calls) => {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"function": {"index": i, "name": c.name, "arguments": c.arguments}}))
                .collect();
            (
                vec![json!({"role": "assistant", "content": "", "tool_calls": calls})],
                "stop",
            )
        }
        Plan::Text { text, finish } => {
            let reason = match finish {
                Finish::Length => "length",
                Finish::End | Finish::Stop(_) => "stop",
            };
            let pieces = scenario::pieces(&text)
                .into_iter()
                .map(|p| json!({"role": "assistant", "content": p}))
                .collect();
            (pieces, reason)
        }
    };
    if stream {
        let mut lines: Vec<String> = messages
            .iter()
            .map(|m| line(&model, m.clone(), None))
            .collect();
        lines.push(line(
            &model,
            json!({"role": "assistant", "content": ""}),
            Some(reason),
        ));
        return Reply::sse_events(lines);
    }
    // Non-streamed: one object with the whole message.
    let mut message = json!({"role": "assistant", "content": ""});
    let text: String = messages
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    message["content"] = json!(text);
    if let Some(calls) = messages.iter().find_map(|m| m.get("tool_calls")) {
        message["tool_calls"] = calls.clone();
    }
    Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: line(&model, message, Some(reason)).trim_end().to_owned(),
    }
}

/// What an `/api/chat` request asks for.
fn ask(request: &Value) -> Ask {
    let messages = request["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tail = scenario::after_last(messages, "role", "assistant");
    let format = &request["format"];
    Ask {
        stop: scenario::strings(&request["options"]["stop"]),
        max_tokens: request["options"]["num_predict"].as_u64(),
        tools: request["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
            .collect(),
        tool_results: tail
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| scenario::result_text(&m["content"]))
            .collect(),
        images: tail
            .iter()
            .flat_map(|m| scenario::strings(&m["images"]))
            .collect(),
        json_schema: format.is_object(),
    }
}
