//! The conformance matrix: every front door (client dialect) against every HTTP upstream
//! provider, through the real server and the mock upstream speaking each provider's wire
//! format. One table of providers, one table of front doors; each pair runs the same cases
//! (text, streamed text, a tool call, a streamed tool call, an upstream failure). Adding a
//! provider adds a row, not test code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use serde_json::{json, Value};
use switchyard_testkit::{MockOpenAi, Reply};

mod common;
use common::Gateway;

/// (provider type, base URL relative to the mock's root, upstream model, the mock's answer).
/// Every provider authenticates with `api_key = "k"` but Bedrock, which signs with AWS keys.
const PROVIDERS: &[(&str, &str, &str, &str)] = &[
    (
        "openai",
        "/v1",
        "gpt-4o-mini",
        "Hello! This is the Switchyard mock upstream.",
    ),
    (
        "anthropic",
        "",
        "claude-sonnet-4-5",
        "Hello! This is the Switchyard mock Anthropic upstream.",
    ),
    (
        "gemini",
        "",
        "gemini-2.5-flash",
        "Hello! This is the Switchyard mock Gemini upstream.",
    ),
    (
        "ollama-native",
        "",
        "llama3.2",
        "Hello! This is the Switchyard mock Ollama upstream.",
    ),
    (
        "cohere",
        "",
        "command-a",
        "Hello! This is the Switchyard mock Cohere upstream.",
    ),
    (
        "bedrock",
        "",
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Hello! This is the Switchyard mock Bedrock upstream.",
    ),
];

/// The provider's credentials in the config.
fn credentials(kind: &str) -> &'static str {
    match kind {
        "bedrock" => "region = \"eu-central-1\"\naws_access_key_id = \"AKIDEXAMPLE\"\naws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"",
        _ => "api_key = \"k\"",
    }
}

/// What a client saw: the answer's text, and the tool call (name, arguments) if any.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    text: String,
    call: Option<(String, Value)>,
}

#[derive(Clone, Copy, Debug)]
enum Door {
    OpenAi,
    Anthropic,
    Gemini,
    Responses,
    Bedrock,
}

const DOORS: [Door; 5] = [
    Door::OpenAi,
    Door::Anthropic,
    Door::Gemini,
    Door::Responses,
    Door::Bedrock,
];

/// The request a client of `door` sends for `model`, optionally offering a weather tool.
fn request(door: Door, model: &str, stream: bool, tool: bool) -> (String, Value) {
    let schema = json!({"type": "object", "properties": {"location": {"type": "string"}}});
    match door {
        Door::OpenAi => {
            let mut body = json!({"model": model, "stream": stream, "max_tokens": 64,
                "messages": [{"role": "user", "content": "Weather in Paris?"}]});
            if tool {
                body["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": schema}}]);
            }
            ("/v1/chat/completions".into(), body)
        }
        Door::Anthropic => {
            let mut body = json!({"model": model, "stream": stream, "max_tokens": 64,
                "messages": [{"role": "user", "content": "Weather in Paris?"}]});
            if tool {
                body["tools"] = json!([{"name": "get_weather", "input_schema": schema}]);
            }
            ("/v1/messages".into(), body)
        }
        Door::Gemini => {
            let method = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            let mut body = json!({"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}],
                                  "generationConfig": {"maxOutputTokens": 64}});
            if tool {
                body["tools"] = json!([{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": schema}]}]);
            }
            (format!("/v1beta/models/{model}:{method}"), body)
        }
        Door::Responses => {
            let mut body = json!({"model": model, "stream": stream, "max_output_tokens": 64,
                                  "input": "Weather in Paris?"});
            if tool {
                body["tools"] =
                    json!([{"type": "function", "name": "get_weather", "parameters": schema}]);
            }
            ("/v1/responses".into(), body)
        }
        Door::Bedrock => {
            let op = if stream {
                "converse-stream"
            } else {
                "converse"
            };
            let mut body = json!({"messages": [{"role": "user", "content": [{"text": "Weather in Paris?"}]}],
                                  "inferenceConfig": {"maxTokens": 64}});
            if tool {
                body["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": schema}}}]});
            }
            (format!("/model/{model}/{op}"), body)
        }
    }
}

