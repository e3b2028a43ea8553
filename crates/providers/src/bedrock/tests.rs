//! The adapter against the testkit mock speaking Bedrock's exact wire format (binary event
//! streams included), the signature against botocore's, the credential chain's sources, and
//! the translation rules on their own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use serde_json::json;
use switchyard_config::{AwsConfig, AwsKeys, ProviderConfig, ProviderKind, Secret};
use switchyard_testkit::bedrock::{
    error, event_frame, event_stream, event_stream_split, exception_frame, text_frames,
    tool_frames, REQUEST_ID, TEXT,
};
use switchyard_testkit::{MockOpenAi, Reply};
use switchyard_types::{
    BlockKind, ChatRequest, ContentBlock, Delta, ImageSource, Message, ReasoningConfig,
    ResponseFormat, Role, StopReason, StreamEvent, Tool, ToolChoice,
};

use super::credentials::{AwsCredentials, CredentialChain};
use super::*;
use crate::ProviderErrorKind;

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const MODEL: &str = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0";

fn aws(keys: bool) -> AwsConfig {
    AwsConfig {
        region: "eu-central-1".to_owned(),
        static_keys: keys.then(|| AwsKeys {
            access_key_id: KEY_ID.to_owned(),
            secret_access_key: Secret::new(SECRET),
            session_token: None,
        }),
        profile: None,
    }
}

fn config(base_url: &str) -> ProviderConfig {
    let mut c =
        crate::test_support::provider_config("bedrock-eu", ProviderKind::Bedrock, base_url, None);
    c.aws = Some(aws(true));
    c
}

fn no_env() -> credentials::EnvFn {
    Arc::new(|_: &str| None)
}

