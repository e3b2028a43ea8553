#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use switchyard_types::{ContentBlock, Role, StopReason, StreamEvent, Usage};

use super::*;
use crate::error::{ErrorClass, GatewayError};

fn decode(body: serde_json::Value) -> Result<switchyard_types::ChatRequest, GatewayError> {
    decode_messages_request(&serde_json::to_vec(&body).unwrap())
}

fn error_of(body: serde_json::Value) -> GatewayError {
    decode(body).unwrap_err()
}

fn minimal() -> serde_json::Value {
    json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]})
}

#[test]
fn minimal_request_has_text_and_max_tokens() {
    let req = decode(minimal()).unwrap();
    assert_eq!(req.messages.len(), 1);
    assert_eq!(req.messages[0].role, Role::User);
    assert_eq!(req.messages[0].joined_text(), "Hi");
    assert_eq!(req.sampling.max_output_tokens, Some(10));
    assert!(!req.stream);
}

#[test]
fn missing_and_unknown_fields_are_named() {
    let err = error_of(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
    assert_eq!(err.class, ErrorClass::InvalidRequest);
    assert_eq!(err.message, "max_tokens: Field required");
    let mut body = minimal();
    body["frobnicate"] = json!(1);
    assert_eq!(
        error_of(body).message,
        "frobnicate: Extra inputs are not permitted"
    );
    let mut body = minimal();
    body["messages"][0]["content"] = json!([{"type": "text", "text": "x", "colour": "red"}]);
    let err = error_of(body);
    assert!(err.message.contains("colour"), "{}", err.message);
    assert_eq!(
        err.message,
        "messages.0.content.0.colour: Extra inputs are not permitted"
    );
}

#[test]
fn bad_values_are_400s_naming_the_field() {
    let mut body = minimal();
    body["temperature"] = json!(1.5);
    assert_eq!(error_of(body).param.as_deref(), Some("temperature"));
    let mut body = minimal();
    body["max_tokens"] = json!(0);
    assert_eq!(error_of(body).param.as_deref(), Some("max_tokens"));
    let mut body = minimal();
    body["messages"] = json!([]);
    assert_eq!(error_of(body).param.as_deref(), Some("messages"));
    let mut body = minimal();
    body["messages"][0]["role"] = json!("system");
    assert!(error_of(body).message.contains("unknown variant `system`"));
    let mut body = minimal();
    body["messages"][0]["content"] = json!([{"type": "video", "url": "x"}]);
    assert!(error_of(body).message.contains("unknown variant `video`"));
}

#[test]
fn thinking_budget_rules_match_anthropic() {
    let mut body = minimal();
    body["max_tokens"] = json!(4000);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 512});
    assert_eq!(
        error_of(body).param.as_deref(),
        Some("thinking.budget_tokens")
    );
    let mut body = minimal();
    body["max_tokens"] = json!(2000);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 2000});
    assert_eq!(error_of(body).param.as_deref(), Some("max_tokens"));
    let mut body = minimal();
    body["thinking"] = json!({"type": "disabled"});
    assert_eq!(
        decode(body).unwrap().reasoning.unwrap().enabled,
        Some(false)
    );
}

#[test]
fn server_tools_and_unknown_tool_choices_are_declined_by_name() {
    let mut body = minimal();
    body["tools"] = json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]);
    let err = error_of(body);
    assert!(
        err.message.contains("web_search_20250305"),
        "{}",
        err.message
    );
    let mut body = minimal();
    body["tools"] = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    body["tool_choice"] = json!({"type": "tool", "name": "g"});
    assert_eq!(error_of(body).param.as_deref(), Some("tool_choice.name"));
    let mut body = minimal();
    body["tool_choice"] = json!({"type": "any"});
    assert_eq!(error_of(body).param.as_deref(), Some("tool_choice"));
}

