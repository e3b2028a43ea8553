//! The Anthropic Messages front door end to end over an OpenAI-compatible mock upstream:
//! reqwest as the client, every process on ephemeral loopback ports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use switchyard_testkit::openai::{sse_text_pieces, sse_tool_call_pieces};
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};

mod common;
use common::Gateway;

async fn start(mock: &MockOpenAi, extra: &str) -> Gateway {
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
api_key = "sk-upstream"

[[models]]
name = "claude-via-openai"
route = [{{ provider = "up", model = "gpt-4o-mini" }}]
"#,
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    Gateway::serve(&config, Duration::from_millis(500)).await
}

fn messages(stream: bool) -> Value {
    json!({
        "model": "claude-via-openai",
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]
    })
}

/// `(event name, data)` pairs of an SSE body (comments skipped, as every SSE parser does).
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.is_empty() && !e.starts_with(':'))
        .map(|e| {
            let mut lines = e.lines();
            let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            (name.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn non_streaming_message() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let resp = gw
        .post("/v1/messages", messages(false))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "up");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello! This is the Switchyard mock upstream."}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    assert_eq!(body["usage"]["input_tokens"], 12);
    assert_eq!(body["usage"]["output_tokens"], 9);
    // The upstream got OpenAI's shape.
    let sent = mock.requests()[0].json();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["max_completion_tokens"], 256);
}

#[tokio::test]
async fn streaming_text_has_anthropics_event_sequence() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let resp = gw
        .post("/v1/messages", messages(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = events(&resp.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..3],
        ["message_start", "ping", "content_block_start"]
    );
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Hello! This is the Switchyard mock upstream.");
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(delta["usage"]["input_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn tool_round_trip_with_parallel_calls_streamed() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::sse_split(
        sse_tool_call_pieces(
            "gpt-4o-mini",
            &[
                ("call_1", "get_weather", vec!["{\"ci", "ty\":\"Paris\"}"]),
                ("call_2", "get_weather", vec!["{\"city\":\"Lyon\"}"]),
            ],
            true,
        ),
        13,
        Duration::from_millis(1),
    ));
    let gw = start(&mock, "").await;
    let tools = json!([{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let mut body = messages(true);
    body["tools"] = tools.clone();
    body["system"] = json!("Be brief.");
    let resp = gw.post("/v1/messages", body).send().await.unwrap();
    let events = events(&resp.text().await.unwrap());
    // Assemble tool_use blocks the way the SDK does.
    let mut blocks: Vec<(String, String, String)> = Vec::new();
    for (name, data) in &events {
        match name.as_str() {
            "content_block_start" => {
                let b = &data["content_block"];
                assert_eq!(b["type"], "tool_use");
                assert_eq!(b["input"], json!({}));
                assert_eq!(data["index"], blocks.len());
                blocks.push((
                    b["id"].as_str().unwrap().into(),
                    b["name"].as_str().unwrap().into(),
                    String::new(),
                ));
            }
            "content_block_delta" => {
                let i = data["index"].as_u64().unwrap() as usize;
                blocks[i]
                    .2
                    .push_str(data["delta"]["partial_json"].as_str().unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(
        blocks,
        vec![
            (
                "call_1".into(),
                "get_weather".into(),
                "{\"city\":\"Paris\"}".into()
            ),
            (
                "call_2".into(),
                "get_weather".into(),
                "{\"city\":\"Lyon\"}".into()
            ),
        ]
    );
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    let sent = mock.requests()[0].json();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");

    // The client sends the calls back with their results in one user turn.
    let body = json!({
        "model": "claude-via-openai",
        "max_tokens": 100,
        "tools": tools,
        "messages": [
            {"role": "user", "content": "Weather in Paris and Lyon?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Lyon"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "12C"}]},
                {"type": "text", "text": "Which is warmer?"}
            ]}
        ]
    });
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: switchyard_testkit::openai::chat_completion_json("gpt-4o-mini", "Paris.", 30, 2),
    });
    let resp = gw.post("/v1/messages", body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let sent = mock.requests()[1].json();
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 5, "{msgs:?}");
    assert_eq!(
        msgs[1]["tool_calls"][1]["function"]["arguments"],
        "{\"city\":\"Lyon\"}"
    );
    assert_eq!(
        msgs[2],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "18C"})
    );
    assert_eq!(msgs[3]["tool_call_id"], "call_2");
    assert_eq!(
        msgs[4],
        json!({"role": "user", "content": "Which is warmer?"})
    );
}

