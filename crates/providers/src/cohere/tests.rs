//! The adapter against the testkit mock speaking Cohere's v2 API.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use switchyard_config::{ProviderConfig, ProviderKind};
use switchyard_testkit::{MockOpenAi, Reply};
use switchyard_types::{
    BlockKind, ChatRequest, ContentBlock, Delta, EmbeddingInput, EmbeddingRequest, EncodingFormat,
    Message, Role, StopReason, StreamEvent, Tool,
};

use super::*;

const KEY: &str = "co-secret-abcdefghijklmnop";

fn config(base_url: &str) -> ProviderConfig {
    crate::test_support::provider_config(
        "cohere",
        ProviderKind::Cohere,
        base_url.trim_end_matches("/v1"),
        Some(KEY),
    )
}

fn ask(stream: bool) -> ChatRequest {
    let mut req = ChatRequest {
        model: "alias".to_owned(),
        messages: vec![
            Message::text(Role::System, "be brief"),
            Message::text(Role::User, "hi"),
        ],
        stream,
        ..Default::default()
    };
    req.sampling.top_p = Some(0.9);
    req.sampling.top_k = Some(40);
    req
}

fn with_tool(mut req: ChatRequest) -> ChatRequest {
    req.tools = vec![Tool {
        name: "get_weather".into(),
        description: None,
        parameters: json!({"type": "object"}),
        strict: None,
        cache_control: None,
    }];
    req
}

async fn collect(p: &Cohere, req: &ChatRequest) -> Vec<StreamEvent> {
    let mut stream = p.chat_stream(req, "command-a").await.unwrap();
    let mut events = Vec::new();
    while let Some(e) = stream.next().await {
        events.push(e.unwrap());
    }
    events
}

#[tokio::test]
async fn chat_and_tool_calls_streamed_and_not() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = Cohere::new(&config(&mock.base_url())).unwrap();
    let resp = p.chat(&ask(false), "command-a").await.unwrap();
    assert_eq!(
        resp.content,
        vec![ContentBlock::text(
            "Hello! This is the Switchyard mock Cohere upstream."
        )]
    );
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    assert_eq!(resp.usage.input_tokens, 15);
    let sent = &mock.requests()[0];
    assert!(sent.path.ends_with("/v2/chat"));
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.json()["p"], 0.9);
    assert_eq!(sent.json()["k"], 40);

    let resp = p.chat(&with_tool(ask(false)), "command-a").await.unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert!(
        matches!(&resp.content[0], ContentBlock::ToolUse { arguments, .. } if arguments == "{\"location\":\"Paris\"}")
    );

    let events = collect(&p, &ask(true)).await;
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
    assert_eq!(text, "Hello! This is the Switchyard mock Cohere upstream.");

    let events = collect(&p, &with_tool(ask(true))).await;
    assert!(events.contains(&StreamEvent::BlockStart {
        index: 0,
        block: BlockKind::ToolUse {
            id: "call_c1".into(),
            name: "get_weather".into(),
            signature: None
        }
    }));
    let args: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                delta: Delta::ToolArguments(a),
                ..
            } => Some(a.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(args, "{\"location\":\"Paris\"}");
    assert!(events.contains(&StreamEvent::MessageStop {
        stop_reason: StopReason::ToolUse,
        stop_sequence: None
    }));
}

#[tokio::test]
async fn errors_and_embeddings() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = Cohere::new(&config(&mock.base_url())).unwrap();
    mock.push(Reply::Json {
        status: 429,
        headers: vec![("retry-after".into(), "4".into())],
        body: json!({"message": "too many requests"}).to_string(),
    });
    let err = p.chat(&ask(false), "command-a").await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after, Some(Duration::from_secs(4)));
    let mut req = ask(false);
    req.tool_choice = Some(switchyard_types::ToolChoice::Named("x".into()));
    assert!(p.chat(&with_tool(req), "command-a").await.is_err());
    let out = p
        .embed(
            &EmbeddingRequest {
                model: "e".into(),
                input: EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
                encoding_format: EncodingFormat::Float,
                dimensions: None,
                user: None,
            },
            "embed-v4.0",
        )
        .await
        .unwrap();
    assert_eq!(out.embeddings.len(), 2);
    assert_eq!(out.input_tokens, 2);
}
