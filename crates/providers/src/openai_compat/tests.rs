//! The adapter against the testkit mock, which speaks OpenAI's exact wire format.

use std::time::Duration;

use futures::StreamExt;
use switchyard_config::{ProviderConfig, ProviderKind, Secret};
use switchyard_testkit::openai::{sse_text_pieces, sse_tool_call_pieces};
use switchyard_testkit::{MockOpenAi, Reply, SseEnd};
use switchyard_types::{
    BlockKind, ChatRequest, ContentBlock, Delta, Message, ResponseFormat, Role, StopReason,
    StreamEvent,
};

use super::*;
use crate::{ProviderErrorKind, TimeoutPhase};

const KEY: &str = "sk-secret-abcdefghijklmnop";

fn config(kind: ProviderKind, base_url: &str) -> ProviderConfig {
    crate::test_support::provider_config("up", kind, base_url, Some(KEY))
}

fn request(stream: bool) -> ChatRequest {
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

async fn collect(stream: crate::EventStream) -> (Vec<StreamEvent>, Option<crate::ProviderError>) {
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

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                delta: Delta::Text(t),
                ..
            } => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn non_streaming_round_trip_and_auth_header() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let resp = p.chat(&request(false), "gpt-4o-mini").await.unwrap();
    assert_eq!(
        resp.content,
        vec![ContentBlock::text(
            "Hello! This is the Switchyard mock upstream."
        )]
    );
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    assert_eq!(resp.usage.input_tokens, 12);
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = sent.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["messages"][0]["role"], "developer");
    assert!(body.get("stream").is_none());
}

#[tokio::test]
async fn developer_role_becomes_system_where_unknown() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = OpenAiCompat::new(&config(ProviderKind::Vllm, &mock.base_url())).unwrap();
    p.chat(&request(false), "m").await.unwrap();
    assert_eq!(mock.requests()[0].json()["messages"][0]["role"], "system");
    assert!(mock.requests()[0]
        .json()
        .get("max_completion_tokens")
        .is_none());
}

#[tokio::test]
async fn streaming_split_frames_give_the_same_events() {
    let events = sse_text_pieces("m", &["Hel", "lo ", "wörld"], true);
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::sse_events(events.clone()));
    mock.push(Reply::sse_split(events, 7, Duration::from_millis(1)));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let (whole, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    let (split, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(whole, split);
    assert_eq!(text_of(&whole), "Hello wörld");
    assert!(matches!(
        whole.first(),
        Some(StreamEvent::MessageStart { .. })
    ));
    assert!(whole.iter().any(|e| matches!(
        e,
        StreamEvent::MessageStop {
            stop_reason: StopReason::EndTurn,
            ..
        }
    )));
    assert!(whole
        .iter()
        .any(|e| matches!(e, StreamEvent::Usage { usage } if usage.input_tokens == 12)));
    let body = mock.requests()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn parallel_tool_calls_stream_as_separate_blocks() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::sse_split(
        sse_tool_call_pieces(
            "m",
            &[
                ("call_a", "get_weather", vec!["{\"city\":", "\"Paris\"}"]),
                ("call_b", "get_time", vec!["{\"tz\":\"CET\"}"]),
            ],
            false,
        ),
        13,
        Duration::ZERO,
    ));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let (events, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart {
                index,
                block: BlockKind::ToolUse { id, name, .. },
            } => Some((*index, id.clone(), name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        vec![
            (0, "call_a".into(), "get_weather".into()),
            (1, "call_b".into(), "get_time".into())
        ]
    );
    let args = |block: u32| -> String {
        events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::BlockDelta {
                    index,
                    delta: Delta::ToolArguments(a),
                } if *index == block => Some(a.as_str()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(args(0), "{\"city\":\"Paris\"}");
    assert_eq!(args(1), "{\"tz\":\"CET\"}");
    assert!(events.contains(&StreamEvent::BlockStop { index: 0 }));
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::MessageStop {
            stop_reason: StopReason::ToolUse,
            ..
        }
    )));
}

#[tokio::test]
async fn reset_mid_stream_is_an_error_after_the_content_so_far() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut events = sse_text_pieces("m", &["one ", "two"], false);
    events.truncate(2);
    mock.push(Reply::sse_paced(events, Duration::ZERO, SseEnd::Reset));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let (events, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert_eq!(text_of(&events), "one ");
    assert_eq!(err.unwrap().kind, ProviderErrorKind::Interrupted);
}

#[tokio::test]
async fn clean_close_without_done_or_finish_is_an_error() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut events = sse_text_pieces("m", &["one "], false);
    events.truncate(2);
    mock.push(Reply::sse_events(events));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let (_, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert_eq!(err.unwrap().kind, ProviderErrorKind::Interrupted);
}

#[tokio::test]
async fn stall_after_headers_hits_the_idle_timeout() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut events = sse_text_pieces("m", &["one "], false);
    events.truncate(2);
    mock.push(Reply::sse_paced(events, Duration::ZERO, SseEnd::Hold));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let started = std::time::Instant::now();
    let (events, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert_eq!(text_of(&events), "one ");
    assert_eq!(
        err.unwrap().kind,
        ProviderErrorKind::Timeout(TimeoutPhase::Idle)
    );
    assert!(started.elapsed() < Duration::from_millis(300 + 1000));
}

#[tokio::test]
async fn hung_upstream_hits_the_first_byte_timeout() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::Hang);
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let started = std::time::Instant::now();
    let err = p.chat(&request(false), "m").await.unwrap_err();
    assert_eq!(
        err.kind,
        ProviderErrorKind::Timeout(TimeoutPhase::FirstByte)
    );
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_millis(500 + 1000));
}

