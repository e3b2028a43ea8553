//! The adapter against the testkit mock speaking the Gemini API's wire format.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use switchyard_config::{ProviderConfig, ProviderKind};
use switchyard_testkit::gemini::{error_json, response_json, sse};
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};
use switchyard_types::{
    BlockKind, ChatRequest, ContentBlock, Delta, EmbeddingInput, EmbeddingRequest, EncodingFormat,
    ImageSource, Message, Role, StopReason, StreamEvent, Tool,
};

use super::*;
use crate::ProviderErrorKind;

const KEY: &str = "AIza-secret-abcdefghijklmnop";

fn config(base_url: &str) -> ProviderConfig {
    crate::test_support::provider_config(
        "gem",
        ProviderKind::Gemini,
        base_url.trim_end_matches("/v1"),
        Some(KEY),
    )
}

fn ask(stream: bool) -> ChatRequest {
    ChatRequest {
        model: "alias".to_owned(),
        messages: vec![
            Message::text(Role::System, "be brief"),
            Message::text(Role::User, "hi"),
        ],
        stream,
        ..Default::default()
    }
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
fn body_has_system_instruction_roles_and_named_function_responses() {
    let mut req = ask(false);
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![ContentBlock::ToolUse {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: "{\"city\":\"Paris\"}".into(),
            signature: Some("c2ln".into()),
        }],
        name: None,
    });
    req.messages.push(Message {
        role: Role::Tool,
        content: vec![ContentBlock::ToolResult {
            tool_use_id: "call_1".into(),
            content: vec![ContentBlock::text("18C")],
            is_error: false,
        }],
        name: None,
    });
    req.tools = vec![Tool {
        name: "get_weather".into(),
        description: None,
        parameters: json!({"type": "object"}),
        strict: None,
        cache_control: None,
    }];
    let body = serde_json::to_value(request::generate_body(&req, "gem").unwrap()).unwrap();
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "be brief"}]})
    );
    assert_eq!(
        body["contents"][0],
        json!({"role": "user", "parts": [{"text": "hi"}]})
    );
    assert_eq!(
        body["contents"][1]["parts"][0],
        json!({"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}},
               "thoughtSignature": "c2ln"})
    );
    assert_eq!(
        body["contents"][2],
        json!({"role": "user", "parts": [{"functionResponse": {"id": "call_1",
            "name": "get_weather", "response": {"output": "18C"}}}]})
    );
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"],
        json!({"type": "object"})
    );

    let mut req = ask(false);
    req.messages[1].content.push(ContentBlock::Image {
        source: ImageSource::Url {
            url: "https://example.com/a.png".into(),
        },
        detail: None,
        cache_control: None,
    });
    let err = request::generate_body(&req, "gem").unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unsupported);
}

#[tokio::test]
async fn complete_answer_and_key_header() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = Gemini::new(&config(&mock.base_url())).unwrap();
    let resp = p.chat(&ask(false), "gemini-2.5-flash").await.unwrap();
    assert_eq!(
        resp.content,
        vec![ContentBlock::text(
            "Hello! This is the Switchyard mock Gemini upstream."
        )]
    );
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    assert_eq!(resp.usage.input_tokens, 12);
    let sent = &mock.requests()[0];
    assert!(
        sent.path
            .ends_with("/v1beta/models/gemini-2.5-flash:generateContent"),
        "{}",
        sent.path
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
}

#[tokio::test]
async fn streamed_text_and_whole_function_calls() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = Gemini::new(&config(&mock.base_url())).unwrap();
    let (events, err) = collect(p.chat_stream(&ask(true), "gemini-2.5-flash").await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                delta: Delta::Text(t),
                ..
            } => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hello! This is the Switchyard mock Gemini upstream.");
    assert!(mock.requests()[0].path.contains(":streamGenerateContent"));

    // Thought then a call, split across reads.
    let chunks = [
        response_json(
            json!([{"text": "Let me think", "thought": true}]),
            None,
            5,
            1,
        ),
        response_json(
            json!([{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "s"}]),
            Some("STOP"),
            5,
            9,
        ),
    ];
    mock.push(Reply::sse_split(sse(&chunks), 9, Duration::ZERO));
    let (events, err) = collect(p.chat_stream(&ask(true), "gemini-2.5-flash").await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert!(events.contains(&StreamEvent::BlockStart {
        index: 0,
        block: BlockKind::Reasoning
    }));
    assert!(events.contains(&StreamEvent::BlockStart {
        index: 1,
        block: BlockKind::ToolUse {
            id: "call_0".into(),
            name: "f".into(),
            signature: Some("s".into())
        }
    }));
    assert!(events.contains(&StreamEvent::MessageStop {
        stop_reason: StopReason::ToolUse,
        stop_sequence: None
    }));

    // A stream cut before any finish reason is incomplete.
    let cut = [response_json(json!([{"text": "par"}]), None, 5, 1)];
    mock.push(Reply::sse_paced(sse(&cut), Duration::ZERO, SseEnd::Close));
    let (_, err) = collect(p.chat_stream(&ask(true), "gemini-2.5-flash").await.unwrap()).await;
    assert!(err.is_some());
}

#[tokio::test]
async fn errors_counting_and_embeddings() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = Gemini::new(&config(&mock.base_url())).unwrap();
    mock.push(Reply::Json {
        status: 429,
        headers: Vec::new(),
        body: error_json(429, "RESOURCE_EXHAUSTED", "quota"),
    });
    let err = p.chat(&ask(false), "g").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Status(429));
    assert!(err.is_retryable());
    mock.push(Reply::Json {
        status: 403,
        headers: Vec::new(),
        body: error_json(403, "PERMISSION_DENIED", &format!("bad key {KEY}")),
    });
    let err = p.chat(&ask(false), "g").await.unwrap_err();
    assert!(!err.message.contains("AIza"));

    let n = p
        .count_tokens(&ask(false), "gemini-2.5-flash")
        .await
        .unwrap();
    assert!(n >= 1);
    let sent = mock.requests().last().unwrap().json();
    assert_eq!(
        sent["generateContentRequest"]["model"],
        "models/gemini-2.5-flash"
    );

    let embedded = p
        .embed(
            &EmbeddingRequest {
                model: "e".into(),
                input: EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
                encoding_format: EncodingFormat::Float,
                dimensions: None,
                user: None,
            },
            "text-embedding-004",
        )
        .await
        .unwrap();
    assert_eq!(embedded.embeddings.len(), 2);
}

#[test]
fn blocked_prompt_is_a_content_filter_stop() {
    let body = json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}});
    let resp = response::chat_response(body.to_string().as_bytes(), "g").unwrap();
    assert_eq!(resp.stop_reason, StopReason::ContentFilter);
    assert!(resp.content.is_empty());
    let mut d = response::ChunkDecoder::new();
    let mut out = VecDeque::new();
    d.on_data(&body.to_string(), "g", &mut out).unwrap();
    d.on_eof(&mut out).unwrap();
    assert!(out.contains(&StreamEvent::MessageStop {
        stop_reason: StopReason::ContentFilter,
        stop_sequence: None
    }));
}
