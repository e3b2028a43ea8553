//! The conformance matrix: every front door (client dialect) against every HTTP upstream
//! provider, through the real server and the mock upstream speaking each provider's wire
//! format. One table of providers, one table of front doors; each pair runs the same cases,
//! streamed and not: text, a tool call, parallel tool calls and then their results, an image,
//! JSON schema output, a stop sequence, max-tokens truncation, and an upstream failure.
//! Adding a provider adds a row (and its mock), not test code.
//!
//! The mocks all answer by the same rules (`switchyard_testkit::scenario`), so what a client
//! sees proves that the request reached the upstream intact in the upstream's format: the
//! tool results come back quoted, the image's size is reported, the schema produces JSON.
//! Every response body is also kept as a golden transcript, one file per front door in
//! `tests/golden/conformance/` (clock fields masked): any change to what a client receives
//! shows up as a diff. `SWITCHYARD_UPDATE_GOLDEN=1` rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use serde_json::{json, Value};
use switchyard_testkit::{MockOpenAi, Reply};

mod common;
use common::Gateway;

/// One upstream provider under test.
struct Provider {
    kind: &'static str,
    /// Base URL relative to the mock's root.
    suffix: &'static str,
    model: &'static str,
    /// The mock's greeting.
    greeting: &'static str,
    /// Whether its answers say that a stop sequence (not the natural end) stopped them.
    names_stop_sequences: bool,
}

const PROVIDERS: &[Provider] = &[
    Provider {
        kind: "openai",
        suffix: "/v1",
        model: "gpt-4o-mini",
        greeting: "Hello! This is the Switchyard mock upstream.",
        names_stop_sequences: false,
    },
    Provider {
        kind: "anthropic",
        suffix: "",
        model: "claude-sonnet-4-5",
        greeting: "Hello! This is the Switchyard mock Anthropic upstream.",
        names_stop_sequences: true,
    },
    Provider {
        kind: "gemini",
        suffix: "",
        model: "gemini-2.5-flash",
        greeting: "Hello! This is the Switchyard mock Gemini upstream.",
        names_stop_sequences: false,
    },
    Provider {
        kind: "ollama-native",
        suffix: "",
        model: "llama3.2",
        greeting: "Hello! This is the Switchyard mock Ollama upstream.",
        names_stop_sequences: false,
    },
    Provider {
        kind: "cohere",
        suffix: "",
        model: "command-a",
        greeting: "Hello! This is the Switchyard mock Cohere upstream.",
        names_stop_sequences: true,
    },
    Provider {
        kind: "vertex",
        suffix: "",
        model: "gemini-2.5-flash",
        greeting: "Hello! This is the Switchyard mock Gemini upstream.",
        names_stop_sequences: false,
    },
    Provider {
        kind: "bedrock",
        suffix: "",
        model: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        greeting: "Hello! This is the Switchyard mock Bedrock upstream.",
        names_stop_sequences: true,
    },
];

/// An 11-byte "PNG" (the signature and three bytes), base64.
const IMAGE: &str = "iVBORw0KGgoHBwc=";
const RESULTS: [&str; 2] = ["18C and sunny", "12:00"];

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

/// Why an answer ended, in canonical terms.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Turn,
    StopSequence,
    MaxTokens,
    ToolUse,
}

/// What a client sends.
#[derive(Clone, Debug)]
enum Case {
    Text,
    /// Tools offered: `get_weather`, and `get_time` too when parallel calls are wanted.
    Tools(usize),
    /// The calls the model made (id, name, arguments), answered with [`RESULTS`].
    Results(Vec<Call>),
    Image,
    JsonSchema,
    Stop,
    MaxTokens,
}

type Call = (String, String, Value);

/// What a client saw.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    text: String,
    calls: Vec<Call>,
    /// The stop reason in the door's own words.
    stop: String,
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})
}

const TOOL_NAMES: [&str; 2] = ["get_weather", "get_time"];

