//! The OpenAI front door on the embedded engine: real models from the model store
//! (`./scripts/test` pulls them), the real HTTP server, reqwest as the client.

#![cfg(feature = "llama")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt;
use serde_json::{json, Value};

mod common;
use common::Gateway;

fn model_path(name: &str) -> String {
    let store = switchyard_models::Store::from_env();
    let entry = switchyard_models::find(name).unwrap();
    assert!(
        store.is_present(&entry),
        "model {name} is not in {}: run `switchyard models pull {name}` (./scripts/test does)",
        store.home().display()
    );
    store.load_path(&entry).display().to_string()
}

impl Gateway {
    async fn start(parallel: u32, queue: u32) -> Gateway {
        let text = format!(
            r#"
[[providers]]
id = "local-chat"
type = "local"
path = "{chat}"
parallel = {parallel}
queue = {queue}
context_size = 1024

[[providers]]
id = "local-embedding"
type = "local"
path = "{embed}"

[[models]]
name = "default"
route = [{{ provider = "local-chat", model = "qwen2.5-coder-0.5b-instruct" }}]

[[models]]
name = "default-embedding"
route = [{{ provider = "local-embedding", model = "all-minilm-l6-v2" }}]
"#,
            chat = model_path("default"),
            embed = model_path("default-embedding"),
        );
        let config = switchyard_config::load_str(&text, &|_| None).unwrap();
        assert_eq!(config.providers[0].jurisdiction.0, "LOCAL");
        Gateway::serve(&config, Duration::from_secs(5)).await
    }

    /// POSTs `body` and returns the JSON answer (whatever its status).
    async fn post_json(&self, path: &str, body: Value) -> Value {
        self.post(path, body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn ask(text: &str) -> Value {
    json!({"model": "default", "messages": [{"role": "user", "content": text}], "temperature": 0, "max_tokens": 40})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_streaming_and_not_on_the_local_model() {
    let gw = Gateway::start(2, 8).await;
    let resp = gw
        .post(
            "/v1/chat/completions",
            ask("What is the capital of France? One word."),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "qwen2.5-coder-0.5b-instruct");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Paris"),
        "{body}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    let mut req = ask("What is the capital of France? One word.");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let resp = gw.post("/v1/chat/completions", req).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"));
    let mut content = String::new();
    let mut stream_usage = None;
    for e in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(e).unwrap();
        if let Some(c) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(c);
        }
        if !chunk["usage"].is_null() {
            stream_usage = Some(chunk["usage"].clone());
        }
    }
    assert_eq!(
        content,
        body["choices"][0]["message"]["content"].as_str().unwrap(),
        "greedy: same answer"
    );
    let stream_usage = stream_usage.unwrap();
    for field in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(stream_usage[field], body["usage"][field], "{field}");
    }
    // The second identical prompt was served from the KV cache (all but its last token).
    assert_eq!(
        stream_usage["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
            + 1,
        stream_usage["prompt_tokens"].as_u64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_and_json_mode_through_the_openai_dialect() {
    let gw = Gateway::start(2, 8).await;
    let mut req = ask("What's the weather in Berlin?");
    req["tools"] = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    req["tool_choice"] = json!("required");
    let body = gw.post_json("/v1/chat/completions", req).await;
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls", "{body}");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string());

    let mut req =
        ask("Give a JSON object with the name and the length in km of one famous railway line.");
    req["response_format"] = json!({"type": "json_object"});
    req["max_tokens"] = json!(400);
    let body = gw.post_json("/v1/chat/completions", req).await;
    assert_eq!(body["choices"][0]["finish_reason"], "stop", "{body}");
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("{e}: {content}"));
    assert!(parsed.is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_match_the_reference_and_models_are_listed() {
    let gw = Gateway::start(1, 4).await;
    let reference: Value = serde_json::from_str(include_str!(
        "../../engine/tests/fixtures/minilm_reference.json"
    ))
    .unwrap();
    let case = &reference["cases"][0];
    let resp = gw
        .post(
            "/v1/embeddings",
            json!({"model": "default-embedding", "input": [case["text"], "second"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let got: Vec<f64> = body["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), 384);
    for (g, e) in got.iter().zip(case["embedding"].as_array().unwrap()) {
        assert!((g - e.as_f64().unwrap()).abs() < 1e-4);
    }
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let body: Value = gw
        .post(
            "/v1/embeddings",
            json!({"model": "default-embedding", "input": "hello", "encoding_format": "base64"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 384 * 4);

    let resp = gw
        .post(
            "/v1/embeddings",
            json!({"model": "default-embedding", "input": "x", "dimensions": 64}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = gw
        .post("/v1/embeddings", json!({"model": "default", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chat model"),
        "{err}"
    );

    let models: Value = reqwest::get(format!("{}/v1/models", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["default", "default-embedding"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_long_prompts_full_queues_and_cancelled_streams() {
    let gw = Gateway::start(1, 1).await;
    // Longer than the 1024-token context: a 400 in OpenAI's shape, not a crash.
    let resp = gw
        .post("/v1/chat/completions", ask(&"lorem ipsum ".repeat(700)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "context_length_exceeded");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("maximum context length is 1024"));

    // One long stream occupies the only slot, one request waits, the next is refused.
    let mut long = ask("Write a long essay about the history of railways.");
    long["max_tokens"] = json!(600);
    long["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", long).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    body.next().await.unwrap().unwrap();
    let waiting = tokio::spawn(gw.post("/v1/chat/completions", ask("Hi")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = gw
        .post("/v1/chat/completions", ask("Hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));

    // The client goes away: its generation stops, and the waiting request is served.
    let t = Instant::now();
    drop(body);
    let served = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(served.status(), 200);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the abandoned stream kept the slot for {:?}",
        t.elapsed()
    );
}
