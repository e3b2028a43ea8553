//! The adapter against the testkit mock speaking Ollama's native API.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use switchyard_config::{ProviderConfig, ProviderKind};
use switchyard_testkit::ollama::line;
use switchyard_testkit::{MockOpenAi, Reply};
use switchyard_types::{
    ChatRequest, ContentBlock, Delta, EmbeddingInput, EmbeddingRequest, EncodingFormat, Message,
    Role, StopReason, StreamEvent, Tool,
};

use super::*;

fn config(base_url: &str) -> ProviderConfig {
    crate::test_support::provider_config(
        "ollama",
        ProviderKind::OllamaNative,
        base_url.trim_end_matches("/v1"),
        None,
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
    req.sampling.max_output_tokens = Some(50);
    req.sampling.temperature = Some(0.1);
    req
}

#[tokio::test]
async fn chat_streamed_and_not_with_usage() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = OllamaNative::new(&config(&mock.base_url())).unwrap();
    let resp = p.chat(&ask(false), "llama3.2").await.unwrap();
    assert_eq!(
        resp.content,
        vec![ContentBlock::text(
            "Hello! This is the Switchyard mock Ollama upstream."
        )]
    );
    assert_eq!(resp.usage.input_tokens, 12);
    assert_eq!(resp.usage.output_tokens, 10);
    let sent = mock.requests()[0].json();
    assert!(mock.requests()[0].path.ends_with("/api/chat"));
    assert_eq!(sent["stream"], false);
    assert_eq!(
        sent["options"],
        json!({"temperature": 0.1, "num_predict": 50})
    );
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );

    // NDJSON split mid-line.
    let lines = vec![
        line(
            "llama3.2",
            json!({"role": "assistant", "content": "Hel"}),
            None,
        ),
        line(
            "llama3.2",
            json!({"role": "assistant", "content": "lo"}),
            None,
        ),
        line(
            "llama3.2",
            json!({"role": "assistant", "content": ""}),
            Some("length"),
        ),
    ];
    mock.push(Reply::sse_split(lines, 7, Duration::ZERO));
    let mut stream = p.chat_stream(&ask(true), "llama3.2").await.unwrap();
    let mut events = Vec::new();
    while let Some(e) = stream.next().await {
        events.push(e.unwrap());
    }
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
    assert_eq!(text, "Hello");
    assert!(events.contains(&StreamEvent::MessageStop {
        stop_reason: StopReason::MaxTokens,
        stop_sequence: None
    }));
}

#[tokio::test]
async fn tool_calls_and_results_and_mid_stream_errors() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = OllamaNative::new(&config(&mock.base_url())).unwrap();
    let mut req = ask(false);
    req.tools = vec![Tool {
        name: "get_weather".into(),
        description: None,
        parameters: json!({"type": "object"}),
        strict: None,
        cache_control: None,
    }];
    let resp = p.chat(&req, "llama3.2").await.unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    let ContentBlock::ToolUse { id, arguments, .. } = &resp.content[0] else {
        panic!("{:?}", resp.content)
    };
    assert_eq!(arguments, "{\"location\":\"Paris\"}");
    req.messages.push(Message {
        role: Role::Assistant,
        content: resp.content.clone(),
        name: None,
    });
    req.messages.push(Message {
        role: Role::Tool,
        content: vec![ContentBlock::ToolResult {
            tool_use_id: id.clone(),
            content: vec![ContentBlock::text("18C")],
            is_error: false,
        }],
        name: None,
    });
    p.chat(&req, "llama3.2").await.unwrap();
    let sent = mock.requests()[1].json();
    assert_eq!(
        sent["messages"][2]["tool_calls"][0]["function"],
        json!({"name": "get_weather", "arguments": {"location": "Paris"}})
    );
    assert_eq!(
        sent["messages"][3],
        json!({"role": "tool", "content": "18C", "tool_name": "get_weather"})
    );

    mock.push(Reply::sse_events(vec![
        line(
            "llama3.2",
            json!({"role": "assistant", "content": "par"}),
            None,
        ),
        "{\"error\":\"model crashed\"}\n".to_owned(),
    ]));
    let mut stream = p.chat_stream(&ask(true), "llama3.2").await.unwrap();
    let mut last = None;
    while let Some(e) = stream.next().await {
        last = Some(e);
    }
    assert!(last.unwrap().unwrap_err().message.contains("model crashed"));
}

#[tokio::test]
async fn embeddings() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = OllamaNative::new(&config(&mock.base_url())).unwrap();
    let out = p
        .embed(
            &EmbeddingRequest {
                model: "e".into(),
                input: EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
                encoding_format: EncodingFormat::Float,
                dimensions: None,
                user: None,
            },
            "nomic-embed-text",
        )
        .await
        .unwrap();
    assert_eq!(out.embeddings.len(), 2);
    assert_eq!(out.input_tokens, 2);
    assert!(mock.requests()[0].path.ends_with("/api/embed"));
}

#[tokio::test]
async fn a_character_split_across_reads_arrives_whole() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = OllamaNative::new(&config(&mock.base_url())).unwrap();
    let words = ["Grüße, ", "日本語 ", "🚀✓"];
    let mut lines: Vec<String> = words
        .iter()
        .map(|w| line("llama3.2", json!({"role": "assistant", "content": w}), None))
        .collect();
    lines.push(line(
        "llama3.2",
        json!({"role": "assistant", "content": ""}),
        Some("stop"),
    ));
    // One byte per network write: every multi-byte character is cut.
    mock.push(Reply::sse_split(lines, 1, Duration::ZERO));
    let mut stream = p.chat_stream(&ask(true), "llama3.2").await.unwrap();
    let mut text = String::new();
    while let Some(e) = stream.next().await {
        if let StreamEvent::BlockDelta {
            delta: Delta::Text(t),
            ..
        } = e.unwrap()
        {
            text.push_str(&t);
        }
    }
    assert_eq!(text, words.concat());
    assert!(!text.contains('\u{FFFD}'));
}
