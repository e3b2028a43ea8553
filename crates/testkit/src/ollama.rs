//! Ollama's native API as Ollama answers it, for the mock upstream: `/api/chat` as one JSON
//! object or NDJSON lines ending with `"done": true`, and `/api/embed`.

use serde_json::{json, Value};

use crate::openai::Reply;

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
    let tool = request["tools"][0]["function"]["name"].as_str();
    let lines: Vec<String> = match tool {
        Some(name) => vec![
            line(
                &model,
                json!({"role": "assistant", "content": "", "tool_calls": [
                {"function": {"index": 0, "name": name, "arguments": {"location": "Paris"}}}]}),
                None,
            ),
            line(
                &model,
                json!({"role": "assistant", "content": ""}),
                Some("stop"),
            ),
        ],
        None => {
            let text = "Hello! This is the Switchyard mock Ollama upstream.";
            let mut lines: Vec<String> = text
                .split_inclusive(' ')
                .map(|p| line(&model, json!({"role": "assistant", "content": p}), None))
                .collect();
            lines.push(line(
                &model,
                json!({"role": "assistant", "content": ""}),
                Some("stop"),
            ));
            lines
        }
    };
    if stream {
        return Reply::sse_events(lines);
    }
    // Non-streamed: one object with the whole message.
    let message = match tool {
        Some(name) => json!({"role": "assistant", "content": "", "tool_calls": [
            {"function": {"index": 0, "name": name, "arguments": {"location": "Paris"}}}]}),
        None => {
            json!({"role": "assistant", "content": "Hello! This is the Switchyard mock Ollama upstream."})
        }
    };
    Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: line(&model, message, Some("stop")).trim_end().to_owned(),
    }
}