fn env_of(pairs: &[(&str, String)]) -> credentials::EnvFn {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Arc::new(move |name: &str| map.get(name).cloned())
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

fn body(req: &ChatRequest, model: &str) -> serde_json::Value {
    serde_json::to_value(request::converse_body(req, model, "bedrock-eu").unwrap()).unwrap()
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

#[test]
fn signature_matches_botocore() {
    // Expected values from scripts/reference/bedrock_sigv4.py (botocore's SigV4Auth).
    let url: http::Uri = "https://bedrock-runtime.eu-central-1.amazonaws.com/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse".parse().unwrap();
    let body = br#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}"#;
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("accept", "application/json".parse().unwrap());
    headers.insert("user-agent", "switchyard/test".parse().unwrap());
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_867_200);
    let mut creds = AwsCredentials {
        access_key_id: KEY_ID.to_owned(),
        secret_access_key: SECRET.to_owned(),
        session_token: None,
        expires: None,
        source: "test",
    };
    let signed = sign::sign_post(&creds, "eu-central-1", &url, &headers, body, when).unwrap();
    assert_eq!(signed["x-amz-date"], "20261128T120000Z");
    assert_eq!(
        signed["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/eu-central-1/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature=ae51a4f8dfd1fdf6facad648db0ced26a7aee4542cb51ea9f4b3de8fcba0ce51"
    );
    assert!(signed["authorization"].is_sensitive());

    creds.session_token = Some("IQoJb3JpZ2luX2VjEXAMPLETOKEN".to_owned());
    let signed = sign::sign_post(&creds, "eu-central-1", &url, &headers, body, when).unwrap();
    assert_eq!(
        signed["x-amz-security-token"],
        "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
    );
    assert_eq!(
        signed["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/eu-central-1/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, Signature=26745d06499c8cf882251a2442e7e9f7c652552d26eb7f8790f07ff76c14f129"
    );
}

#[test]
fn system_is_hoisted_and_sampling_goes_to_inference_config() {
    let mut req = ask(false);
    req.sampling.max_output_tokens = Some(100);
    req.sampling.temperature = Some(1.5);
    req.sampling.top_p = Some(0.9);
    req.sampling.stop = vec!["END".into()];
    let b = body(&req, MODEL);
    assert_eq!(b["system"], json!([{"text": "be brief"}]));
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": [{"text": "hi"}]}])
    );
    assert_eq!(
        b["inferenceConfig"],
        json!({"maxTokens": 100, "temperature": 1.0, "topP": 0.9, "stopSequences": ["END"]})
    );
    assert!(b.get("modelId").is_none() && b.get("toolConfig").is_none());
}

#[test]
fn tools_results_ids_and_cache_points_follow_converse_rules() {
    let long_id = format!("call_{}", "x".repeat(80));
    let mut req = ask(false);
    req.messages[1].content[0] = ContentBlock::Text {
        text: "hi".into(),
        cache_control: Some(switchyard_types::CacheControl { ttl: None }),
        citations: Vec::new(),
    };
    req.messages.push(Message {
        role: Role::Assistant,
        content: vec![
            ContentBlock::Reasoning {
                text: "thinking".into(),
                signature: Some("sig".into()),
            },
            ContentBlock::ToolUse {
                id: long_id.clone(),
                name: "get_weather".into(),
                arguments: "{\"city\":\"Paris\"}".into(),
                signature: None,
            },
            ContentBlock::ToolUse {
                id: "call.2".into(),
                name: "get_time".into(),
                arguments: "not json".into(),
                signature: None,
            },
        ],
        name: None,
    });
    req.messages.push(Message {
        role: Role::User,
        content: vec![ContentBlock::text("and?")],
        name: None,
    });
    for (id, text) in [(&long_id, "18C"), (&"call.2".to_owned(), "noon")] {
        req.messages.push(Message {
            role: Role::Tool,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: id.clone(),
                content: vec![ContentBlock::text(text)],
                is_error: text == "noon",
            }],
            name: None,
        });
    }
    req.tools = vec![Tool {
        name: "get_weather".into(),
        description: Some("weather".into()),
        parameters: json!({"type": "object"}),
        strict: None,
        cache_control: None,
    }];
    req.tool_choice = Some(ToolChoice::Named("get_weather".into()));
    let b = body(&req, MODEL);
    let messages = b["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "user, assistant, user (merged): {b}");
    assert_eq!(
        messages[0]["content"][1],
        json!({"cachePoint": {"type": "default"}})
    );
    let calls = &messages[1]["content"];
    assert_eq!(
        calls[0],
        json!({"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "sig"}}})
    );
    let safe_long = calls[1]["toolUse"]["toolUseId"].as_str().unwrap();
    assert_eq!(safe_long.len(), 64);
    assert_eq!(calls[1]["toolUse"]["input"], json!({"city": "Paris"}));
    assert_eq!(calls[2]["toolUse"]["toolUseId"], "call_2");
    assert_eq!(calls[2]["toolUse"]["input"], json!({}));
    let answers = messages[2]["content"].as_array().unwrap();
    assert_eq!(
        answers[0],
        json!({"toolResult": {"toolUseId": safe_long, "content": [{"text": "18C"}]}})
    );
    assert_eq!(answers[1]["toolResult"]["status"], "error");
    assert_eq!(answers[2], json!({"text": "and?"}), "results open the turn");
    assert_eq!(
        b["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "weather",
            "inputSchema": {"json": {"type": "object"}}}}],
            "toolChoice": {"tool": {"name": "get_weather"}}})
    );
}

#[test]
fn images_schemas_and_model_native_fields() {
    let mut req = ask(false);
    req.messages[1].content.push(ContentBlock::Image {
        source: ImageSource::Base64 {
            media_type: "image/jpeg".into(),
            data: "AAAA".into(),
        },
        detail: None,
        cache_control: None,
    });
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "answer".into(),
        description: None,
        schema: json!({"type": "object"}),
        strict: Some(true),
    });
    req.sampling.top_k = Some(20);
    req.reasoning = Some(ReasoningConfig {
        budget_tokens: Some(2048),
        ..Default::default()
    });
    req.provider_options
        .insert("bedrock".into(), json!({"anthropic_beta": ["x"]}));
    let b = body(&req, MODEL);
    assert_eq!(
        b["messages"][0]["content"][1],
        json!({"image": {"format": "jpeg", "source": {"bytes": "AAAA"}}})
    );
    assert_eq!(
        b["outputConfig"],
        json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": "{\"type\":\"object\"}", "name": "answer"}}}})
    );
    assert_eq!(
        b["additionalModelRequestFields"],
        json!({"anthropic_beta": ["x"], "top_k": 20,
               "thinking": {"type": "enabled", "budget_tokens": 2048}})
    );
    assert_eq!(b["inferenceConfig"]["maxTokens"], 2048 + 4096);
}

