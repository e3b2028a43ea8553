//! The Gemini API wire format as Google sends it, for the mock upstream: responses with
//! camelCase fields, SSE chunks framed with CRLF, and the default answers on
//! `models/{m}:generateContent`, `:streamGenerateContent`, `:countTokens` and
//! `:batchEmbedContents`.

use serde_json::{json, Value};

use crate::openai::Reply;

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
    let tool = request["tools"][0]["functionDeclarations"][0]["name"]
        .as_str()
        .filter(|_| request["toolConfig"]["functionCallingConfig"]["mode"] != "NONE");
    if let Some(name) = tool {
        let call = json!([{"functionCall": {"name": name, "args": {"location": "Paris"}}}]);
        let body = response_json(call, Some("STOP"), 20, 6);
        return if stream {
            Reply::sse_events(sse(&[body]))
        } else {
            json_reply(body)
        };
    }
    let text = "Hello! This is the Switchyard mock Gemini upstream.";
    if stream {
        let pieces: Vec<&str> = text.split_inclusive(' ').collect();
        let last = pieces.len() - 1;
        let chunks: Vec<Value> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                response_json(
                    json!([{"text": p}]),
                    (i == last).then_some("STOP"),
                    12,
                    i as u64 + 1,
                )
            })
            .collect();
        Reply::sse_events(sse(&chunks))
    } else {
        json_reply(response_json(json!([{"text": text}]), Some("STOP"), 12, 10))
    }
}
