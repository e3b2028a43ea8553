//! The Gemini API wire format as Google sends it, for the mock upstream: responses with
//! camelCase fields, SSE chunks framed with CRLF, and the default answers on
//! `models/{m}:generateContent`, `:streamGenerateContent`, `:countTokens` and
//! `:batchEmbedContents`.

use serde_json::{json, Value};

use crate::openai::Reply;
use crate::scenario::{self, Ask, Finish, Plan};

/// One response (or stream chunk) with these parts.
pub fn response_json(parts: Value, finish: Option<&str>, prompt: u64, output: u64) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(reason) = finish {
        candidate["finishReason"] = json!(reason);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": output,
                          "totalTokenCount": prompt + output},
        "modelVersion": "gemini-mock-001",
        "responseId": "mock-response-1"
    })
}

/// SSE events (`data: ...\r\n\r\n`, as Gemini frames them).
pub fn sse(chunks: &[Value]) -> Vec<String> {
    chunks
        .iter()
        .map(|c| format!("data: {c}\r\n\r\n"))
        .collect()
}

pub fn error_json(code: u16, status: &str, message: &str) -> String {
    json!({"error": {"code": code, "message": message, "status": status}}).to_string()
}

/// The mock's answer on a Gemini path.
pub fn default_reply(path: &str, request: &Value) -> Reply {
    let json_reply = |body: Value| Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: body.to_string(),
    };
    if path.contains(":countTokens") {
        let bytes = request.to_string().len() as u64;
        return json_reply(json!({"totalTokens": (bytes / 4).max(1)}));
    }
    if path.contains(":batchEmbedContents") {
        let n = request["requests"].as_array().map_or(0, Vec::len);
        let embeddings: Vec<Value> = (0..n)
            .map(|i| json!({"values": [0.1 * i as f64, 0.2, 0.3, 0.4]}))
            .collect();
        return json_reply(json!({"embeddings": embeddings}));
    }
    let stream = path.contains(":streamGenerateContent");
    let greeting = "Hello! This is the Switchyard mock Gemini upstream.";
    let reply = |chunks: Vec<Value>| {
        if stream {
            Reply::sse_events(sse(&chunks))
        } else {
            let mut whole = chunks.last().cloned().unwrap_or(Value::Null);
            let parts: Vec<Value> = chunks
                .iter()
                .flat_map(|c| {
                    c["candidates"][0]["content"]["parts"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .collect();
            let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            whole["candidates"][0]["content"]["parts"] =
                if parts.iter().all(|p| p.get("text").is_some()) {
                    json!([{ "text": text }])
                } else {
                    Value::Array(parts)
                };
            json_reply(whole)
        }
    };
    match scenario::plan(&ask(request), greeting, "") {
        Plan::Calls(calls) => {
            let parts: Vec<Value> = calls
                .iter()
                .map(|c| json!({"functionCall": {"name": c.name, "args": c.arguments}}))
                .collect();
            reply(vec![response_json(
                Value::Array(parts),
                Some("STOP"),
                20,
                6,
            )])
        }
        Plan::Text { text, finish } => {
            let reason = match finish {
                Finish::Length => "MAX_TOKENS",
                Finish::End | Finish::Stop(_) => "STOP",
            };
            let pieces = scenario::pieces(&text);
            let last = pieces.len() - 1;
            reply(
                pieces
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        response_json(
                            json!([{ "text": p }]),
                            (i == last).then_some(reason),
                            12,
                            i as u64 + 1,
                        )
                    })
                    .collect(),
            )
        }
    }
}

/// What a generateContent request asks for.
fn ask(request: &Value) -> Ask {
    let contents = request["contents"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tail = scenario::after_last(contents, "role", "model");
    let parts: Vec<&Value> = tail
        .iter()
        .flat_map(|c| c["parts"].as_array().into_iter().flatten())
        .collect();
    let calling = &request["toolConfig"]["functionCallingConfig"];
    let tools = if calling["mode"] == "NONE" {
        Vec::new()
    } else if calling["allowedFunctionNames"].is_array() {
        scenario::strings(&calling["allowedFunctionNames"])
    } else {
        request["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect()
    };
    let config = &request["generationConfig"];
    Ask {
        stop: scenario::strings(&config["stopSequences"]),
        max_tokens: config["maxOutputTokens"].as_u64(),
        tools,
        tool_results: parts
            .iter()
            .filter_map(|p| p.get("functionResponse"))
            .map(|r| scenario::result_text(&r["response"]))
            .collect(),
        images: parts
            .iter()
            .filter_map(|p| p["inlineData"]["data"].as_str().map(str::to_owned))
            .collect(),
        json_schema: config.get("responseSchema").is_some()
            || config.get("responseJsonSchema").is_some(),
    }
}

/// Vertex AI's `:predict` for text-embedding models: one prediction per instance.
pub fn predict_reply(request: &Value) -> Reply {
    let predictions: Vec<Value> = request["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, instance)| {
            let words = instance["content"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .count();
            json!({"embeddings": {"values": [0.25, 0.5 * i as f64, 0.75],
                   "statistics": {"truncated": false, "token_count": words}}})
        })
        .collect();
    Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: json!({"predictions": predictions, "metadata": {"billableCharacterCount": 12}})
            .to_string(),
    }
}