#[test]
fn what_converse_cannot_express_is_named() {
    type Change = Box<dyn Fn(&mut ChatRequest)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|r| r.sampling.seed = Some(1)), "seed"),
        (
            Box::new(|r| r.sampling.presence_penalty = Some(0.5)),
            "presence_penalty",
        ),
        (
            Box::new(|r| r.response_format = Some(ResponseFormat::JsonObject)),
            "json_object",
        ),
        (
            Box::new(|r| r.parallel_tool_calls = Some(false)),
            "parallel_tool_calls",
        ),
        (
            Box::new(|r| {
                r.messages[1].content.push(ContentBlock::Image {
                    source: ImageSource::Url {
                        url: "https://example.com/a.png".into(),
                    },
                    detail: None,
                    cache_control: None,
                })
            }),
            "by URL",
        ),
    ];
    for (change, feature) in cases {
        let mut req = ask(false);
        change(&mut req);
        let err = request::converse_body(&req, MODEL, "bedrock-eu").unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::Unsupported);
        assert!(err.message.contains(feature), "{feature}: {}", err.message);
        assert!(err.message.contains("bedrock-eu"));
    }
    // top_k has no Converse field and no known native one for other vendors' models.
    let mut req = ask(false);
    req.sampling.top_k = Some(5);
    assert!(request::converse_body(&req, "meta.llama3-70b-instruct-v1:0", "b").is_err());
    assert!(request::converse_body(&req, "amazon.nova-pro-v1:0", "b").is_ok());
}

#[tokio::test]
async fn chat_is_signed_and_decoded() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let p = Bedrock::with_env(&config(&root), no_env()).unwrap();
    let answer = p.chat(&ask(false), MODEL).await.unwrap();
    assert_eq!(answer.content, vec![ContentBlock::text(TEXT)]);
    assert_eq!(answer.stop_reason, StopReason::EndTurn);
    assert_eq!(answer.usage.input_tokens, 12);
    assert_eq!(answer.usage.output_tokens, 11);
    assert_eq!(answer.id, format!("bedrock-{REQUEST_ID}"));
    assert_eq!(answer.model, MODEL);

    let seen = &mock.requests()[0];
    assert_eq!(
        seen.path,
        "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    );
    let auth = seen.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && auth.contains("/eu-central-1/bedrock/aws4_request"),
        "{auth}"
    );
    assert!(seen.header("x-amz-date").is_some());
    assert_eq!(seen.json()["system"], json!([{"text": "be brief"}]));
}

#[tokio::test]
async fn streams_decode_from_frames_cut_anywhere() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let p = Bedrock::with_env(&config(&root), no_env()).unwrap();
    let pieces = ["Hel", "lo, ", "wörld"];
    for size in [1, 7, 4096] {
        mock.push(event_stream_split(text_frames(&pieces, 9, 3), size));
        let (events, err) = collect(p.chat_stream(&ask(true), MODEL).await.unwrap()).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(text_of(&events), "Hello, wörld", "pieces of {size} bytes");
        assert!(
            matches!(&events[0], StreamEvent::MessageStart { id, .. } if id.ends_with(REQUEST_ID))
        );
        assert_eq!(
            events[1],
            StreamEvent::BlockStart {
                index: 0,
                block: BlockKind::Text
            }
        );
        assert!(events.contains(&StreamEvent::MessageStop {
            stop_reason: StopReason::EndTurn,
            stop_sequence: None
        }));
        let last = events.last().unwrap();
        assert!(
            matches!(last, StreamEvent::Usage { usage } if usage.input_tokens == 9 && usage.output_tokens == 3)
        );
    }
}

#[tokio::test]
async fn streamed_tool_calls_and_reasoning() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let p = Bedrock::with_env(&config(&root), no_env()).unwrap();
    mock.push(event_stream(tool_frames(
        "tooluse_1",
        "get_weather",
        &["{\"city\":", "\"Paris\"}"],
    )));
    let (events, err) = collect(p.chat_stream(&ask(true), MODEL).await.unwrap()).await;
    assert!(err.is_none());
    assert!(events.contains(&StreamEvent::BlockStart {
        index: 0,
        block: BlockKind::ToolUse {
            id: "tooluse_1".into(),
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
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert!(events.contains(&StreamEvent::MessageStop {
        stop_reason: StopReason::ToolUse,
        stop_sequence: None
    }));

    // Reasoning first (Bedrock index 0), then text (index 1); indices stay dense.
    mock.push(event_stream(vec![
        event_frame("messageStart", json!({"role": "assistant"})),
        event_frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hmm"}}}),
        ),
        event_frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}),
        ),
        event_frame("contentBlockStop", json!({"contentBlockIndex": 0})),
        event_frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"text": "ok"}}),
        ),
        event_frame("contentBlockStop", json!({"contentBlockIndex": 1})),
        event_frame("messageStop", json!({"stopReason": "max_tokens"})),
        event_frame(
            "metadata",
            json!({"usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}),
        ),
    ]));
    let (events, err) = collect(p.chat_stream(&ask(true), MODEL).await.unwrap()).await;
    assert!(err.is_none());
    let kinds: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::BlockStart { .. } | StreamEvent::BlockDelta { .. }
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            &StreamEvent::BlockStart {
                index: 0,
                block: BlockKind::Reasoning
            },
            &StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Reasoning("hmm".into())
            },
            &StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::ReasoningSignature("c2ln".into())
            },
            &StreamEvent::BlockStart {
                index: 1,
                block: BlockKind::Text
            },
            &StreamEvent::BlockDelta {
                index: 1,
                delta: Delta::Text("ok".into())
            },
        ]
    );
}