#[tokio::test]
async fn errors_in_anthropic_shape_and_statuses() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let check = |status: u16, kind: &'static str| {
        move |resp: reqwest::Response| async move {
            assert_eq!(resp.status(), status);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["type"], "error");
            assert_eq!(body["error"]["type"], kind, "{body}");
            assert!(body["request_id"].as_str().unwrap().starts_with("req_"));
            body
        }
    };
    let mut body = messages(false);
    body.as_object_mut().unwrap().remove("max_tokens");
    let resp = gw.post("/v1/messages", body).send().await.unwrap();
    let err = check(400, "invalid_request_error")(resp).await;
    assert_eq!(err["error"]["message"], "max_tokens: Field required");

    let mut body = messages(false);
    body["model"] = json!("nope");
    let resp = gw.post("/v1/messages", body).send().await.unwrap();
    check(404, "not_found_error")(resp).await;

    // Retried twice (the default), then reported.
    for _ in 0..3 {
        mock.push(Reply::error(503, "server_error", "busy", None));
    }
    let resp = gw
        .post("/v1/messages", messages(false))
        .send()
        .await
        .unwrap();
    check(529, "overloaded_error")(resp).await;

    mock.push(Reply::error(429, "requests", "slow down", Some("7")));
    let resp = gw
        .post("/v1/messages", messages(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "7");
    check(429, "rate_limit_error")(resp).await;

    let resp = reqwest::Client::new()
        .post(format!("{}/v1/messages", gw.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    check(400, "invalid_request_error")(resp).await;

    // Counting needs a provider that can count exactly; an OpenAI upstream cannot.
    let body =
        json!({"model": "claude-via-openai", "messages": [{"role": "user", "content": "hi"}]});
    let resp = gw
        .post("/v1/messages/count_tokens", body)
        .send()
        .await
        .unwrap();
    let err = check(400, "invalid_request_error")(resp).await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("counting tokens"));
}

#[tokio::test]
async fn keys_are_checked_from_x_api_key() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "api_keys = [\"sk-client\"]").await;
    let resp = gw
        .post("/v1/messages", messages(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    let resp = gw
        .post("/v1/messages", messages(false))
        .header("x-api-key", "sk-client")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn failure_mid_stream_is_an_error_event() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut events_in = sse_text_pieces("gpt-4o-mini", &["partial "], false);
    events_in.truncate(2);
    mock.push(Reply::sse_paced(events_in, Duration::ZERO, SseEnd::Hold));
    let gw = start(&mock, "").await;
    let resp = gw
        .post("/v1/messages", messages(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = events(&resp.text().await.unwrap());
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "timeout_error");
    assert!(!events.iter().any(|(n, _)| n == "message_stop"));
}

#[tokio::test]
async fn models_list_in_anthropic_shape_when_asked_by_an_anthropic_client() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock, "").await;
    let body: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", gw.url))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][0]["type"], "model");
    assert_eq!(body["data"][0]["id"], "claude-via-openai");
    assert_eq!(body["has_more"], false);
    assert!(body["data"][0]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
}

/// A gateway whose `claude` model is served by the mock speaking Anthropic's wire format.
async fn start_anthropic_upstream(mock: &MockOpenAi) -> Gateway {
    let text = format!(
        r#"
[[providers]]
id = "anthropic"
type = "anthropic"
base_url = "{}"
api_key = "sk-ant-upstream-secret-123456"

[[models]]
name = "claude"
route = [{{ provider = "anthropic", model = "claude-sonnet-4-5" }}]
"#,
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    Gateway::serve(&config, Duration::from_millis(500)).await
}

#[tokio::test]
async fn openai_clients_reach_an_anthropic_upstream() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start_anthropic_upstream(&mock).await;
    let body = json!({
        "model": "claude",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "stream": true,
        "stream_options": {"include_usage": true}
    });
    let resp = gw.post("/v1/chat/completions", body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-provider"], "anthropic");
    let text = resp.text().await.unwrap();
    let chunks: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, "{\"location\":\"Paris\"}");
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str())
        .unwrap();
    assert_eq!(finish, "tool_calls");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 20);
    assert_eq!(usage["completion_tokens"], 8);
    let sent = mock.requests()[0].json();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "Be brief."}])
    );
    assert_eq!(sent["max_tokens"], 4096);
    assert_eq!(sent["tools"][0]["input_schema"], json!({"type": "object"}));
    assert_eq!(sent["stream"], true);
    assert_eq!(
        mock.requests()[0].header("x-api-key"),
        Some("sk-ant-upstream-secret-123456")
    );
}

#[tokio::test]
async fn anthropic_clients_reach_an_anthropic_upstream_and_count_there() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start_anthropic_upstream(&mock).await;
    let mut body = messages(false);
    body["model"] = json!("claude");
    let resp = gw.post("/v1/messages", body.clone()).send().await.unwrap();
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["id"], "msg_01MockUpstream");
    assert_eq!(answer["model"], "claude-sonnet-4-5");
    assert_eq!(
        answer["content"][0]["text"],
        "Hello! This is the Switchyard mock Anthropic upstream."
    );
    let count_body = json!({"model": "claude", "messages": body["messages"]});
    let resp = gw
        .post("/v1/messages/count_tokens", count_body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let counted: Value = resp.json().await.unwrap();
    assert!(counted["input_tokens"].as_u64().unwrap() >= 1);
    assert!(mock.requests()[1]
        .path
        .ends_with("/v1/messages/count_tokens"));

    // Anthropic's 529 comes back to an Anthropic client as the same 529.
    for _ in 0..3 {
        mock.push(Reply::Json {
            status: 529,
            headers: Vec::new(),
            body: switchyard_testkit::anthropic::error_json("overloaded_error", "Overloaded"),
        });
    }
    let resp = gw.post("/v1/messages", body).send().await.unwrap();
    assert_eq!(resp.status(), 529);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "overloaded_error");
}
