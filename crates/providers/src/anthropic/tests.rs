//! The adapter against the testkit mock speaking Anthropic's exact wire format, and the
//! translation rules on their own.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use switchyard_config::{ProviderConfig, ProviderKind};
use switchyard_testkit::anthropic::{error_json, event, sse_text, sse_tool_calls};
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};
use switchyard_types::{
    BlockKind, ChatRequest, ContentBlock, Delta, Message, ReasoningConfig, ResponseFormat, Role,
    StopReason, StreamEvent, Tool, ToolChoice,
};

use super::*;
use crate::ProviderErrorKind;

const KEY: &str = "sk-ant-secret-abcdefghijklmnop";

fn config(base_url: &str) -> ProviderConfig {
    crate::test_support::provider_config("claude", ProviderKind::Anthropic, base_url, Some(KEY))
}

fn ask(stream: bool) -> ChatRequest {
    ChatRequest {
        model: "alias".to_owned(),
        messages: vec![
            Message::text(Role::Developer, "be brief"),
            Message::text(Role::User, "hi"),
        ],
        stream,
        ..Default::default()
    }
}

fn body(req: &ChatRequest) -> serde_json::Value {
    serde_json::to_value(request::messages_body(req, "claude-x", false, "claude").unwrap()).unwrap()
}

async fn collect(stream: crate::EventStream) -> (Vec<StreamEvent>, Option<ProviderError>) {
    let mut events = Vec::new();
    let mut stream = stream;
    while let Some(item) = stream.next().await {
        match item {
            Ok(e) => events.push(e),
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

#[test]
fn system_is_hoisted_and_max_tokens_filled() {
    let b = body(&ask(false));
    assert_eq!(b["system"], json!([{"type": "text", "text": "be brief"}]));
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    );
    assert_eq!(b["max_tokens"], request::DEFAULT_MAX_TOKENS);
    assert_eq!(b["model"], "claude-x");
}

#[test]
fn tool_results_open_the_user_turn_and_turns_merge() {
    let mut req = ask(false);
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![
            ContentBlock::text(""),
            ContentBlock::ToolUse {
                id: "call.1".into(),
                name: "f".into(),
                arguments: "{\"a\":1}".into(),
                signature: None,
            },
            ContentBlock::ToolUse {
                id: "call_2".into(),
                name: "f".into(),
                arguments: "not json".into(),
                signature: None,
            },
        ],
        name: None,
    });
    // OpenAI order: one tool message per result, then the user's next words.
    for id in ["call.1", "call_2"] {
        req.messages.push(Message {
            role: Role::Tool,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: id.into(),
                content: vec![ContentBlock::text("ok")],
                is_error: false,
            }],
            name: None,
        });
    }
    req.messages.push(Message::text(Role::User, "thanks"));
    req.messages
        .push(Message::text(Role::System, "now be verbose"));
    let b = body(&req);
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_eq!(
        msgs[1]["content"],
        json!([
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
            {"type": "tool_use", "id": "call_2", "name": "f", "input": {}}
        ])
    );
    let turn = msgs[2]["content"].as_array().unwrap();
    assert_eq!(turn.len(), 4);
    assert_eq!(turn[0]["type"], "tool_result");
    assert_eq!(turn[0]["tool_use_id"], "call_1");
    assert_eq!(turn[1]["tool_use_id"], "call_2");
    assert_eq!(turn[2], json!({"type": "text", "text": "thanks"}));
    assert_eq!(
        turn[3]["text"], "[System instruction] now be verbose",
        "a late system message is a note in the user's turn"
    );
}

#[test]
fn controls_map_or_are_declined_by_name() {
    let mut req = ask(false);
    req.sampling.temperature = Some(1.7);
    req.sampling.stop = vec!["END".into()];
    req.sampling.max_output_tokens = Some(100);
    req.tools = vec![Tool {
        name: "f".into(),
        description: None,
        parameters: json!({"type": "object"}),
        strict: None,
        cache_control: None,
    }];
    req.tool_choice = Some(ToolChoice::Required);
    req.parallel_tool_calls = Some(false);
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "x".into(),
        description: None,
        schema: json!({"type": "object"}),
        strict: Some(true),
    });
    req.reasoning = Some(ReasoningConfig {
        budget_tokens: Some(2048),
        effort: Some("high".into()),
        ..Default::default()
    });
    let b = body(&req);
    assert_eq!(b["temperature"], 1.0);
    assert_eq!(b["stop_sequences"], json!(["END"]));
    assert_eq!(b["max_tokens"], 100);
    assert_eq!(
        b["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        b["tools"],
        json!([{"name": "f", "input_schema": {"type": "object"}}])
    );
    assert_eq!(
        b["output_config"],
        json!({"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}})
    );
    assert_eq!(
        b["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );

    let mut req = ask(false);
    req.sampling.presence_penalty = Some(0.5);
    let err = request::messages_body(&req, "m", false, "claude").unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unsupported);
    assert!(err.message.contains("presence_penalty"));
    let mut req = ask(false);
    req.response_format = Some(ResponseFormat::JsonObject);
    let err = request::messages_body(&req, "m", false, "claude").unwrap_err();
    assert!(err.message.contains("json_object"));
}

#[test]
fn only_signed_reasoning_goes_back() {
    let mut req = ask(false);
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![
            ContentBlock::Reasoning {
                text: "from elsewhere".into(),
                signature: None,
            },
            ContentBlock::Reasoning {
                text: "mine".into(),
                signature: Some("sig".into()),
            },
            ContentBlock::text("answer"),
        ],
        name: None,
    });
    let b = body(&req);
    assert_eq!(
        b["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "mine", "signature": "sig"},
            {"type": "text", "text": "answer"}
        ])
    );
}