#[tokio::test]
async fn drip_feed_slower_than_total_hits_the_total_timeout() {
    let mock = MockOpenAi::start().await.unwrap();
    let events = sse_text_pieces("m", &["a"; 40], false);
    mock.push(Reply::sse_paced(
        events,
        Duration::from_millis(200),
        SseEnd::Close,
    ));
    let mut cfg = config(ProviderKind::OpenAi, &mock.base_url());
    cfg.timeouts.total = Duration::from_secs(1);
    let p = OpenAiCompat::new(&cfg).unwrap();
    let started = std::time::Instant::now();
    let (_, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert_eq!(
        err.unwrap().kind,
        ProviderErrorKind::Timeout(TimeoutPhase::Total)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn rate_limit_keeps_retry_after_and_is_retryable() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::error(
        429,
        "requests",
        "Rate limit reached",
        Some("7"),
    ));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let err = p.chat(&request(false), "m").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Status(429));
    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn upstream_auth_errors_never_repeat_the_key() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::error(
        401,
        "invalid_request_error",
        &format!("Incorrect API key provided: {KEY}"),
        None,
    ));
    mock.push(Reply::error(
        400,
        "invalid_request_error",
        &format!("bad thing near sk-secret-abc...op {KEY}"),
        None,
    ));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let err = p.chat(&request(false), "m").await.unwrap_err();
    assert!(!err.message.contains("sk-secret"), "{}", err.message);
    assert!(!err.is_retryable());
    let err = p.chat(&request(false), "m").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Status(400));
    assert!(!err.message.contains("sk-secret"), "{}", err.message);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn error_event_inside_a_stream_is_an_error() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut events = sse_text_pieces("m", &["x"], false);
    events.truncate(2);
    events.push("data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n".into());
    mock.push(Reply::sse_events(events));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let (events, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert_eq!(text_of(&events), "x");
    assert!(err.unwrap().message.contains("overloaded"));
}

#[tokio::test]
async fn malformed_sse_is_a_protocol_error() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::sse_events(vec!["data: {not json\n\n".into()]));
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let (_, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert_eq!(err.unwrap().kind, ProviderErrorKind::Protocol);
}

