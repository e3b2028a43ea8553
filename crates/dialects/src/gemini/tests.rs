#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use switchyard_types::{
    BlockKind, ContentBlock, Delta, ResponseFormat, Role, StopReason, StreamEvent, ToolChoice,
    Usage,
};

use super::*;
use crate::error::{ErrorClass, GatewayError};

fn decode(body: serde_json::Value) -> Result<switchyard_types::ChatRequest, GatewayError> {
    decode_generate_request("m", &serde_json::to_vec(&body).unwrap(), false)
}

#[test]
fn conversation_with_function_calls_and_responses() {
    let req = decode(json!({
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}, {"inlineData": {"mimeType": "image/png", "data": "aGk="}}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
                {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}},
                {"functionResponse": {"name": "get_weather", "response": {"error": "timeout"}}},
                {"text": "And tomorrow?"}
            ]}
        ],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {
            "type": "OBJECT", "properties": {"city": {"type": "STRING", "nullable": true}}}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        "generationConfig": {"temperature": 0.2, "topK": 40, "maxOutputTokens": 100,
            "stopSequences": ["END"], "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT"}}
    }))
    .unwrap();
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
        req.messages[1].content[1],
        ContentBlock::Image { .. }
    ));
    let ContentBlock::ToolUse {
        id,
        signature,
        arguments,
        ..
    } = &req.messages[2].content[0]
    else {
        panic!()
    };
    assert_eq!(id, "call_0");
    assert_eq!(signature.as_deref(), Some("c2ln"));
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    // Responses without ids answer the calls of the same name in order.
    let ids: Vec<(&str, bool)> = req.messages[3]
        .content
        .iter()
        .map(|b| match b {
            ContentBlock::ToolResult {
                tool_use_id,
                is_error,
                ..
            } => (tool_use_id.as_str(), *is_error),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [("call_0", false), ("call_1", true)]);
    assert_eq!(
        req.tools[0].parameters,
        json!({"type": "object", "properties": {"city": {"type": ["string", "null"]}}})
    );
    assert_eq!(
        req.tool_choice,
        Some(ToolChoice::Named("get_weather".into()))
    );
    assert_eq!(req.sampling.top_k, Some(40));
    assert!(matches!(
        req.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
}

#[test]
fn bad_requests_name_the_field() {
    let err =
        decode(json!({"contents": [{"parts": [{"text": "x"}]}], "temprature": 1})).unwrap_err();
    assert_eq!(err.class, ErrorClass::InvalidRequest);
    assert!(
        err.message.contains("Unknown name \"temprature\""),
        "{}",
        err.message
    );
    let err = decode(json!({"contents": []})).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("contents"));
    let err = decode(json!({"contents": [{"parts": [{"text": "x"}]}],
        "generationConfig": {"candidateCount": 2}}))
    .unwrap_err();
    assert_eq!(
        err.param.as_deref(),
        Some("generationConfig.candidateCount")
    );
    let err = decode(json!({"contents": [{"parts": [{"text": "x"}]}],
        "tools": [{"googleSearch": {}}]}))
    .unwrap_err();
    assert!(err.message.contains("googleSearch"));
    let err =
        decode(json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})).unwrap_err();
    assert!(err.message.contains("valid role"));
}

#[test]
fn embeddings_single_and_batch() {
    let one = decode_embed_request(
        "e",
        br#"{"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 384}"#,
        false,
    )
    .unwrap();
    assert_eq!(one.input.len(), 1);
    assert_eq!(one.dimensions, Some(384));
    let many = decode_embed_request(
        "e",
        br#"{"requests": [{"model": "models/e", "content": {"parts": [{"text": "a"}]}},
                          {"model": "models/e", "content": {"parts": [{"text": "b"}]}}]}"#,
        true,
    )
    .unwrap();
    assert_eq!(many.input.len(), 2);
}

fn events() -> Vec<StreamEvent> {
    vec![
        StreamEvent::MessageStart {
            id: "r1".into(),
            model: "gem".into(),
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
                id: "call_1".into(),
                name: "f".into(),
                signature: None,
            },
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::ToolArguments("{\"a\":".into()),
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: Delta::ToolArguments("1}".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageStop {
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
        },
        StreamEvent::Usage {
            usage: Usage {
                input_tokens: 7,
                output_tokens: 5,
                ..Usage::default()
            },
        },
    ]
}

#[test]
fn sse_stream_is_crlf_framed_with_whole_function_calls() {
    let mut enc = GenerateStreamEncoder::new(true, "m".into());
    let mut out = bytes::BytesMut::new();
    for e in events() {
        enc.encode(e, &mut out);
    }
    enc.finish(&mut out);
    let text = std::str::from_utf8(&out).unwrap();
    let chunks: Vec<serde_json::Value> = text
        .split("\r\n\r\n")
        .filter(|c| !c.is_empty())
        .map(|c| serde_json::from_str(c.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(
        chunks[0]["candidates"][0]["content"]["parts"][0]["text"],
        "Hi"
    );
    assert_eq!(
        chunks[1]["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({"id": "call_1", "name": "f", "args": {"a": 1}})
    );
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[2]["usageMetadata"]["totalTokenCount"], 12);
    assert_eq!(chunks[2]["responseId"], "r1");
}

#[test]
fn array_stream_is_one_json_array_even_on_error() {
    let mut enc = GenerateStreamEncoder::new(false, "m".into());
    let mut out = bytes::BytesMut::new();
    for e in events().into_iter().take(3) {
        enc.encode(e, &mut out);
    }
    enc.fail(
        &GatewayError::new(ErrorClass::UpstreamTimeout, "slow"),
        504,
        &mut out,
    );
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let items = value.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        json!({"error": {"code": 504, "message": "slow", "status": "DEADLINE_EXCEEDED"}})
    );
    let mut enc = GenerateStreamEncoder::new(false, "m".into());
    let mut out = bytes::BytesMut::new();
    enc.finish(&mut out);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn errors_in_google_shape() {
    let err = GatewayError::new(ErrorClass::RateLimited, "slow down");
    let body: serde_json::Value = serde_json::from_slice(&encode_error(&err, 429)).unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
    );
}

#[test]
fn snake_case_field_names_are_accepted_as_google_accepts_them() {
    // google-genai sends some nested fields in snake_case (`inlineData.mime_type`); Google's
    // JSON parser takes either spelling of every field.
    let body = br#"{"contents": [{"role": "user", "parts": [
        {"inline_data": {"data": "iVBORw==", "mime_type": "image/png"}},
        {"inlineData": {"data": "iVBORw==", "mime_type": "image/png"}},
        {"text": "hi"}]}],
        "generation_config": {"max_output_tokens": 5, "stop_sequences": ["x"]},
        "system_instruction": {"parts": [{"text": "s"}]}}"#;
    let req = decode_generate_request("m", body, false).unwrap();
    assert_eq!(req.sampling.max_output_tokens, Some(5));
    assert_eq!(req.sampling.stop, vec!["x".to_owned()]);
    assert_eq!(req.messages[0].role, Role::System);
    let images = req.messages[1]
        .content
        .iter()
        .filter(|b| matches!(b, ContentBlock::Image { source: switchyard_types::ImageSource::Base64 { media_type, .. }, .. } if media_type == "image/png"))
        .count();
    assert_eq!(images, 2);
}