/// The request a client of `door` sends for `model`.
fn request(door: Door, model: &str, stream: bool, case: &Case) -> (String, Value) {
    let tools = match case {
        Case::Tools(n) => *n,
        Case::Results(calls) => calls.len(),
        _ => 0,
    };
    let names = &TOOL_NAMES[..tools];
    let question = "Weather in Paris?";
    match door {
        Door::OpenAi => {
            let mut messages = vec![json!({"role": "user", "content": question})];
            let mut body = json!({"model": model, "stream": stream, "max_tokens": 64});
            if !names.is_empty() {
                body["tools"] = names
                    .iter()
                    .map(|n| json!({"type": "function", "function": {"name": n, "parameters": schema()}}))
                    .collect();
            }
            match case {
                Case::Results(calls) => {
                    let tool_calls: Vec<Value> = calls
                        .iter()
                        .map(|(id, name, args)| {
                            json!({"id": id, "type": "function",
                            "function": {"name": name, "arguments": args.to_string()}})
                        })
                        .collect();
                    messages.push(
                        json!({"role": "assistant", "content": null, "tool_calls": tool_calls}),
                    );
                    for ((id, _, _), result) in calls.iter().zip(RESULTS) {
                        messages
                            .push(json!({"role": "tool", "tool_call_id": id, "content": result}));
                    }
                }
                Case::Image => {
                    messages[0]["content"] = json!([{"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{IMAGE}")}}]);
                }
                Case::JsonSchema => {
                    body["response_format"] = json!({"type": "json_schema",
                        "json_schema": {"name": "weather", "schema": schema()}});
                }
                Case::Stop => body["stop"] = json!(["mock"]),
                Case::MaxTokens => body["max_tokens"] = json!(3),
                Case::Text | Case::Tools(_) => {}
            }
            body["messages"] = json!(messages);
            ("/v1/chat/completions".into(), body)
        }
        Door::Anthropic => {
            let mut messages = vec![json!({"role": "user", "content": question})];
            let mut body = json!({"model": model, "stream": stream, "max_tokens": 64});
            if !names.is_empty() {
                body["tools"] = names
                    .iter()
                    .map(|n| json!({"name": n, "input_schema": schema()}))
                    .collect();
            }
            match case {
                Case::Results(calls) => {
                    let uses: Vec<Value> = calls
                        .iter()
                        .map(|(id, name, args)| json!({"type": "tool_use", "id": id, "name": name, "input": args}))
                        .collect();
                    let results: Vec<Value> = calls
                        .iter()
                        .zip(RESULTS)
                        .map(|((id, _, _), r)| json!({"type": "tool_result", "tool_use_id": id, "content": r}))
                        .collect();
                    messages.push(json!({"role": "assistant", "content": uses}));
                    messages.push(json!({"role": "user", "content": results}));
                }
                Case::Image => {
                    messages[0]["content"] = json!([{"type": "text", "text": "What is this?"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMAGE}}]);
                }
                Case::JsonSchema => {
                    body["output_config"] =
                        json!({"format": {"type": "json_schema", "schema": schema()}});
                }
                Case::Stop => body["stop_sequences"] = json!(["mock"]),
                Case::MaxTokens => body["max_tokens"] = json!(3),
                Case::Text | Case::Tools(_) => {}
            }
            body["messages"] = json!(messages);
            ("/v1/messages".into(), body)
        }
        Door::Gemini => {
            let method = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            let mut contents = vec![json!({"role": "user", "parts": [{"text": question}]})];
            let mut body = json!({"generationConfig": {"maxOutputTokens": 64}});
            if !names.is_empty() {
                let declarations: Vec<Value> = names
                    .iter()
                    .map(|n| json!({"name": n, "parametersJsonSchema": schema()}))
                    .collect();
                body["tools"] = json!([{ "functionDeclarations": declarations }]);
            }
            match case {
                Case::Results(calls) => {
                    let parts: Vec<Value> = calls
                        .iter()
                        .map(
                            |(_, name, args)| json!({"functionCall": {"name": name, "args": args}}),
                        )
                        .collect();
                    let answers: Vec<Value> = calls
                        .iter()
                        .zip(RESULTS)
                        .map(|((_, name, _), r)| json!({"functionResponse": {"name": name, "response": {"result": r}}}))
                        .collect();
                    contents.push(json!({"role": "model", "parts": parts}));
                    contents.push(json!({"role": "user", "parts": answers}));
                }
                Case::Image => {
                    contents[0]["parts"] = json!([{"text": "What is this?"},
                        {"inlineData": {"mimeType": "image/png", "data": IMAGE}}]);
                }
                Case::JsonSchema => {
                    body["generationConfig"]["responseMimeType"] = json!("application/json");
                    body["generationConfig"]["responseJsonSchema"] = schema();
                }
                Case::Stop => body["generationConfig"]["stopSequences"] = json!(["mock"]),
                Case::MaxTokens => body["generationConfig"]["maxOutputTokens"] = json!(3),
                Case::Text | Case::Tools(_) => {}
            }
            body["contents"] = json!(contents);
            (format!("/v1beta/models/{model}:{method}"), body)
        }
        Door::Responses => {
            let mut input = vec![json!({"role": "user", "content": question})];
            let mut body = json!({"model": model, "stream": stream, "max_output_tokens": 64});
            if !names.is_empty() {
                body["tools"] = names
                    .iter()
                    .map(|n| json!({"type": "function", "name": n, "parameters": schema()}))
                    .collect();
            }
            match case {
                Case::Results(calls) => {
                    for (id, name, args) in calls {
                        input.push(json!({"type": "function_call", "call_id": id, "name": name,
                                          "arguments": args.to_string()}));
                    }
                    for ((id, _, _), r) in calls.iter().zip(RESULTS) {
                        input.push(
                            json!({"type": "function_call_output", "call_id": id, "output": r}),
                        );
                    }
                }
                Case::Image => {
                    input[0]["content"] = json!([{"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": format!("data:image/png;base64,{IMAGE}")}]);
                }
                Case::JsonSchema => {
                    body["text"] = json!({"format": {"type": "json_schema", "name": "weather", "schema": schema()}});
                }
                Case::MaxTokens => body["max_output_tokens"] = json!(3),
                Case::Stop => unreachable!("the Responses API has no stop sequences"),
                Case::Text | Case::Tools(_) => {}
            }
            body["input"] = json!(input);
            ("/v1/responses".into(), body)
        }
        Door::Bedrock => {
            let op = if stream {
                "converse-stream"
            } else {
                "converse"
            };
            let mut messages = vec![json!({"role": "user", "content": [{"text": question}]})];
            let mut body = json!({"inferenceConfig": {"maxTokens": 64}});
            if !names.is_empty() {
                let specs: Vec<Value> = names
                    .iter()
                    .map(|n| json!({"toolSpec": {"name": n, "inputSchema": {"json": schema()}}}))
                    .collect();
                body["toolConfig"] = json!({ "tools": specs });
            }
            match case {
                Case::Results(calls) => {
                    let uses: Vec<Value> = calls
                        .iter()
                        .map(|(id, name, args)| json!({"toolUse": {"toolUseId": id, "name": name, "input": args}}))
                        .collect();
                    let results: Vec<Value> = calls
                        .iter()
                        .zip(RESULTS)
                        .map(|((id, _, _), r)| json!({"toolResult": {"toolUseId": id, "content": [{"text": r}]}}))
                        .collect();
                    messages.push(json!({"role": "assistant", "content": uses}));
                    messages.push(json!({"role": "user", "content": results}));
                }
                Case::Image => {
                    messages[0]["content"] = json!([{"text": "What is this?"},
                        {"image": {"format": "png", "source": {"bytes": IMAGE}}}]);
                }
                Case::JsonSchema => {
                    body["outputConfig"] = json!({"textFormat": {"type": "json_schema",
                        "structure": {"jsonSchema": {"schema": schema().to_string(), "name": "weather"}}}});
                }
                Case::Stop => body["inferenceConfig"]["stopSequences"] = json!(["mock"]),
                Case::MaxTokens => body["inferenceConfig"]["maxTokens"] = json!(3),
                Case::Text | Case::Tools(_) => {}
            }
            body["messages"] = json!(messages);
            (format!("/model/{model}/{op}"), body)
        }
    }
}