#[tokio::test]
async fn connect_refused_is_a_retryable_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = OpenAiCompat::new(&config(
        ProviderKind::OpenAi,
        &format!("http://127.0.0.1:{port}/v1"),
    ))
    .unwrap();
    let err = p.chat(&request(false), "m").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Connect);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn azure_deployment_urls_and_api_key_header() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut cfg = config(ProviderKind::Azure, &format!("http://{}", mock.addr()));
    cfg.api_version = Some("2024-06-01".to_owned());
    let p = OpenAiCompat::new(&cfg).unwrap();
    p.chat(&request(false), "my-deploy").await.unwrap();
    let sent = &mock.requests()[0];
    assert_eq!(
        sent.path,
        "/openai/deployments/my-deploy/chat/completions?api-version=2024-06-01"
    );
    assert_eq!(sent.header("api-key"), Some(KEY));
    assert!(sent.header("authorization").is_none());

    cfg.api_version = None;
    let p = OpenAiCompat::new(&cfg).unwrap();
    p.chat(&request(false), "my-deploy").await.unwrap();
    assert_eq!(mock.requests()[1].path, "/openai/v1/chat/completions");
}

#[test]
fn mistral_tool_ids_are_nine_alphanumerics_and_stable() {
    let q = HostQuirks::for_kind(ProviderKind::Mistral);
    let a = request::tool_id("call_abc123XYZ", &q);
    assert_eq!(a.len(), 9);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(a, request::tool_id("call_abc123XYZ", &q));
    assert_ne!(a, request::tool_id("call_abc123XYZ2", &q));
    assert_eq!(request::tool_id("abcDEF123", &q), "abcDEF123");
}

#[test]
fn llamacpp_gets_the_schema_at_top_level_too() {
    let mut req = request(false);
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "x".into(),
        description: None,
        schema: serde_json::json!({"type": "object"}),
        strict: Some(true),
    });
    let body = request::chat_body(
        &req,
        "m",
        req.stream,
        &HostQuirks::for_kind(ProviderKind::LlamaCpp),
        "h",
    )
    .unwrap();
    let json = serde_json::to_value(&body).unwrap();
    assert_eq!(json["response_format"]["schema"]["type"], "object");
    assert_eq!(
        json["response_format"]["json_schema"]["schema"]["type"],
        "object"
    );
}

#[test]
fn ollama_rejects_image_urls_with_a_clear_message() {
    let mut req = request(false);
    req.messages.push(Message {
        role: Role::User,
        content: vec![ContentBlock::Image {
            source: switchyard_types::ImageSource::Url {
                url: "https://x/y.png".into(),
            },
            detail: None,
            cache_control: None,
        }],
        name: None,
    });
    let err = request::chat_body(
        &req,
        "m",
        req.stream,
        &HostQuirks::for_kind(ProviderKind::Ollama),
        "local-ollama",
    )
    .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unsupported);
    assert!(err.message.contains("image URLs"), "{}", err.message);
}

#[tokio::test]
async fn embeddings_in_input_order() {
    let mock = MockOpenAi::start().await.unwrap();
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let req = switchyard_types::EmbeddingRequest {
        model: "e".into(),
        input: switchyard_types::EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
        encoding_format: Default::default(),
        dimensions: Some(4),
        user: None,
    };
    let resp = p.embed(&req, "text-embedding-3-small").await.unwrap();
    assert_eq!(resp.embeddings.len(), 2);
    assert_eq!(resp.embeddings[0].len(), 4);
    assert_eq!(mock.requests()[0].path, "/v1/embeddings");
}

