//! The Gemini API front door end to end over an OpenAI-compatible mock upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use switchyard_testkit::MockOpenAi;

mod common;
use common::Gateway;

async fn start(mock: &MockOpenAi, extra: &str) -> Gateway {
    let text = format!(
        r#"{extra}
[[providers]]
id = "up"
type = "openai"
base_url = "{}"

[[models]]
name = "gemini-2.5-flash"
route = [{{ provider = "up", model = "gpt-4o-mini" }}]

[[models]]
name = "text-embedding-004"
route = [{{ provider = "up", model = "text-embedding-3-small" }}]
"#,
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    Gateway::serve(&config, Duration::from_millis(500)).await
}

fn ask() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
           "generationConfig": {"maxOutputTokens": 50}})
}

#[tokio::test]
async fn generate_content() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let resp = gw
        .post("/v1beta/models/gemini-2.5-flash:generateContent", ask())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let candidate = &body["candidates"][0];
    assert_eq!(
        candidate["content"],
        json!({"role": "model", "parts": [{"text": "Hello! This is the Switchyard mock upstream."}]})
    );
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(body["usageMetadata"]["promptTokenCount"], 12);
    assert_eq!(body["usageMetadata"]["candidatesTokenCount"], 9);
    assert_eq!(body["usageMetadata"]["totalTokenCount"], 21);
    assert_eq!(mock.requests()[0].json()["max_completion_tokens"], 50);
}

#[tokio::test]
async fn stream_as_sse_and_as_json_array() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let resp = gw
        .post(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            ask(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let chunks: Vec<Value> = text
        .split("\r\n\r\n")
        .filter(|c| !c.is_empty())
        .map(|c| serde_json::from_str(c.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    let joined: String = chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(joined, "Hello! This is the Switchyard mock upstream.");
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );

    let resp = gw
        .post(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            ask(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let array: Value = resp.json().await.unwrap();
    assert!(array.as_array().unwrap().len() > 2);
}

#[tokio::test]
async fn function_calling_round_trip() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let tools = json!([{"functionDeclarations": [{"name": "get_weather",
        "parameters": {"type": "OBJECT", "properties": {"location": {"type": "STRING"}}}}]}]);
    let mut body = ask();
    body["tools"] = tools.clone();
    let resp = gw
        .post("/v1beta/models/gemini-2.5-flash:generateContent", body)
        .send()
        .await
        .unwrap();
    let answer: Value = resp.json().await.unwrap();
    let call = &answer["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["args"], json!({"location": "Paris"}));
    assert_eq!(answer["candidates"][0]["finishReason"], "STOP");
    let sent = mock.requests()[0].json();
    assert_eq!(
        sent["tools"][0]["function"]["parameters"],
        json!({"type": "object", "properties": {"location": {"type": "string"}}})
    );

    // The call and its response go back, without ids, as Gemini clients send them.
    let body = json!({
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}}]}
        ],
        "tools": tools,
        "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}
    });
    let resp = gw
        .post("/v1beta/models/gemini-2.5-flash:generateContent", body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = mock.requests()[1].json();
    let msgs = sent["messages"].as_array().unwrap();
    let call_id = msgs[1]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(msgs[2]["tool_call_id"], call_id);
    assert_eq!(msgs[2]["content"], "18C");
}

#[tokio::test]
async fn embeddings_single_and_batched() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let resp = gw
        .post(
            "/v1beta/models/text-embedding-004:embedContent",
            json!({"content": {"parts": [{"text": "hello"}]}}),
        )
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["embedding"]["values"].as_array().unwrap().len(), 8);
    let resp = gw
        .post(
            "/v1beta/models/text-embedding-004:batchEmbedContents",
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}}
            ]}),
        )
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn errors_keys_and_model_list_in_google_shape() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "api_keys = [\"sk-gem\"]").await;
    let resp = gw
        .post("/v1beta/models/gemini-2.5-flash:generateContent", ask())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(body["error"]["code"], 401);

    let resp = gw
        .post("/v1beta/models/nope:generateContent?key=sk-gem", ask())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "NOT_FOUND");

    let resp = gw
        .post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            json!({"contents": []}),
        )
        .header("x-goog-api-key", "sk-gem")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");

    let list: Value = reqwest::Client::new()
        .get(format!("{}/v1beta/models", gw.url))
        .header("x-goog-api-key", "sk-gem")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["models"][0]["name"], "models/gemini-2.5-flash");
}

#[tokio::test]
async fn anthropic_clients_reach_a_gemini_upstream() {
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        r#"
[[providers]]
id = "google"
type = "gemini"
base_url = "{}"
api_key = "AIza-upstream-secret-0123"

[[models]]
name = "smart"
route = [{{ provider = "google", model = "gemini-2.5-flash" }}]
"#,
        mock.base_url().trim_end_matches("/v1")
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let gw = Gateway::serve(&config, Duration::from_millis(500)).await;
    let body = json!({"model": "smart", "max_tokens": 100, "stream": true, "system": "Be brief.",
                      "messages": [{"role": "user", "content": "hi"}]});
    let resp = gw.post("/v1/messages", body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let joined: String = text
        .split("\n\n")
        .filter_map(|e| e.lines().nth(1)?.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|e| e["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        joined,
        "Hello! This is the Switchyard mock Gemini upstream."
    );
    assert!(text.contains("\"stop_reason\":\"end_turn\""));
    let sent = &mock.requests()[0];
    assert!(
        sent.path.ends_with(":streamGenerateContent?alt=sse"),
        "{}",
        sent.path
    );
    assert_eq!(
        sent.header("x-goog-api-key"),
        Some("AIza-upstream-secret-0123")
    );
    let body = sent.json();
    assert_eq!(body["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 100);
}
