#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use switchyard_types::{
    BlockKind, ChatResponse, ContentBlock, Delta, ResponseFormat, Role, StopReason, StreamEvent,
    ToolChoice, Usage,
};

use super::*;
use crate::error::GatewayError;

fn decode(body: serde_json::Value) -> Result<switchyard_types::ChatRequest, GatewayError> {
    decode_create_request(&serde_json::to_vec(&body).unwrap())
}

#[test]
fn items_become_a_canonical_conversation() {
    let req = decode(json!({
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "And this?"},
                {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}
            ]}
        ],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": true}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}},
        "reasoning": {"effort": "low"},
        "max_output_tokens": 100,
        "store": true
    }))
    .unwrap();
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::Developer,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::User
        ]
    );
    assert!(matches!(
        &req.messages[2].content[0],
        ContentBlock::ToolUse { id, .. } if id == "call_1"
    ));
    assert_eq!(
        req.tool_choice,
        Some(ToolChoice::Named("get_weather".into()))
    );
    assert!(matches!(
        req.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
    assert_eq!(req.sampling.max_output_tokens, Some(100));
    assert_eq!(
        req.metadata.store, None,
        "nothing stored, nothing forwarded"
    );
}

#[test]
fn stateful_and_hosted_features_are_declined_by_name() {
    for (field, value) in [
        ("previous_response_id", json!("resp_1")),
        ("conversation", json!("conv_1")),
        ("background", json!(true)),
    ] {
        let mut body = json!({"model": "m", "input": "hi"});
        body[field] = value;
        let err = decode(body).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(field));
        assert!(err.message.contains("stateless"));
    }
    let err = decode(json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]}))
        .unwrap_err();
    assert!(err.message.contains("web_search"));
    let err = decode(json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}))
        .unwrap_err();
    assert!(err.message.contains("stateless"));
    let err = decode(json!({"model": "m", "input": "hi", "frobnicate": 1})).unwrap_err();
    assert_eq!(err.message, "Unknown parameter: 'frobnicate'.");
    let err = decode(json!({"model": "m"})).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("input"));
}

#[test]
fn response_object_with_message_and_call() {
    let response = ChatResponse {
        id: "chatcmpl-9".into(),
        model: "gpt".into(),
        created: 5,
        content: vec![
            ContentBlock::text("Checking."),
            ContentBlock::ToolUse {
                id: "call_1".into(),
                name: "f".into(),
                arguments: "{}".into(),
                signature: None,
            },
        ],
        stop_reason: StopReason::ToolUse,
        stop_sequence: None,
        usage: Usage {
            input_tokens: 10,
            output_tokens: 3,
            ..Usage::default()
        },
        system_fingerprint: None,
        service_tier: None,
        logprobs: None,
    };
    let echo = Echo {
        model: "alias".into(),
        tools: json!([]),
        tool_choice: json!("auto"),
        parallel_tool_calls: true,
        ..Echo::default()
    };
    let body: serde_json::Value =
        serde_json::from_slice(&encode_response(&response, &echo)).unwrap();
    assert_eq!(body["id"], "resp_9");
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["type"], "message");
    assert_eq!(body["output"][0]["content"][0]["text"], "Checking.");
    assert_eq!(body["output"][1]["type"], "function_call");
    assert_eq!(body["output"][1]["call_id"], "call_1");
    assert_eq!(body["usage"]["total_tokens"], 13);
    assert_eq!(body["store"], false);
}

#[test]
fn stream_events_in_order_with_sequence_numbers() {
    let mut enc = ResponseStreamEncoder::new(Echo::default(), 1);
    let mut out = bytes::BytesMut::new();
    for e in [
        StreamEvent::MessageStart {
            id: "x".into(),
            model: "m".into(),
            created: 2,
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
                id: "c".into(),
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
            stop_reason: StopReason::MaxTokens,
            stop_sequence: None,
        },
        StreamEvent::Usage {
            usage: Usage {
                input_tokens: 1,
                output_tokens: 2,
                ..Usage::default()
            },
        },
    ] {
        enc.encode(e, &mut out);
    }
    enc.finish(&mut out);
    let events: Vec<serde_json::Value> = std::str::from_utf8(&out)
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.split_once("\ndata: ").unwrap().1).unwrap())
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.incomplete",
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], i as u64);
    }
    let last = &events.last().unwrap()["response"];
    assert_eq!(last["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(last["output"].as_array().unwrap().len(), 2);
    assert_eq!(last["usage"]["output_tokens"], 2);
}