#[tokio::test]
async fn exceptions_errors_and_broken_streams() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let p = Bedrock::with_env(&config(&root), no_env()).unwrap();

    // An exception frame after content: the stream ends with the exception's error.
    let mut frames = text_frames(&["partial"], 1, 1);
    frames.truncate(2);
    frames.push(exception_frame("throttlingException", "Too many requests"));
    mock.push(event_stream(frames));
    let (events, err) = collect(p.chat_stream(&ask(true), MODEL).await.unwrap()).await;
    assert_eq!(text_of(&events), "partial");
    let err = err.unwrap();
    assert_eq!(err.kind, ProviderErrorKind::Status(429));
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));

    // A stream that stops before messageStop.
    let mut frames = text_frames(&["cut"], 1, 1);
    frames.truncate(2);
    mock.push(event_stream(frames));
    let (_, err) = collect(p.chat_stream(&ask(true), MODEL).await.unwrap()).await;
    assert!(err.unwrap().message.contains("before messageStop"));

    // A corrupted frame (CRC mismatch).
    let mut frame = event_frame("messageStart", json!({"role": "assistant"}));
    let last = frame.len() - 1;
    frame[last] ^= 0xff;
    mock.push(event_stream(vec![frame]));
    let (_, err) = collect(p.chat_stream(&ask(true), MODEL).await.unwrap()).await;
    assert_eq!(err.unwrap().kind, ProviderErrorKind::Protocol);

    // Errors before the stream: classified, retryable or not, secrets scrubbed.
    mock.push(error(429, "ThrottlingException", "Rate exceeded"));
    let err = p.chat(&ask(false), MODEL).await.unwrap_err();
    assert_eq!(err.kind, ProviderErrorKind::Status(429));
    assert!(err.is_retryable());
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));
    mock.push(error(
        400,
        "ValidationException",
        &format!("bad key {SECRET}"),
    ));
    let err = p.chat(&ask(false), MODEL).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(!err.message.contains(SECRET), "{}", err.message);
    mock.push(error(
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    ));
    let err = p.chat_stream(&ask(true), MODEL).await.err().unwrap();
    assert_eq!(err.kind, ProviderErrorKind::Status(403));
    assert!(err.message.contains("AWS credentials"));
}

#[tokio::test]
async fn count_tokens_uses_bedrocks_count() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let p = Bedrock::with_env(&config(&root), no_env()).unwrap();
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: json!({"inputTokens": 42}).to_string(),
    });
    let mut req = ask(false);
    req.sampling.max_output_tokens = Some(10);
    assert_eq!(p.count_tokens(&req, MODEL).await.unwrap(), 42);
    let seen = &mock.requests()[0];
    assert!(seen.path.ends_with("/count-tokens"));
    let sent = seen.json();
    assert_eq!(
        sent["input"]["converse"]["messages"][0]["content"][0]["text"],
        "hi"
    );
    assert!(sent["input"]["converse"].get("inferenceConfig").is_none());
}

