//! Golden tests for the dialects: each input file has an expected output file beside it. Run with `UPDATE_GOLDEN=1` to rewrite the expectations after an intended change, then
//! review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use switchyard_dialects::{anthropic, openai};
use switchyard_types::{ChatResponse, StreamEvent};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/openai")
}

fn anthropic_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/anthropic")
}

fn check(name: &str, actual: &str) {
    check_in(&dir(), name, actual)
}

fn check_in(dir: &Path, name: &str, actual: &str) {
    let path = dir.join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() || !path.exists() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        actual, expected,
        "golden file {name} differs; rerun with UPDATE_GOLDEN=1 and review"
    );
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

#[test]
fn decode_full_request() {
    let body = std::fs::read(dir().join("full_request.json")).unwrap();
    let request = openai::decode_chat_request(&body).unwrap();
    check(
        "full_request.canonical.json",
        &pretty(&serde_json::to_value(&request).unwrap()),
    );
}

#[test]
fn encode_full_response() {
    let text = std::fs::read_to_string(dir().join("full_response.canonical.json")).unwrap();
    let response: ChatResponse = serde_json::from_str(&text).unwrap();
    let body = openai::encode_chat_response(&response);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    check("full_response.openai.json", &pretty(&value));
}

#[test]
fn encode_tool_stream_with_usage() {
    let text = std::fs::read_to_string(dir().join("tool_stream.events.jsonl")).unwrap();
    let mut encoder = openai::ChatStreamEncoder::new("x".into(), "m".into(), 0, true);
    let mut out = bytes::BytesMut::new();
    for line in text.lines() {
        let event: StreamEvent = serde_json::from_str(line).unwrap();
        encoder.encode(event, &mut out);
    }
    encoder.finish(&mut out);
    check("tool_stream.openai.sse", std::str::from_utf8(&out).unwrap());
}

#[test]
fn anthropic_decode_full_request() {
    let body = std::fs::read(anthropic_dir().join("full_request.json")).unwrap();
    let request = anthropic::decode_messages_request(&body).unwrap();
    check_in(
        &anthropic_dir(),
        "full_request.canonical.json",
        &pretty(&serde_json::to_value(&request).unwrap()),
    );
}

#[test]
fn anthropic_encode_full_response() {
    let text = std::fs::read_to_string(dir().join("full_response.canonical.json")).unwrap();
    let response: ChatResponse = serde_json::from_str(&text).unwrap();
    let body = anthropic::encode_message_response(&response);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    check_in(
        &anthropic_dir(),
        "full_response.anthropic.json",
        &pretty(&value),
    );
}

#[test]
fn anthropic_encode_tool_stream() {
    let text = std::fs::read_to_string(dir().join("tool_stream.events.jsonl")).unwrap();
    let mut encoder = anthropic::MessageStreamEncoder::new("x".into(), "m".into());
    let mut out = bytes::BytesMut::new();
    for line in text.lines() {
        let event: StreamEvent = serde_json::from_str(line).unwrap();
        encoder.encode(event, &mut out);
    }
    encoder.finish(&mut out);
    check_in(
        &anthropic_dir(),
        "tool_stream.anthropic.sse",
        std::str::from_utf8(&out).unwrap(),
    );
}
