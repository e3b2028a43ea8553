//! Decode validation: each bad input gets a 400-class error naming the parameter.

use super::*;
use crate::ErrorClass;

fn err(body: &str) -> crate::GatewayError {
    decode_chat_request(body.as_bytes()).unwrap_err()
}

const USER: &str = r#"[{"role":"user","content":"hi"}]"#;

#[test]
fn malformed_json_is_invalid_json() {
    let e = err("{\"model\":");
    assert_eq!(e.class, ErrorClass::InvalidRequest);
    assert_eq!(e.code.as_deref(), Some("invalid_json"));
}

#[test]
fn missing_and_mistyped_fields_name_the_param() {
    let e = err(r#"{"messages":[]}"#);
    assert!(e.message.contains("model"), "{}", e.message);
    let e = err(&format!(
        r#"{{"model":"m","messages":{USER},"temperature":"hot"}}"#
    ));
    assert_eq!(e.param.as_deref(), Some("temperature"));
    let e = err(r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#);
    assert!(
        e.param.as_deref().unwrap_or("").starts_with("messages[0]"),
        "{e:?}"
    );
}

#[test]
fn unknown_parameters_are_rejected_by_name() {
    let e = err(&format!(
        r#"{{"model":"m","messages":{USER},"frobnicate":1}}"#
    ));
    assert_eq!(e.param.as_deref(), Some("frobnicate"));
    assert_eq!(
        e.message,
        "Unrecognized request argument supplied: frobnicate"
    );
}

#[test]
fn range_and_semantic_checks() {
    let cases = [
        (r#""temperature":3"#, "temperature"),
        (r#""top_p":1.5"#, "top_p"),
        (r#""n":2"#, "n"),
        (r#""stop":["a","b","c","d","e"]"#, "stop"),
        (
            r#""stream_options":{"include_usage":true}"#,
            "stream_options",
        ),
        (r#""tool_choice":"required""#, "tool_choice"),
        (r#""max_tokens":0"#, "max_tokens"),
        (r#""top_logprobs":3"#, "top_logprobs"),
    ];
    for (extra, param) in cases {
        let e = err(&format!(r#"{{"model":"m","messages":{USER},{extra}}}"#));
        assert_eq!(e.param.as_deref(), Some(param), "{extra}: {e:?}");
    }
    let e = err(r#"{"model":"m","messages":[]}"#);
    assert_eq!(e.param.as_deref(), Some("messages"));
}

#[test]
fn named_tool_choice_must_exist() {
    let e = err(&format!(
        r#"{{"model":"m","messages":{USER},"tools":[{{"type":"function","function":{{"name":"a"}}}}],"tool_choice":{{"type":"function","function":{{"name":"b"}}}}}}"#
    ));
    assert_eq!(e.param.as_deref(), Some("tool_choice.function.name"));
}

#[test]
fn bad_image_urls_are_rejected() {
    let e = err(
        r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}"#,
    );
    assert_eq!(
        e.param.as_deref(),
        Some("messages[0].content[0].image_url.url")
    );
    let e = err(
        r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,xyz"}}]}]}"#,
    );
    assert!(e.message.contains("base64"), "{}", e.message);
}

#[test]
fn max_completion_tokens_wins_over_max_tokens() {
    let r = decode_chat_request(
        format!(r#"{{"model":"m","messages":{USER},"max_tokens":10,"max_completion_tokens":20}}"#)
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(r.sampling.max_output_tokens, Some(20));
}

#[test]
fn embeddings_inputs_and_errors() {
    let r = decode_embeddings_request(br#"{"model":"e","input":"one"}"#).unwrap();
    assert_eq!(r.input.len(), 1);
    let r = decode_embeddings_request(br#"{"model":"e","input":[[1,2],[3]]}"#).unwrap();
    assert_eq!(r.input.len(), 2);
    let e = decode_embeddings_request(br#"{"model":"e","input":["a",""]}"#).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("input"));
    let e = decode_embeddings_request(br#"{"model":"e","input":"a","encoding_format":"hex"}"#)
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("encoding_format"));
}

#[test]
fn error_body_has_openai_shape() {
    let body = encode_error(&crate::GatewayError::invalid("bad", Some("x".into())).with_code("c"));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"error": {"message": "bad", "type": "invalid_request_error", "param": "x", "code": "c"}})
    );
    let body = encode_error(&crate::GatewayError::new(
        ErrorClass::UpstreamTimeout,
        "slow",
    ));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["param"], serde_json::Value::Null);
    assert_eq!(v["error"]["type"], "server_error");
}
