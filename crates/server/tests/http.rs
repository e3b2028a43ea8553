//! The real HTTP server end to end: reqwest as the client, the testkit mock as the upstream,
//! every process on ephemeral loopback ports so tests run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use switchyard_testkit::openai::{sse_text_pieces, sse_tool_call_pieces};
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};

mod common;
use common::Gateway;

impl Gateway {
    /// Starts a gateway whose config is `extra` (top-level keys) plus providers `up` and
    /// `up2` pointing at the two mocks, and models `m` (up), `fallback` (up, then up2) and
    /// `emb` (up).
    async fn start(mock: &MockOpenAi, mock2: &MockOpenAi, extra: &str) -> Gateway {
        let text = format!(
            r#"{extra}
[timeouts]
first_byte_s = 0.5
idle_s = 0.4
total_s = 10

[[providers]]
id = "up"
type = "openai"
base_url = "{}"
api_key = "${{TEST_UPSTREAM_KEY}}"
jurisdiction = "EU"

[[providers]]
id = "up2"
type = "vllm"
base_url = "{}"
hosting = "on-prem"

[[models]]
name = "m"
route = [{{ provider = "up", model = "gpt-4o-mini" }}]

[[models]]
name = "fallback"
route = [{{ provider = "up", model = "a" }}, {{ provider = "up2", model = "b" }}]

[[models]]
name = "emb"
route = [{{ provider = "up", model = "text-embedding-3-small" }}]
"#,
            mock.base_url(),
            mock2.base_url()
        );
        let env = |name: &str| {
            (name == "TEST_UPSTREAM_KEY").then(|| "sk-upstream-secret-0123456789".to_owned())
        };
        let config = switchyard_config::load_str(&text, &env).unwrap();
        Gateway::serve(&config, Duration::from_millis(500)).await
    }
}

async fn mocks() -> (MockOpenAi, MockOpenAi) {
    (
        MockOpenAi::start().await.unwrap(),
        MockOpenAi::start().await.unwrap(),
    )
}

fn chat(model: &str, stream: bool) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    if stream {
        body["stream"] = json!(true);
    }
    body
}

/// The `data:` payloads of an SSE body.
fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn non_streaming_chat_with_metadata_headers() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    let resp = gw
        .post("/v1/chat/completions", chat("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    assert_eq!(resp.headers()["x-switchyard-provider"], "up");
    assert_eq!(resp.headers()["x-switchyard-deployment"], "up/gpt-4o-mini");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello! This is the Switchyard mock upstream."
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 21);
    assert_eq!(
        mock.requests()[0].header("authorization"),
        Some("Bearer sk-upstream-secret-0123456789")
    );
}