/// SSE `data:` payloads as JSON (OpenAI's `[DONE]` left out).
fn sse_json(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_owned)
        })
        .filter(|d| d != "[DONE]")
        .map(|d| serde_json::from_str(&d).unwrap())
        .collect()
}

fn args(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// What a client of `door` reads from a response body.
fn seen(door: Door, stream: bool, body: &[u8]) -> Seen {
    let mut out = Seen::default();
    match (door, stream) {
        (Door::OpenAi, false) => {
            let v: Value = serde_json::from_slice(body).unwrap();
            let m = &v["choices"][0]["message"];
            out.text = m["content"].as_str().unwrap_or_default().to_owned();
            if let Some(c) = m["tool_calls"].get(0) {
                out.call = Some((
                    c["function"]["name"].as_str().unwrap().into(),
                    args(c["function"]["arguments"].as_str().unwrap()),
                ));
            }
        }
        (Door::OpenAi, true) => {
            let (mut name, mut arguments) = (None, String::new());
            for c in sse_json(body) {
                let d = &c["choices"][0]["delta"];
                out.text.push_str(d["content"].as_str().unwrap_or_default());
                if let Some(t) = d["tool_calls"].get(0) {
                    if let Some(n) = t["function"]["name"].as_str() {
                        name = Some(n.to_owned());
                    }
                    arguments.push_str(t["function"]["arguments"].as_str().unwrap_or_default());
                }
            }
            out.call = name.map(|n| (n, args(&arguments)));
        }
        (Door::Anthropic, false) => {
            let v: Value = serde_json::from_slice(body).unwrap();
            for b in v["content"].as_array().unwrap() {
                match b["type"].as_str().unwrap() {
                    "text" => out.text.push_str(b["text"].as_str().unwrap()),
                    "tool_use" => {
                        out.call = Some((b["name"].as_str().unwrap().into(), b["input"].clone()))
                    }
                    _ => {}
                }
            }
        }
        (Door::Anthropic, true) => {
            let (mut name, mut arguments) = (None, String::new());
            for e in sse_json(body) {
                if e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use" {
                    name = Some(e["content_block"]["name"].as_str().unwrap().to_owned());
                }
                if e["type"] == "content_block_delta" {
                    out.text
                        .push_str(e["delta"]["text"].as_str().unwrap_or_default());
                    arguments.push_str(e["delta"]["partial_json"].as_str().unwrap_or_default());
                }
            }
            out.call = name.map(|n| (n, args(&arguments)));
        }
        (Door::Gemini, _) => {
            let chunks = if stream {
                sse_json(body)
            } else {
                vec![serde_json::from_slice(body).unwrap()]
            };
            for c in chunks {
                for p in c["candidates"][0]["content"]["parts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    out.text.push_str(p["text"].as_str().unwrap_or_default());
                    if let Some(f) = p.get("functionCall") {
                        out.call = Some((f["name"].as_str().unwrap().into(), f["args"].clone()));
                    }
                }
            }
        }
        (Door::Responses, _) => {
            let response = if stream {
                sse_json(body)
                    .into_iter()
                    .find(|e| e["type"] == "response.completed")
                    .unwrap()["response"]
                    .clone()
            } else {
                serde_json::from_slice(body).unwrap()
            };
            for item in response["output"].as_array().unwrap() {
                match item["type"].as_str().unwrap() {
                    "message" => {
                        for p in item["content"].as_array().unwrap() {
                            out.text.push_str(p["text"].as_str().unwrap_or_default());
                        }
                    }
                    "function_call" => {
                        out.call = Some((
                            item["name"].as_str().unwrap().into(),
                            args(item["arguments"].as_str().unwrap()),
                        ))
                    }
                    _ => {}
                }
            }
        }
        (Door::Bedrock, false) => {
            let v: Value = serde_json::from_slice(body).unwrap();
            for b in v["output"]["message"]["content"].as_array().unwrap() {
                out.text.push_str(b["text"].as_str().unwrap_or_default());
                if let Some(t) = b.get("toolUse") {
                    out.call = Some((t["name"].as_str().unwrap().into(), t["input"].clone()));
                }
            }
        }
        (Door::Bedrock, true) => {
            // Read with the AWS SDK's own decoder, not Switchyard's.
            let mut decoder = MessageFrameDecoder::new();
            let mut buffer = bytes::Bytes::copy_from_slice(body);
            let (mut name, mut arguments) = (None, String::new());
            while let DecodedFrame::Complete(frame) = decoder.decode_frame(&mut buffer).unwrap() {
                let p: Value = serde_json::from_slice(frame.payload()).unwrap();
                if let Some(t) = p["start"].get("toolUse") {
                    name = Some(t["name"].as_str().unwrap().to_owned());
                }
                out.text
                    .push_str(p["delta"]["text"].as_str().unwrap_or_default());
                arguments.push_str(p["delta"]["toolUse"]["input"].as_str().unwrap_or_default());
            }
            out.call = name.map(|n| (n, args(&arguments)));
        }
    }
    out
}

