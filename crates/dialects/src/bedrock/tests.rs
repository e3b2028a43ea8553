#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use serde_json::json;
use switchyard_types::{
    BlockKind, ContentBlock, Delta, Role, StopReason, StreamEvent, ToolChoice, Usage,
};

use super::eventstream::{write_event, FrameDecoder, FrameError};
use super::*;

#[test]
fn frames_round_trip_incrementally_and_crcs_are_checked() {
    let mut out = BytesMut::new();
    write_event("messageStart", br#"{"role":"assistant"}"#, &mut out);
    write_event(
        "contentBlockDelta",
        br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
        &mut out,
    );
    let mut d = FrameDecoder::new();
    // One byte at a time: frames come out only when whole.
    let mut frames = Vec::new();
    for b in out.iter() {
        d.feed(&[*b]);
        while let Some(f) = d.next_frame().unwrap() {
            frames.push(f);
        }
    }
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].header(":event-type"), Some("messageStart"));
    assert_eq!(frames[0].header(":message-type"), Some("event"));
    assert_eq!(
        frames[1].payload,
        br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#
    );
    // A flipped payload bit fails the message CRC.
    let mut bad = out.clone();
    let at = bad.len() - 6;
    bad[at] ^= 1;
    let mut d = FrameDecoder::new();
    d.feed(&bad);
    d.next_frame().unwrap();
    assert_eq!(d.next_frame(), Err(FrameError::MessageCrc));
}

#[test]
fn converse_request_to_canonical() {
    let body = json!({
        "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {"role": "user", "content": [{"text": "Weather?"}, {"image": {"format": "png", "source": {"bytes": "aGk="}}}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tu1", "name": "get_weather", "input": {"city": "Paris"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tu1", "content": [{"json": {"temp_c": 21}}], "status": "success"}},
                {"text": "Thanks"}
            ]}
        ],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "stopSequences": ["END"]},
        "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}],
                       "toolChoice": {"any": {}}},
        "additionalModelRequestFields": {"top_k": 200}
    });
    let req = decode_converse_request("m", &serde_json::to_vec(&body).unwrap(), false).unwrap();
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::User
        ]
    );
    assert!(matches!(
        &req.messages[0].content[0],
        ContentBlock::Text {
            cache_control: Some(_),
            ..
        }
    ));
    assert!(matches!(
        &req.messages[3].content[0],
        ContentBlock::ToolResult { tool_use_id, is_error: false, .. } if tool_use_id == "tu1"
    ));
    assert_eq!(req.tool_choice, Some(ToolChoice::Required));
    assert_eq!(req.sampling.max_output_tokens, Some(100));
    assert_eq!(req.provider_options["bedrock"], json!({"top_k": 200}));

    let err = decode_converse_request("m", br#"{"messages": [], "foo": 1}"#, false).unwrap_err();
    assert!(err.message.contains("foo"), "{}", err.message);
    let err = decode_converse_request(
        "m",
        br#"{"messages": [{"role": "user", "content": [{"text": "x"}]}], "guardrailConfig": {}}"#,
        false,
    )
    .unwrap_err();
    assert!(err.message.contains("guardrailConfig"));
}

#[test]
fn converse_stream_frames_in_bedrock_order() {
    let mut enc = ConverseStreamEncoder::new(std::time::Instant::now());
    let mut out = BytesMut::new();
    for e in [
        StreamEvent::MessageStart {
            id: "x".into(),
            model: "m".into(),
            created: 0,
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockKind::Text,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("Hi".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockKind::ToolUse {
                id: "t".into(),
                name: "f".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::ToolArguments("{}".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageStop {
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
        },
        StreamEvent::Usage {
            usage: Usage {
                input_tokens: 3,
                output_tokens: 4,
                ..Usage::default()
            },
        },
    ] {
        enc.encode(e, &mut out);
    }
    enc.finish(&mut out);
    let mut d = FrameDecoder::new();
    d.feed(&out);
    let mut names = Vec::new();
    let mut last = None;
    while let Some(f) = d.next_frame().unwrap() {
        names.push(f.header(":event-type").unwrap().to_owned());
        last = Some(serde_json::from_slice::<serde_json::Value>(&f.payload).unwrap());
    }
    assert_eq!(
        names,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockStop",
            "contentBlockStart",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert_eq!(last.unwrap()["usage"]["totalTokens"], 7);
}

#[test]
fn count_tokens_takes_a_converse_input_or_an_invoke_body() {
    let body = br#"{"input": {"converse": {"system": [{"text": "s"}], "messages": [{"role": "user", "content": [{"text": "hi"}]}]}}}"#;
    match super::decode_count_tokens_input("m", body).unwrap() {
        super::CountInput::Converse(req) => assert_eq!(req.messages.len(), 2),
        other => panic!("{other:?}"),
    }
    // base64 of `{"messages": []}`.
    let body = br#"{"input": {"invokeModel": {"body": "eyJtZXNzYWdlcyI6IFtdfQ=="}}}"#;
    assert!(matches!(
        super::decode_count_tokens_input("m", body).unwrap(),
        super::CountInput::InvokeBody(b) if b == br#"{"messages": []}"#
    ));
    for bad in [
        &br#"{"input": {}}"#[..],
        br#"{"input": {"converse": {}, "invokeModel": {"body": ""}}}"#,
        br#"{"inputs": {}}"#,
    ] {
        assert!(super::decode_count_tokens_input("m", bad).is_err());
    }
}