#[tokio::test]
async fn streaming_with_and_without_include_usage() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    let mut body = chat("m", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = gw.post("/v1/chat/completions", body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-switchyard-provider"], "up");
    let data = sse_data(&resp.text().await.unwrap());
    assert_eq!(data.last().unwrap(), "[DONE]");
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 12);
    let text: String = data[..data.len() - 2]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello! This is the Switchyard mock upstream.");

    // Without include_usage: no usage chunk and no usage field, although the gateway still
    // asked the upstream for usage (for its own accounting).
    let resp = gw
        .post("/v1/chat/completions", chat("m", true))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(!text.contains("usage"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(
        mock.requests()[1].json()["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn parallel_tool_calls_stream_through_split_frames() {
    let (mock, mock2) = mocks().await;
    mock.push(Reply::sse_split(
        sse_tool_call_pieces(
            "gpt-4o-mini",
            &[
                ("call_1", "get_weather", vec!["{\"ci", "ty\":\"Paris\"}"]),
                ("call_2", "get_time", vec!["{}"]),
            ],
            true,
        ),
        11,
        Duration::from_millis(1),
    ));
    let gw = Gateway::start(&mock, &mock2, "").await;
    let mut body = chat("m", true);
    body["tools"] = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "get_time"}}
    ]);
    let resp = gw.post("/v1/chat/completions", body).send().await.unwrap();
    let data = sse_data(&resp.text().await.unwrap());
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut finish = None;
    for d in &data[..data.len() - 1] {
        let chunk: Value = serde_json::from_str(d).unwrap();
        if let Some(reason) = chunk["choices"][0]["finish_reason"].as_str() {
            finish = Some(reason.to_owned());
        }
        for tc in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap() as usize;
            if calls.len() <= i {
                calls.push((
                    tc["id"].as_str().unwrap().into(),
                    tc["function"]["name"].as_str().unwrap().into(),
                    String::new(),
                ));
            }
            calls[i]
                .2
                .push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(
        calls,
        vec![
            (
                "call_1".into(),
                "get_weather".into(),
                "{\"city\":\"Paris\"}".into()
            ),
            ("call_2".into(), "get_time".into(), "{}".into()),
        ]
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert_eq!(
        mock.requests()[0].json()["tools"][0]["function"]["name"],
        "get_weather"
    );
}

#[tokio::test]
async fn keys_when_configured() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "api_keys = [\"sk-client-good\"]").await;
    let missing = gw
        .post("/v1/chat/completions", chat("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    let wrong = gw
        .post("/v1/chat/completions", chat("m", false))
        .bearer_auth("sk-client-bad")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains("sk-client-bad"));
    let good = gw
        .post("/v1/chat/completions", chat("m", false))
        .bearer_auth("sk-client-good")
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    let models = reqwest::Client::new()
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 401);
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn client_errors_in_openai_shape() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    let client = reqwest::Client::new();
    let unknown = gw
        .post("/v1/chat/completions", chat("nope", false))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(body["error"]["param"], "model");
    let malformed = client
        .post(format!("{}/v1/chat/completions", gw.url))
        .body("{\"model\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let schema = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "m", "messages": "hi"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 400);
    let path = client
        .get(format!("{}/v2/whatever", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(path.status(), 404);
    let body: Value = path.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v2/whatever"));
    let wrong_method = client
        .get(format!("{}/v1/chat/completions", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: Value = wrong_method.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let too_big = client
        .post(format!("{}/v1/chat/completions", gw.url))
        .body(vec![b' '; 33 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let body: Value = too_big.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn upstream_failures_map_to_gateway_statuses_without_secrets() {
    let (mock, mock2) = mocks().await;
    // Every case fails on purpose: keep the breaker from ejecting the deployment.
    let gw = Gateway::start(&mock, &mock2, "[routing]\nbreaker_failures = 100").await;
    let cases: Vec<(Reply, u16)> = vec![
        (Reply::error(500, "server_error", "boom", None), 502),
        (Reply::error(503, "server_error", "busy", None), 503),
        (Reply::error(429, "requests", "slow down", Some("0.2")), 429),
        (
            Reply::error(
                400,
                "invalid_request_error",
                "context_length_exceeded",
                None,
            ),
            400,
        ),
        (
            Reply::error(
                401,
                "invalid_request_error",
                "Incorrect API key provided: sk-upstream-secret-0123456789",
                None,
            ),
            502,
        ),
    ];
    for (reply, status) in cases {
        // A 429 cools the deployment down for its Retry-After (0.2 s here).
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        // 5xx are retried twice (the default) before they are reported; a 429 cools the
        // deployment down instead, and client errors are never retried.
        let sent = if matches!(status, 502 | 503) { 3 } else { 1 };
        for _ in 0..sent {
            mock.push(reply.clone());
        }
        let resp = gw
            .post("/v1/chat/completions", chat("m", false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status);
        let text = resp.text().await.unwrap();
        assert!(!text.contains("sk-upstream"), "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(body["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn unreachable_upstream_is_503_and_hung_upstream_is_504_in_time() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    mock.push(Reply::Hang);
    let started = Instant::now();
    let resp = gw
        .post("/v1/chat/completions", chat("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(500 + 1000),
        "{:?}",
        started.elapsed()
    );

    mock.push(Reply::Hang);
    let started = Instant::now();
    let resp = gw
        .post("/v1/chat/completions", chat("m", true))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        504,
        "a stream that never started is a plain error"
    );
    assert!(started.elapsed() < Duration::from_millis(500 + 1000));

    drop(mock);
    let resp = gw
        .post("/v1/chat/completions", chat("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
}

#[tokio::test]
async fn fallback_to_the_next_deployment_on_retryable_errors_only() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    mock.push(Reply::error(500, "server_error", "boom", None));
    let resp = gw
        .post("/v1/chat/completions", chat("fallback", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "up2");
    assert_eq!(resp.headers()["x-switchyard-attempts"], "2");
    assert_eq!(mock2.requests()[0].json()["model"], "b");

    mock.push(Reply::error(400, "invalid_request_error", "bad", None));
    let resp = gw
        .post("/v1/chat/completions", chat("fallback", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        mock2.request_count(),
        1,
        "client errors are never retried elsewhere"
    );

    // A stream that fails before its first content byte also falls back.
    mock.push(Reply::error(503, "server_error", "busy", None));
    let resp = gw
        .post("/v1/chat/completions", chat("fallback", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "up2");
    assert!(resp.text().await.unwrap().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn failure_after_the_first_byte_ends_with_an_error_event_and_no_replay() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    let mut events = sse_text_pieces("gpt-4o-mini", &["partial "], false);
    events.truncate(2);
    mock.push(Reply::sse_paced(events, Duration::ZERO, SseEnd::Hold));
    let started = Instant::now();
    let resp = gw
        .post("/v1/chat/completions", chat("fallback", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let data = sse_data(&resp.text().await.unwrap());
    assert!(
        started.elapsed() < Duration::from_millis(400 + 1000),
        "{:?}",
        started.elapsed()
    );
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    assert!(last["error"]["message"]
        .as_str()
        .unwrap()
        .contains("timed out"));
    assert!(!data.iter().any(|d| d == "[DONE]"));
    assert!(data.iter().any(|d| d.contains("partial ")));
    assert_eq!(mock2.request_count(), 0, "never switched after commit");
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    let resp = gw
        .post(
            "/v1/embeddings",
            json!({"model": "emb", "input": ["a", "b"], "dimensions": 4}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][1]["index"], 1);
    let floats: Vec<f32> = serde_json::from_value(body["data"][0]["embedding"].clone()).unwrap();
    assert_eq!(floats.len(), 4);
    let resp = gw
        .post(
            "/v1/embeddings",
            json!({"model": "emb", "input": "a", "dimensions": 4, "encoding_format": "base64"}),
        )
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"][0]["embedding"].as_str().unwrap().len(), 24); // 16 bytes -> 24 base64 chars
    assert_eq!(mock.requests()[1].json()["encoding_format"], "float");
}

#[tokio::test]
async fn models_metrics_and_health() {
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    let client = reqwest::Client::new();
    let models: Value = client
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["m", "fallback", "emb"]);
    gw.post("/v1/chat/completions", chat("m", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    gw.post("/v1/chat/completions", chat("nope", false))
        .send()
        .await
        .unwrap();
    let metrics = client
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("switchyard_requests_total{model=\"m\",provider=\"up\",dialect=\"openai\",status=\"200\"} 1"), "{metrics}");
    assert!(metrics.contains("switchyard_requests_total{model=\"none\",provider=\"none\",dialect=\"openai\",status=\"404\"} 1"));
    assert!(metrics
        .contains("switchyard_time_to_first_token_seconds_count{model=\"m\",provider=\"up\"} 1"));
    assert!(metrics
        .contains("switchyard_tokens_total{model=\"m\",provider=\"up\",direction=\"input\"} 12"));
    assert!(!metrics.contains("sk-upstream"));
    assert_eq!(
        client
            .get(format!("{}/healthz", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{}/readyz", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn client_disconnect_mid_stream_is_recorded_as_cancelled() {
    let (mock, mock2) = mocks().await;
    let events = sse_text_pieces("gpt-4o-mini", &["a"; 20], false);
    mock.push(Reply::sse_paced(
        events,
        Duration::from_millis(30),
        SseEnd::Close,
    ));
    let gw = Gateway::start(&mock, &mock2, "").await;
    let resp = gw
        .post("/v1/chat/completions", chat("m", true))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    body.next().await.unwrap().unwrap();
    drop(body);
    let client = reqwest::Client::new();
    let mut seen = false;
    for _ in 0..50 {
        let metrics = client
            .get(format!("{}/metrics", gw.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("status=\"499\"") && metrics.contains("kind=\"client_cancelled\"") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "cancelled stream not recorded");
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_streams_finish() {
    let (mock, mock2) = mocks().await;
    let events = sse_text_pieces("gpt-4o-mini", &["x"; 8], false);
    mock.push(Reply::sse_paced(
        events,
        Duration::from_millis(50),
        SseEnd::Close,
    ));
    let mut gw = Gateway::start(&mock, &mock2, "").await;
    let resp = gw
        .post("/v1/chat/completions", chat("m", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    gw.shutdown.take().unwrap().send(()).unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(text.matches("\"content\":\"x\"").count(), 8);
    let result = tokio::time::timeout(Duration::from_secs(5), &mut gw.task)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_ok());
    assert!(reqwest::Client::new()
        .get(format!("{}/healthz", gw.url))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mock, mock2) = mocks().await;
    let gw = Gateway::start(&mock, &mock2, "").await;
    let mut tcp = tokio::net::TcpStream::connect(gw.url.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 3 s");
    assert!(
        started.elapsed() < Duration::from_millis(500 + 1000),
        "{:?}",
        started.elapsed()
    );
    // The server still serves everyone else.
    let resp = gw
        .post("/v1/chat/completions", chat("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