#[tokio::test]
async fn complete_answer_with_headers_and_usage() {
    let mock = MockOpenAi::start().await.unwrap();
    // The base URL without `/v1`, as Anthropic documents it.
    let base = mock.base_url().trim_end_matches("/v1").to_owned();
    let p = Anthropic::new(&config(&base)).unwrap();
    let resp = p.chat(&ask(false), "claude-x").await.unwrap();
    assert_eq!(
        resp.content,
        vec![ContentBlock::text(
            "Hello! This is the Switchyard mock Anthropic upstream."
        )]
    );
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    assert_eq!(resp.usage.input_tokens, 12);
    assert_eq!(resp.usage.output_tokens, 10);
    let sent = &mock.requests()[0];
    assert!(sent.path.ends_with("/v1/messages"), "{}", sent.path);
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some(API_VERSION));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn streamed_tool_calls_with_cache_usage() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut events = sse_tool_calls(
        "claude-x",
        &[
            ("toolu_1", "get_weather", vec!["{\"city\":", "\"Paris\"}"]),
            ("toolu_2", "get_time", vec![]),
        ],
        5,
        30,
    );
    // A prompt-cache hit reported in message_start.
    events[0] = event(json!({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 5, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 100, "output_tokens": 1}}}));
    // Split frames, as a network would.
    mock.push(Reply::sse_split(events, 7, Duration::ZERO));
    let p = Anthropic::new(&config(&mock.base_url())).unwrap();
    let (events, err) = collect(p.chat_stream(&ask(true), "claude-x").await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert!(matches!(events[0], StreamEvent::MessageStart { .. }));
    let starts: Vec<&BlockKind> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart { block, .. } => Some(block),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        vec![
            &BlockKind::ToolUse {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                signature: None
            },
            &BlockKind::ToolUse {
                id: "toolu_2".into(),
                name: "get_time".into(),
                signature: None
            }
        ]
    );
    let args: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::ToolArguments(a),
            } => Some(a.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert!(events.contains(&StreamEvent::MessageStop {
        stop_reason: StopReason::ToolUse,
        stop_sequence: None
    }));
    let StreamEvent::Usage { usage } = events.last().unwrap() else {
        panic!("{events:?}")
    };
    assert_eq!(usage.input_tokens, 105);
    assert_eq!(usage.cache_read_tokens, 100);
    assert_eq!(usage.output_tokens, 30);
}

#[test]
fn server_tool_blocks_are_skipped_and_indices_stay_dense() {
    let mut d = stream::EventDecoder::new();
    let mut out = VecDeque::new();
    for data in [
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "signature_delta", "signature": "sig"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "some_future_event"}),
    ] {
        d.on_data(&data.to_string(), &mut out).unwrap();
    }
    let out: Vec<StreamEvent> = out.into_iter().collect();
    assert_eq!(
        out,
        vec![
            StreamEvent::BlockStart {
                index: 0,
                block: BlockKind::Reasoning
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Reasoning("hmm".into())
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::ReasoningSignature("sig".into())
            },
            StreamEvent::BlockStop { index: 0 },
        ]
    );
    assert!(d.on_eof().is_err(), "no message_stop: incomplete");
}

#[tokio::test]
async fn errors_are_classified_and_scrubbed() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = Anthropic::new(&config(&mock.base_url())).unwrap();
    let cases = [
        (529, "overloaded_error", "Overloaded", true),
        (429, "rate_limit_error", "slow down", true),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 300000 tokens > 200000 maximum",
            false,
        ),
        (
            401,
            "authentication_error",
            &format!("invalid x-api-key {KEY}"),
            false,
        ),
    ];
    for (status, kind, message, retryable) in cases {
        mock.push(Reply::Json {
            status,
            headers: vec![("retry-after".into(), "2".into())],
            body: error_json(kind, message),
        });
        let err = p.chat(&ask(false), "claude-x").await.unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Status(status));
        assert_eq!(err.is_retryable(), retryable, "{status}");
        assert!(!err.message.contains("sk-ant"), "{}", err.message);
        assert_eq!(err.retry_after, Some(Duration::from_secs(2)));
        if status == 400 {
            assert_eq!(err.code.as_deref(), Some("context_length_exceeded"));
        }
    }
    // An error event before any content, and a stream cut short.
    let mut events = sse_text("claude-x", &["a"], 1, 1);
    events.truncate(2);
    events.push(event(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    mock.push(Reply::sse_events(events));
    let (_, err) = collect(p.chat_stream(&ask(true), "claude-x").await.unwrap()).await;
    let err = err.unwrap();
    assert_eq!(err.kind, ProviderErrorKind::Status(529));
    assert!(err.is_retryable());
    let mut events = sse_text("claude-x", &["a", "b"], 1, 1);
    events.truncate(4);
    mock.push(Reply::sse_paced(events, Duration::ZERO, SseEnd::Reset));
    let (events, err) = collect(p.chat_stream(&ask(true), "claude-x").await.unwrap()).await;
    assert!(events
        .iter()
        .any(|e| matches!(e, StreamEvent::BlockDelta { .. })));
    assert!(err.is_some());
}

#[tokio::test]
async fn counts_tokens_upstream() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: json!({"input_tokens": 42}).to_string(),
    });
    let p = Anthropic::new(&config(&mock.base_url())).unwrap();
    assert_eq!(p.count_tokens(&ask(false), "claude-x").await.unwrap(), 42);
    let sent = &mock.requests()[0];
    assert!(
        sent.path.ends_with("/v1/messages/count_tokens"),
        "{}",
        sent.path
    );
    assert!(sent.json().get("max_tokens").is_none());
    assert_eq!(sent.json()["system"][0]["text"], "be brief");
}