#[tokio::test]
async fn credential_chain_sources() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let t = crate::test_support::provider_config("x", ProviderKind::Bedrock, &root, None).timeouts;
    let off = ("AWS_EC2_METADATA_DISABLED", "true".to_owned());

    // Environment variables.
    let chain = CredentialChain::new(
        &aws(false),
        env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "s".into()),
        ]),
        t,
    )
    .unwrap();
    assert_eq!(chain.get().await.unwrap().access_key_id, "AKIAENV");

    // Shared files: the named profile in the config file, keys in the credentials file.
    let dir = std::env::temp_dir().join(format!("switchyard-aws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("config"),
        "[profile prod]\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS\", \"SecretAccessKey\": \"p\", \"SessionToken\": \"t\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n",
    )
    .unwrap();
    let files = |profile: Option<&str>| {
        let mut pairs = vec![
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                dir.join("credentials").display().to_string(),
            ),
            ("AWS_CONFIG_FILE", dir.join("config").display().to_string()),
            off.clone(),
        ];
        if let Some(p) = profile {
            pairs.push(("AWS_PROFILE", p.to_owned()));
        }
        env_of(&pairs)
    };
    let chain = CredentialChain::new(&aws(false), files(None), t).unwrap();
    assert_eq!(chain.get().await.unwrap().access_key_id, "AKIADEFAULT");
    let chain = CredentialChain::new(&aws(false), files(Some("prod")), t).unwrap();
    let got = chain.get().await.unwrap();
    assert_eq!(
        (got.access_key_id.as_str(), got.session_token.as_deref()),
        ("AKIAPROCESS", Some("t"))
    );

    // The container endpoint (EKS Pod Identity style, with an authorization token).
    let creds = json!({"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "c", "Token": "tok",
                       "Expiration": "2099-01-01T00:00:00Z"})
    .to_string();
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: creds.clone(),
    });
    let chain = CredentialChain::new(
        &aws(false),
        env_of(&[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{root}/creds"),
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer pod".into()),
        ]),
        t,
    )
    .unwrap();
    assert_eq!(chain.get().await.unwrap().access_key_id, "ASIACONTAINER");
    assert_eq!(
        chain.get().await.unwrap().access_key_id,
        "ASIACONTAINER",
        "cached"
    );
    let asked = mock.requests();
    assert_eq!(asked.len(), 1, "fresh credentials are not fetched again");
    assert_eq!(asked[0].header("authorization"), Some("Bearer pod"));

    // Web identity through STS.
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJ.web.token\n").unwrap();
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIASTS</AccessKeyId><SecretAccessKey>w</SecretAccessKey><SessionToken>st</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>".into(),
    });
    let chain = CredentialChain::new(
        &aws(false),
        env_of(&[
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/gw".into()),
            ("AWS_ENDPOINT_URL_STS", root.clone()),
        ]),
        t,
    )
    .unwrap();
    assert_eq!(chain.get().await.unwrap().access_key_id, "ASIASTS");
    let sts = mock.requests().pop().unwrap();
    let form = String::from_utf8_lossy(&sts.body).into_owned();
    assert!(form.contains("Action=AssumeRoleWithWebIdentity"), "{form}");
    assert!(form.contains("WebIdentityToken=eyJ.web.token"), "{form}");
    assert!(
        form.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fgw"),
        "{form}"
    );

    // IMDSv2: token, role name, credentials.
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: "imds-token".into(),
    });
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: "gateway-role\n".into(),
    });
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: creds.replace("ASIACONTAINER", "ASIAIMDS"),
    });
    let chain = CredentialChain::new(
        &aws(false),
        env_of(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", root.clone())]),
        t,
    )
    .unwrap();
    assert_eq!(chain.get().await.unwrap().access_key_id, "ASIAIMDS");
    let imds = mock.requests();
    let imds = &imds[imds.len() - 3..];
    assert_eq!(imds[0].method, "PUT");
    assert_eq!(imds[0].path, "/latest/api/token");
    assert_eq!(
        imds[2].path,
        "/latest/meta-data/iam/security-credentials/gateway-role"
    );
    assert_eq!(
        imds[2].header("x-aws-ec2-metadata-token"),
        Some("imds-token")
    );

    // Nothing anywhere: an error that says what was tried, and no secret.
    let chain = CredentialChain::new(&aws(false), env_of(&[off]), t).unwrap();
    let err = chain.get().await.unwrap_err();
    assert!(
        err.message.contains("environment") && err.message.contains("instance metadata (disabled)"),
        "{}",
        err.message
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unsigned_requests_are_refused_by_the_mock_like_bedrock() {
    // The mock's own check, which the signed tests above pass.
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let timeouts =
        crate::test_support::provider_config("x", ProviderKind::Bedrock, &root, None).timeouts;
    let client = crate::transport::client(&timeouts, None).unwrap();
    let request = http::Request::post(format!("{root}/model/m/converse"))
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let status = client.request(request).await.unwrap().status();
    assert_eq!(status, 403);
}