/// The door's words for an end reason.
fn stop_label(door: Door, end: End) -> &'static str {
    match (door, end) {
        (Door::OpenAi, End::Turn | End::StopSequence) => "stop",
        (Door::OpenAi, End::MaxTokens) => "length",
        (Door::OpenAi, End::ToolUse) => "tool_calls",
        (Door::Anthropic | Door::Bedrock, End::Turn) => "end_turn",
        (Door::Anthropic | Door::Bedrock, End::StopSequence) => "stop_sequence",
        (Door::Anthropic | Door::Bedrock, End::MaxTokens) => "max_tokens",
        (Door::Anthropic | Door::Bedrock, End::ToolUse) => "tool_use",
        (Door::Gemini, End::MaxTokens) => "MAX_TOKENS",
        (Door::Gemini, _) => "STOP",
        (Door::Responses, End::MaxTokens) => "incomplete:max_output_tokens",
        (Door::Responses, _) => "completed",
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

fn text_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Calls assembled from streamed pieces, by block index: (index, id, name, arguments text).
#[derive(Default)]
struct Assembly(Vec<(u64, String, String, String)>);

impl Assembly {
    fn start(&mut self, index: u64, id: &str, name: &str) {
        self.0
            .push((index, id.to_owned(), name.to_owned(), String::new()));
    }
    fn append(&mut self, index: u64, piece: &str) {
        if let Some(call) = self.0.iter_mut().find(|c| c.0 == index) {
            call.3.push_str(piece);
        }
    }
    fn calls(self) -> Vec<Call> {
        self.0
            .into_iter()
            .map(|(_, id, name, a)| (id, name, args(&a)))
            .collect()
    }
}

/// What a client of `door` reads from a response body.
fn seen(door: Door, stream: bool, body: &[u8]) -> Seen {
    let mut out = Seen::default();
    match (door, stream) {
        (Door::OpenAi, false) => {
            let v: Value = serde_json::from_slice(body).unwrap();
            let choice = &v["choices"][0];
            out.text = text_of(&choice["message"]["content"]);
            out.stop = text_of(&choice["finish_reason"]);
            for c in choice["message"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.calls.push((
                    text_of(&c["id"]),
                    text_of(&c["function"]["name"]),
                    args(c["function"]["arguments"].as_str().unwrap()),
                ));
            }
        }
        (Door::OpenAi, true) => {
            let mut calls = Assembly::default();
            for c in sse_json(body) {
                let choice = &c["choices"][0];
                out.text
                    .push_str(choice["delta"]["content"].as_str().unwrap_or_default());
                if let Some(reason) = choice["finish_reason"].as_str() {
                    out.stop = reason.to_owned();
                }
                for t in choice["delta"]["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let index = t["index"].as_u64().unwrap();
                    if let Some(name) = t["function"]["name"].as_str() {
                        calls.start(index, t["id"].as_str().unwrap(), name);
                    }
                    calls.append(
                        index,
                        t["function"]["arguments"].as_str().unwrap_or_default(),
                    );
                }
            }
            out.calls = calls.calls();
        }
        (Door::Anthropic, false) => {
            let v: Value = serde_json::from_slice(body).unwrap();
            out.stop = text_of(&v["stop_reason"]);
            for b in v["content"].as_array().unwrap() {
                match b["type"].as_str().unwrap() {
                    "text" => out.text.push_str(b["text"].as_str().unwrap()),
                    "tool_use" => {
                        out.calls
                            .push((text_of(&b["id"]), text_of(&b["name"]), b["input"].clone()))
                    }
                    _ => {}
                }
            }
        }
        (Door::Anthropic, true) => {
            let mut calls = Assembly::default();
            for e in sse_json(body) {
                let index = e["index"].as_u64().unwrap_or(0);
                match e["type"].as_str().unwrap_or_default() {
                    "content_block_start" if e["content_block"]["type"] == "tool_use" => {
                        let b = &e["content_block"];
                        calls.start(
                            index,
                            b["id"].as_str().unwrap(),
                            b["name"].as_str().unwrap(),
                        );
                    }
                    "content_block_delta" => {
                        out.text
                            .push_str(e["delta"]["text"].as_str().unwrap_or_default());
                        calls.append(
                            index,
                            e["delta"]["partial_json"].as_str().unwrap_or_default(),
                        );
                    }
                    "message_delta" => out.stop = text_of(&e["delta"]["stop_reason"]),
                    _ => {}
                }
            }
            out.calls = calls.calls();
        }
        (Door::Gemini, _) => {
            let chunks = if stream {
                sse_json(body)
            } else {
                vec![serde_json::from_slice(body).unwrap()]
            };
            for c in chunks {
                let candidate = &c["candidates"][0];
                if let Some(reason) = candidate["finishReason"].as_str() {
                    out.stop = reason.to_owned();
                }
                for p in candidate["content"]["parts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    out.text.push_str(p["text"].as_str().unwrap_or_default());
                    if let Some(f) = p.get("functionCall") {
                        // Gemini clients match results by name; the id is optional.
                        let id = f["id"].as_str().unwrap_or(f["name"].as_str().unwrap());
                        out.calls
                            .push((id.to_owned(), text_of(&f["name"]), f["args"].clone()));
                    }
                }
            }
        }
        (Door::Responses, _) => {
            let response = if stream {
                sse_json(body)
                    .into_iter()
                    .find(|e| {
                        e["type"] == "response.completed" || e["type"] == "response.incomplete"
                    })
                    .unwrap()["response"]
                    .clone()
            } else {
                serde_json::from_slice(body).unwrap()
            };
            out.stop = match response["incomplete_details"]["reason"].as_str() {
                Some(reason) => format!("{}:{reason}", text_of(&response["status"])),
                None => text_of(&response["status"]),
            };
            for item in response["output"].as_array().unwrap() {
                match item["type"].as_str().unwrap() {
                    "message" => {
                        for p in item["content"].as_array().unwrap() {
                            out.text.push_str(p["text"].as_str().unwrap_or_default());
                        }
                    }
                    "function_call" => out.calls.push((
                        text_of(&item["call_id"]),
                        text_of(&item["name"]),
                        args(item["arguments"].as_str().unwrap()),
                    )),
                    _ => {}
                }
            }
        }
        (Door::Bedrock, false) => {
            let v: Value = serde_json::from_slice(body).unwrap();
            out.stop = text_of(&v["stopReason"]);
            for b in v["output"]["message"]["content"].as_array().unwrap() {
                out.text.push_str(b["text"].as_str().unwrap_or_default());
                if let Some(t) = b.get("toolUse") {
                    out.calls.push((
                        text_of(&t["toolUseId"]),
                        text_of(&t["name"]),
                        t["input"].clone(),
                    ));
                }
            }
        }
        (Door::Bedrock, true) => {
            // Read with the AWS SDK's own decoder, not Switchyard's.
            let mut decoder = MessageFrameDecoder::new();
            let mut buffer = bytes::Bytes::copy_from_slice(body);
            let mut calls = Assembly::default();
            while let DecodedFrame::Complete(frame) = decoder.decode_frame(&mut buffer).unwrap() {
                let p: Value = serde_json::from_slice(frame.payload()).unwrap();
                let index = p["contentBlockIndex"].as_u64().unwrap_or(0);
                if let Some(t) = p["start"].get("toolUse") {
                    calls.start(
                        index,
                        t["toolUseId"].as_str().unwrap(),
                        t["name"].as_str().unwrap(),
                    );
                }
                out.text
                    .push_str(p["delta"]["text"].as_str().unwrap_or_default());
                calls.append(
                    index,
                    p["delta"]["toolUse"]["input"].as_str().unwrap_or_default(),
                );
                if let Some(reason) = p["stopReason"].as_str() {
                    out.stop = reason.to_owned();
                }
            }
            out.calls = calls.calls();
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

fn greeting_words(greeting: &str, n: usize) -> String {
    greeting.split_inclusive(' ').take(n).collect()
}

#[tokio::test]
async fn every_front_door_reaches_every_provider() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    // The matrix checks translation: an upstream failure is reported at once.
    let mut config = String::from("[routing]\nmax_retries = 0\n\n");
    for p in PROVIDERS {
        config.push_str(&format!(
            "[[providers]]\nid = \"{kind}\"\ntype = \"{kind}\"\nbase_url = \"{root}{suffix}\"\n{creds}\n\n\
             [[models]]\nname = \"via-{kind}\"\nroute = [{{ provider = \"{kind}\", model = \"{model}\"{extra} }}]\n\n",
            kind = p.kind,
            suffix = p.suffix,
            model = p.model,
            creds = common::credentials(p.kind, &root, "conformance"),
            // The catalog knows Command A as text-only; the matrix sends it images anyway,
            // as a config that knows better would (Command A Vision).
            extra = if p.kind == "cohere" { ", capabilities = { vision = true }" } else { "" }
        ));
    }
    let config = switchyard_config::load_str(&config, &|_| None).unwrap();
    let gw = Gateway::serve(&config, Duration::from_millis(500)).await;
    let paris = json!({"location": "Paris"});
    let transcripts: RefCell<BTreeMap<String, BTreeMap<String, Value>>> = RefCell::default();
    for p in PROVIDERS {
        let model = format!("via-{}", p.kind);
        for door in DOORS {
            for stream in [false, true] {
                let ask = |case: Case| {
                    let gw = &gw;
                    let model = &model;
                    let transcripts = &transcripts;
                    async move {
                        let label = format!("{door:?} -> {}, stream {stream}, {case:?}", p.kind);
                        let (path, body) = request(door, model, stream, &case);
                        let resp = gw.post(&path, body).send().await.unwrap();
                        let status = resp.status();
                        let bytes = resp.bytes().await.unwrap();
                        assert_eq!(status, 200, "{label}: {}", String::from_utf8_lossy(&bytes));
                        let key = format!(
                            "{}/{}/{}",
                            p.kind,
                            case.name(),
                            if stream { "stream" } else { "whole" }
                        );
                        transcripts
                            .borrow_mut()
                            .entry(format!("{door:?}"))
                            .or_default()
                            .insert(key, transcript(door, stream, &bytes));
                        (seen(door, stream, &bytes), label)
                    }
                };
                let expect_text = |got: &Seen, label: &str, text: &str, end: End| {
                    assert_eq!(got.text, text, "{label}");
                    assert!(got.calls.is_empty(), "{label}");
                    assert_eq!(got.stop, stop_label(door, end), "{label}");
                };

                let (got, label) = ask(Case::Text).await;
                expect_text(&got, &label, p.greeting, End::Turn);

                let (got, label) = ask(Case::Tools(1)).await;
                let names: Vec<&str> = got.calls.iter().map(|c| c.1.as_str()).collect();
                assert_eq!(names, ["get_weather"], "{label}");
                assert_eq!(got.calls[0].2, paris, "{label}");
                assert_eq!(got.stop, stop_label(door, End::ToolUse), "{label}");

                let (got, label) = ask(Case::Tools(2)).await;
                let names: Vec<&str> = got.calls.iter().map(|c| c.1.as_str()).collect();
                assert_eq!(names, TOOL_NAMES, "{label}: parallel calls");
                assert!(got.calls.iter().all(|c| c.2 == paris), "{label}");
                let (answer, label) = ask(Case::Results(got.calls)).await;
                expect_text(
                    &answer,
                    &label,
                    &format!("Tool results: {}", RESULTS.join("; ")),
                    End::Turn,
                );

                let (got, label) = ask(Case::Image).await;
                expect_text(&got, &label, "I see 1 image(s) of 11 bytes.", End::Turn);

                let (got, label) = ask(Case::JsonSchema).await;
                assert_eq!(args(&got.text), paris, "{label}");

                if !matches!(door, Door::Responses) {
                    let (got, label) = ask(Case::Stop).await;
                    let end = if p.names_stop_sequences {
                        End::StopSequence
                    } else {
                        End::Turn
                    };
                    expect_text(&got, &label, &greeting_words(p.greeting, 5), end);
                }

                let (got, label) = ask(Case::MaxTokens).await;
                expect_text(&got, &label, &greeting_words(p.greeting, 3), End::MaxTokens);
            }
            // An unavailable upstream, in the door's own status.
            mock.push(Reply::Json {
                status: 503,
                headers: Vec::new(),
                body: json!({"error": {"message": "busy", "type": "server_error"}}).to_string(),
            });
            let (path, body) = request(door, &model, false, &Case::Text);
            let resp = gw.post(&path, body).send().await.unwrap();
            assert_eq!(
                resp.status(),
                unavailable_status(door),
                "{door:?} -> {}, upstream 503",
                p.kind
            );
        }
    }
    check_golden(transcripts.into_inner());
}

impl Case {
    fn name(&self) -> &'static str {
        match self {
            Case::Text => "text",
            Case::Tools(1) => "tool_call",
            Case::Tools(_) => "parallel_tool_calls",
            Case::Results(_) => "tool_results",
            Case::Image => "image",
            Case::JsonSchema => "json_schema",
            Case::Stop => "stop_sequence",
            Case::MaxTokens => "max_tokens",
        }
    }
}

/// Fields whose values change from run to run (clocks, timings).
const VOLATILE: [&str; 4] = ["created", "created_at", "latencyMs", "completed_at"];

fn normalize(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if VOLATILE.contains(&key.as_str()) && !field.is_null() {
                    *field = json!("<volatile>");
                } else {
                    normalize(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// What the client received, as JSON: the body, or each SSE event (its name and data), or
/// each event-stream frame (its event type and payload).
fn transcript(door: Door, stream: bool, body: &[u8]) -> Value {
    let mut value = match (door, stream) {
        (Door::Bedrock, true) => {
            let mut decoder = MessageFrameDecoder::new();
            let mut buffer = bytes::Bytes::copy_from_slice(body);
            let mut frames = Vec::new();
            while let DecodedFrame::Complete(frame) = decoder.decode_frame(&mut buffer).unwrap() {
                let event_type = frame
                    .headers()
                    .iter()
                    .find(|h| h.name().as_str() == ":event-type")
                    .and_then(|h| h.value().as_string().ok())
                    .map(|v| v.as_str().to_owned());
                let payload: Value = serde_json::from_slice(frame.payload()).unwrap();
                frames.push(json!({"event-type": event_type, "payload": payload}));
            }
            Value::Array(frames)
        }
        (_, true) => Value::Array(
            String::from_utf8_lossy(body)
                .replace("\r\n", "\n")
                .split("\n\n")
                .filter(|e| !e.trim().is_empty())
                // The closing receipt differs per request (ids, times): checked in audit.rs.
                .filter(|e| !e.starts_with(": x-switchyard-receipt="))
                .map(|e| {
                    if let Some(comment) = e.strip_prefix(':') {
                        return json!({ "comment": comment.trim() });
                    }
                    let event = e.lines().find_map(|l| l.strip_prefix("event: "));
                    let data = e
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .unwrap_or("");
                    let data = serde_json::from_str::<Value>(data).unwrap_or(json!(data));
                    match event {
                        Some(name) => json!({"event": name, "data": data}),
                        None => json!({ "data": data }),
                    }
                })
                .collect(),
        ),
        (_, false) => serde_json::from_slice(body).unwrap(),
    };
    normalize(&mut value);
    value
}

/// Compares each door's transcripts with `tests/golden/conformance/{door}.json`; with
/// `SWITCHYARD_UPDATE_GOLDEN=1` writes them instead (review the diff before committing).
fn check_golden(transcripts: BTreeMap<String, BTreeMap<String, Value>>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/conformance");
    let update = std::env::var("SWITCHYARD_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for (door, cases) in transcripts {
        let path = dir.join(format!("{}.json", door.to_lowercase()));
        let actual = serde_json::to_value(&cases).unwrap();
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with SWITCHYARD_UPDATE_GOLDEN=1 to create it)",
                path.display()
            )
        });
        let golden: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
        let golden_keys: Vec<&String> = golden.keys().collect();
        let actual_keys: Vec<&String> = cases.keys().collect();
        assert_eq!(
            actual_keys, golden_keys,
            "{door}: the set of transcripts changed"
        );
        for (key, expected) in &golden {
            assert_eq!(
                &cases[key],
                expected,
                "{door} {key}: differs from {}",
                path.display()
            );
        }
    }
}