#[test]
fn blocks_in_the_wrong_turn_are_rejected() {
    let mut body = minimal();
    body["messages"] = json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "image", "source": {"type": "url", "url": "https://a/b.png"}}]}
    ]);
    assert_eq!(
        error_of(body).param.as_deref(),
        Some("messages.1.content.0")
    );
    let mut body = minimal();
    body["messages"][0]["content"] =
        json!([{"type": "tool_use", "id": "t", "name": "f", "input": {}}]);
    assert_eq!(
        error_of(body).param.as_deref(),
        Some("messages.0.content.0")
    );
}

#[test]
fn top_level_cache_control_marks_the_last_block() {
    let mut body = minimal();
    body["cache_control"] = json!({"type": "ephemeral"});
    let req = decode(body).unwrap();
    match &req.messages[0].content[0] {
        ContentBlock::Text { cache_control, .. } => assert!(cache_control.is_some()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn structured_output_becomes_a_strict_json_schema() {
    let mut body = minimal();
    body["output_config"] =
        json!({"format": {"type": "json_schema", "schema": {"type": "object"}}});
    let req = decode(body).unwrap();
    assert!(matches!(
        req.response_format,
        Some(switchyard_types::ResponseFormat::JsonSchema {
            strict: Some(true),
            ..
        })
    ));
}

#[test]
fn count_tokens_takes_no_max_tokens() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "system": "Be brief."});
    let req = decode_count_tokens_request(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(req.messages.len(), 2);
    assert_eq!(req.messages[0].role, Role::System);
    let body =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]});
    let err = decode_count_tokens_request(&serde_json::to_vec(&body).unwrap()).unwrap_err();
    assert_eq!(err.message, "max_tokens: Extra inputs are not permitted");
}

#[test]
fn every_stop_reason_has_an_anthropic_name() {
    for (reason, name) in [
        (StopReason::EndTurn, "end_turn"),
        (StopReason::StopSequence, "stop_sequence"),
        (StopReason::MaxTokens, "max_tokens"),
        (StopReason::ToolUse, "tool_use"),
        (StopReason::ContentFilter, "refusal"),
        (
            StopReason::ContextWindowExceeded,
            "model_context_window_exceeded",
        ),
        (StopReason::PauseTurn, "pause_turn"),
    ] {
        assert_eq!(stop_reason(&reason), name);
    }
}

#[test]
fn error_bodies_follow_anthropic() {
    let err = GatewayError::new(ErrorClass::UpstreamUnavailable, "busy");
    let body: serde_json::Value = serde_json::from_slice(&encode_error(&err, "req_1")).unwrap();
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}, "request_id": "req_1"})
    );
    assert_eq!(error_type(ErrorClass::NotFound), "not_found_error");
}

#[test]
fn stream_error_after_start_is_an_error_event() {
    let mut enc = MessageStreamEncoder::new("id".into(), "m".into());
    let mut out = bytes::BytesMut::new();
    enc.encode(
        StreamEvent::BlockStart {
            index: 0,
            block: switchyard_types::BlockKind::Text,
        },
        &mut out,
    );
    enc.fail(
        &GatewayError::new(ErrorClass::UpstreamTimeout, "slow"),
        &mut out,
    );
    enc.finish(&mut out);
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.ends_with(
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"timeout_error\",\"message\":\"slow\"}}\n\n"
    ));
    assert!(!text.contains("message_stop"));
}

#[test]
fn usage_reported_before_content_is_in_message_start() {
    let mut enc = MessageStreamEncoder::new("id".into(), "m".into());
    let mut out = bytes::BytesMut::new();
    enc.encode(
        StreamEvent::Usage {
            usage: Usage {
                input_tokens: 12,
                cache_read_tokens: 2,
                ..Usage::default()
            },
        },
        &mut out,
    );
    assert!(out.is_empty());
    enc.encode(
        StreamEvent::BlockStart {
            index: 0,
            block: switchyard_types::BlockKind::Text,
        },
        &mut out,
    );
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.contains("\"input_tokens\":10"), "{text}");
    assert!(text.contains("\"cache_read_input_tokens\":2"), "{text}");
}