#[tokio::test]
async fn tls_upstream_with_an_extra_ca_speaks_http2() {
    let mock = MockOpenAi::start_tls().await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "switchyard-ca-{}-{}",
        std::process::id(),
        mock.addr().port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, mock.ca_pem().unwrap()).unwrap();

    let mut cfg = config(ProviderKind::OpenAi, &mock.base_url());
    cfg.tls_ca_file = Some(ca.clone());
    let p = OpenAiCompat::new(&cfg).unwrap();
    let resp = p.chat(&request(false), "m").await.unwrap();
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    let (events, err) = collect(p.chat_stream(&request(true), "m").await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        text_of(&events),
        "Hello! This is the Switchyard mock upstream."
    );
    let sent = mock.requests();
    assert!(
        sent.iter().all(|r| r.version == http::Version::HTTP_2),
        "{:?}",
        sent.iter().map(|r| r.version).collect::<Vec<_>>()
    );
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    // Without the CA the certificate is not trusted: a connect error, and nothing was sent.
    cfg.tls_ca_file = None;
    let p = OpenAiCompat::new(&cfg).unwrap();
    let err = p.chat(&request(false), "m").await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Connect, "{}", err.message);
    assert_eq!(mock.request_count(), 2);

    // A file with no certificate is a clear setup error.
    std::fs::write(&ca, "not a certificate").unwrap();
    cfg.tls_ca_file = Some(ca);
    let err = OpenAiCompat::new(&cfg).unwrap_err();
    assert!(
        err.message.contains("no PEM certificates"),
        "{}",
        err.message
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn provider_options_reach_only_their_own_provider_type() {
    let mock = MockOpenAi::start().await.unwrap();
    let mut req = request(false);
    req.provider_options.insert(
        "vllm".into(),
        serde_json::json!({"guided_choice": ["a", "b"], "top_k": 5}),
    );
    req.provider_options
        .insert("ollama".into(), serde_json::json!({"keep_alive": "5m"}));
    OpenAiCompat::new(&config(ProviderKind::Vllm, &mock.base_url()))
        .unwrap()
        .chat(&req, "m")
        .await
        .unwrap();
    OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url()))
        .unwrap()
        .chat(&req, "m")
        .await
        .unwrap();
    let vllm = mock.requests()[0].json();
    assert_eq!(vllm["guided_choice"], serde_json::json!(["a", "b"]));
    assert_eq!(vllm["top_k"], 5);
    assert!(vllm.get("keep_alive").is_none());
    let openai = mock.requests()[1].json();
    assert!(openai.get("guided_choice").is_none() && openai.get("keep_alive").is_none());

    req.provider_options
        .insert("vllm".into(), serde_json::json!("not an object"));
    let err = OpenAiCompat::new(&config(ProviderKind::Vllm, &mock.base_url()))
        .unwrap()
        .chat(&req, "m")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Unsupported);
}

#[tokio::test]
async fn url_citations_become_canonical_citations() {
    let mock = MockOpenAi::start().await.unwrap();
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: serde_json::json!({
            "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-search-preview",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Rust 1.0 shipped in 2015.",
                "annotations": [{"type": "url_citation", "url_citation": {"start_index": 0, "end_index": 25, "url": "https://blog.rust-lang.org/", "title": "Rust Blog"}}]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        }).to_string(),
    });
    let p = OpenAiCompat::new(&config(ProviderKind::OpenAi, &mock.base_url())).unwrap();
    let resp = p.chat(&request(false), "m").await.unwrap();
    let ContentBlock::Text { citations, .. } = &resp.content[0] else {
        panic!("{:?}", resp.content)
    };
    assert_eq!(
        citations[0].source.as_deref(),
        Some("https://blog.rust-lang.org/")
    );
    assert_eq!((citations[0].start, citations[0].end), (Some(0), Some(25)));
}

#[test]
fn debug_output_never_shows_credentials() {
    let mut cfg = config(ProviderKind::OpenAi, "http://127.0.0.1:1/v1");
    cfg.headers
        .push(("x-extra-auth".into(), Secret::new("hdr-secret-0123456789")));
    let p = OpenAiCompat::new(&cfg).unwrap();
    let debug = format!("{p:?} {cfg:?}");
    assert!(
        !debug.contains(KEY) && !debug.contains("hdr-secret"),
        "{debug}"
    );
}
