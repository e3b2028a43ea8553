//! The Bedrock Runtime front door end to end over an OpenAI-compatible mock upstream; the
//! binary event stream decoded frame by frame.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use switchyard_dialects::bedrock::eventstream::FrameDecoder;
use switchyard_testkit::MockOpenAi;

mod common;
use common::Gateway;

async fn start(mock: &MockOpenAi) -> Gateway {
    let text = format!(
        r#"
api_keys = ["AKIASWITCHYARD"]

[[providers]]
id = "up"
type = "openai"
base_url = "{}"

[[models]]
name = "eu.anthropic.claude-sonnet-4-5-v1:0"
route = [{{ provider = "up", model = "gpt-4o-mini" }}]
"#,
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    Gateway::serve(&config, Duration::from_millis(500)).await
}

const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=AKIASWITCHYARD/20261128/eu-central-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0123";

#[tokio::test]
async fn converse_stream_is_a_binary_event_stream() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock).await;
    let body = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}],
                      "inferenceConfig": {"maxTokens": 20}});
    // The model id is one percent-encoded path segment, as the AWS SDKs send it.
    let resp = gw
        .post(
            "/model/eu.anthropic.claude-sonnet-4-5-v1%3A0/converse-stream",
            body,
        )
        .header("authorization", SIGNED)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let bytes = resp.bytes().await.unwrap();
    let mut decoder = FrameDecoder::new();
    decoder.feed(&bytes);
    let mut events = Vec::new();
    while let Some(frame) = decoder.next_frame().unwrap() {
        let payload: Value = serde_json::from_slice(&frame.payload).unwrap();
        events.push((frame.header(":event-type").unwrap().to_owned(), payload));
    }
    assert_eq!(events[0].0, "messageStart");
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "contentBlockDelta")
        .map(|(_, p)| p["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Hello! This is the Switchyard mock upstream.");
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[names.len() - 3..],
        ["contentBlockStop", "messageStop", "metadata"]
    );
    assert_eq!(mock.requests()[0].json()["max_completion_tokens"], 20);
}

#[tokio::test]
async fn errors_carry_the_aws_error_type() {
    let mock = MockOpenAi::start().await.unwrap();
    let gw = start(&mock).await;
    let body = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
    let resp = gw
        .post("/model/unknown-model/converse", body.clone())
        .header("authorization", SIGNED)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers()["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .starts_with("ResourceNotFoundException:"));
    let resp = gw
        .post("/model/unknown-model/converse", body)
        .header(
            "authorization",
            SIGNED.replace("AKIASWITCHYARD", "AKIAOTHER"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let err: Value = resp.json().await.unwrap();
    assert!(err["message"].is_string());
}
