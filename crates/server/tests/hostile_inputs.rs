//! Malformed and oversized requests at every front door, through the real server: an empty
//! body, text that is not JSON, JSON of the wrong shape, wrong types, nesting 100,000 deep,
//! a number beyond f64, invalid UTF-8, a lone surrogate, a megabyte model name, 100,000
//! empty messages, and a body over the request limit. Each gets a 4xx in the door's own
//! error shape, with a short message (no echo of the input), quickly; none reaches the
//! upstream, and the gateway keeps answering.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_testkit::MockOpenAi;

mod common;
use common::Gateway;

/// A front door: where its requests go and how its errors look.
#[derive(Clone, Copy, Debug)]
enum Door {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
}

/// Every inference endpoint, with its door.
const ENDPOINTS: &[(Door, &str)] = &[
    (Door::OpenAi, "/v1/chat/completions"),
    (Door::OpenAi, "/v1/embeddings"),
    (Door::OpenAi, "/v1/responses"),
    (Door::Anthropic, "/v1/messages"),
    (Door::Anthropic, "/v1/messages/count_tokens"),
    (Door::Gemini, "/v1beta/models/m:generateContent"),
    (
        Door::Gemini,
        "/v1beta/models/m:streamGenerateContent?alt=sse",
    ),
    (Door::Gemini, "/v1beta/models/m:countTokens"),
    (Door::Gemini, "/v1beta/models/m:embedContent"),
    (Door::Bedrock, "/model/m/converse"),
    (Door::Bedrock, "/model/m/converse-stream"),
    (Door::Bedrock, "/model/m/count-tokens"),
];

/// The bodies, by name.
fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!(
        "{{\"model\":\"m\",\"messages\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let many = format!(
        "{{\"model\":\"m\",\"messages\":[{}{{}}],\"contents\":[{}{{}}]}}",
        "{},".repeat(100_000),
        "{},".repeat(100_000)
    );
    let long_model = format!(
        "{{\"model\":\"{}\",\"messages\":[],\"contents\":[]}}",
        "m".repeat(1 << 20)
    );
    vec![
        ("empty", Vec::new()),
        ("not json", b"hello, gateway".to_vec()),
        ("a json array", b"[1, 2, 3]".to_vec()),
        ("json null", b"null".to_vec()),
        ("truncated json", b"{\"model\": \"m\", \"messages\": [{\"role\": \"us".to_vec()),
        (
            "wrong types",
            br#"{"model": 7, "messages": "hello", "contents": "hello", "input": {"a": 1}, "max_tokens": "many"}"#.to_vec(),
        ),
        ("nested 100,000 deep", deep.into_bytes()),
        (
            "a number beyond f64",
            br#"{"model": "m", "max_tokens": 1e999, "messages": [], "contents": []}"#.to_vec(),
        ),
        (
            "invalid utf-8",
            b"{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}], \"contents\": [{\"parts\": [{\"text\": \"\xc3\x28\"}]}]}".to_vec(),
        ),
        (
            "a lone surrogate",
            br#"{"model": "m", "messages": [{"role": "user", "content": "\ud800"}], "contents": [{"parts": [{"text": "\ud800"}]}]}"#.to_vec(),
        ),
        ("a megabyte model name", long_model.into_bytes()),
        ("100,000 empty messages", many.into_bytes()),
    ]
}

/// The door's error message, when the body has the door's error shape.
fn message(door: Door, body: &Value) -> Option<String> {
    let text = match door {
        Door::OpenAi => body["error"]["message"].as_str(),
        Door::Anthropic => (body["type"] == "error").then(|| body["error"]["message"].as_str())?,
        Door::Gemini => body["error"]["status"]
            .is_string()
            .then(|| body["error"]["message"].as_str())?,
        Door::Bedrock => body["message"].as_str(),
    }?;
    Some(text.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_refuses_malformed_input_in_its_own_words() {
    let mock = MockOpenAi::start().await.unwrap();
    let config = switchyard_config::load_str(
        &format!(
            "[[providers]]\nid = \"up\"\ntype = \"openai\"\nbase_url = \"{}\"\napi_key = \"k\"\n\n\
             [[models]]\nname = \"m\"\nroute = [{{ provider = \"up\", model = \"gpt-4o-mini\" }}]\n",
            mock.base_url()
        ),
        &|_| None,
    )
    .unwrap();
    let gw = Gateway::serve(&config, Duration::from_secs(2)).await;
    let client = reqwest::Client::new();
    let mut wrong = Vec::new();
    let mut too_large_answered = 0;
    for (door, path) in ENDPOINTS {
        for (name, body) in bodies() {
            let started = Instant::now();
            let resp = client
                .post(format!("{}{path}", gw.url))
                .header("content-type", "application/json")
                .body(body)
                .timeout(Duration::from_secs(20))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            let took = started.elapsed();
            let said = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| message(*door, &v));
            let fine = (400..500).contains(&status)
                && said.as_ref().is_some_and(|m| !m.is_empty())
                && text.len() < 4096
                && took < Duration::from_secs(5);
            if !fine {
                wrong.push(format!(
                    "{door:?} {path}, {name}: {status} in {took:?}, {} bytes: {}",
                    text.len(),
                    text.chars().take(200).collect::<String>()
                ));
            }
        }
        // Over the request limit: refused as too large, in the door's words.
        let resp = client
            .post(format!("{}{path}", gw.url))
            .header("content-type", "application/json")
            .body(vec![b' '; switchyard_server::routes::MAX_REQUEST_BYTES + 1])
            .send()
            .await;
        match resp {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let said = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| message(*door, &v));
                if status != 413 || said.is_none() {
                    wrong.push(format!("{door:?} {path}, too large: {status}: {text}"));
                }
                too_large_answered += 1;
            }
            // The server may answer and close before the client finished sending.
            Err(err) => assert!(err.is_request() || err.is_body(), "{err}"),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers were not a clear 4xx in the door's shape:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        too_large_answered > 0,
        "no answer to a body over the limit was read"
    );
    assert_eq!(mock.request_count(), 0, "nothing malformed went upstream");
    assert!(gw.healthy().await, "the gateway still answers");
}