/// The status each door gives an unavailable upstream.
fn unavailable_status(door: Door) -> u16 {
    match door {
        Door::Anthropic => 529,
        _ => 503,
    }
}

#[tokio::test]
async fn every_front_door_reaches_every_provider() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let mut config = String::new();
    for (kind, suffix, model, _) in PROVIDERS {
        config.push_str(&format!(
            "[[providers]]\nid = \"{kind}\"\ntype = \"{kind}\"\nbase_url = \"{root}{suffix}\"\n{}\n\n\
             [[models]]\nname = \"via-{kind}\"\nroute = [{{ provider = \"{kind}\", model = \"{model}\" }}]\n\n",
            credentials(kind)
        ));
    }
    let config = switchyard_config::load_str(&config, &|_| None).unwrap();
    let gw = Gateway::serve(&config, Duration::from_millis(500)).await;
    let weather = Some(("get_weather".to_owned(), json!({"location": "Paris"})));
    for (kind, _, _, expected) in PROVIDERS {
        let model = format!("via-{kind}");
        for door in DOORS {
            for stream in [false, true] {
                let case = format!("{door:?} -> {kind}, stream {stream}");
                let (path, body) = request(door, &model, stream, false);
                let resp = gw.post(&path, body).send().await.unwrap();
                assert_eq!(resp.status(), 200, "{case}");
                let got = seen(door, stream, &resp.bytes().await.unwrap());
                assert_eq!(
                    got,
                    Seen {
                        text: (*expected).to_owned(),
                        call: None
                    },
                    "{case}"
                );

                let (path, body) = request(door, &model, stream, true);
                let resp = gw.post(&path, body).send().await.unwrap();
                assert_eq!(resp.status(), 200, "{case} with a tool");
                let got = seen(door, stream, &resp.bytes().await.unwrap());
                assert_eq!(got.call, weather, "{case} with a tool");
            }
            // An unavailable upstream, in the door's own status.
            mock.push(Reply::Json {
                status: 503,
                headers: Vec::new(),
                body: json!({"error": {"message": "busy", "type": "server_error"}}).to_string(),
            });
            let (path, body) = request(door, &model, false, false);
            let resp = gw.post(&path, body).send().await.unwrap();
            assert_eq!(
                resp.status(),
                unavailable_status(door),
                "{door:?} -> {kind}, upstream 503"
            );
        }
    }
}
