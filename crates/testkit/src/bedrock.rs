//! AWS Bedrock Runtime as Bedrock answers it, for the mock upstream: Converse bodies,
//! ConverseStream's binary event-stream frames (written with the AWS SDK's own encoder,
//! `aws-smithy-eventstream`, padded with the random `p` field Bedrock adds), exception
//! frames, `count-tokens`, and AWS error replies with `x-amzn-ErrorType`.
//!
//! Requests must carry a SigV4 `Authorization` header for service `bedrock`; unsigned ones
//! get the 403 Bedrock gives them.

use std::time::Duration;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::openai::{Reply, SseEnd};
use crate::scenario::{self, Ask, Finish, Plan};

/// The `x-amzn-requestid` every mock answer carries.
pub const REQUEST_ID: &str = "0f9c6f1e-6b1d-4e2b-9a57-6d0c3b1e2a44";

/// The text of the mock's default answer.
pub const TEXT: &str = "Hello! This is the Switchyard mock Bedrock upstream.";

/// One event frame: `:event-type`, `:content-type`, `:message-type` headers and the JSON
/// payload, padded like Bedrock's.
pub fn event_frame(event_type: &str, mut payload: Value) -> Vec<u8> {
    if let Value::Object(fields) = &mut payload {
        fields.insert(
            "p".to_owned(),
            Value::from("abcdefghijklmnopqrstuvwxyzABCDEFGH"),
        );
    }
    frame(
        vec![
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().into_bytes(),
    )
}

/// An exception frame (`throttlingException`, `modelStreamErrorException`, ...).
pub fn exception_frame(exception_type: &str, message: &str) -> Vec<u8> {
    frame(
        vec![
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({ "message": message }).to_string().into_bytes(),
    )
}

fn frame(headers: Vec<(&str, &str)>, payload: Vec<u8>) -> Vec<u8> {
    let headers = headers
        .into_iter()
        .map(|(name, value)| {
            Header::new(
                name.to_owned(),
                HeaderValue::String(value.to_owned().into()),
            )
        })
        .collect();
    let mut out = Vec::new();
    let message = Message::new_from_parts(headers, Bytes::from(payload));
    // Writing to a Vec cannot fail for frames of this size.
    let _ = write_message_to(&message, &mut out);
    out
}

/// Frames sent back to back.
pub fn event_stream(frames: Vec<Vec<u8>>) -> Reply {
    Reply::EventStream {
        pieces: frames
            .into_iter()
            .map(|f| (Duration::ZERO, Bytes::from(f)))
            .collect(),
        end: SseEnd::Close,
    }
}

/// The same bytes as `frames`, cut into pieces of `size` bytes.
pub fn event_stream_split(frames: Vec<Vec<u8>>, size: usize) -> Reply {
    let all = frames.concat();
    Reply::EventStream {
        pieces: all
            .chunks(size.max(1))
            .map(|c| (Duration::ZERO, Bytes::copy_from_slice(c)))
            .collect(),
        end: SseEnd::Close,
    }
}

/// An AWS error reply: the code in `x-amzn-ErrorType`, `{"message": ...}` in the body.
pub fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::Json {
        status,
        headers: vec![(
            "x-amzn-errortype".to_owned(),
            format!("{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        )],
        body: json!({ "message": message }).to_string(),
    }
}

fn usage(input: u64, output: u64) -> Value {
    json!({"inputTokens": input, "outputTokens": output, "totalTokens": input + output,
           "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0})
}

/// A non-streamed Converse answer.
pub fn converse_json(content: Value, stop_reason: &str, input: u64, output: u64) -> String {
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": usage(input, output),
        "metrics": {"latencyMs": 312}
    })
    .to_string()
}

/// The frames of a streamed text answer.
pub fn text_frames(pieces: &[&str], input: u64, output: u64) -> Vec<Vec<u8>> {
    text_frames_stopped(pieces, "end_turn", input, output)
}

/// [`text_frames`] ending with this stop reason.
pub fn text_frames_stopped(
    pieces: &[&str],
    stop_reason: &str,
    input: u64,
    output: u64,
) -> Vec<Vec<u8>> {
    let mut frames = vec![event_frame("messageStart", json!({"role": "assistant"}))];
    for piece in pieces {
        frames.push(event_frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": piece}}),
        ));
    }
    frames.push(event_frame(
        "contentBlockStop",
        json!({"contentBlockIndex": 0}),
    ));
    frames.push(event_frame(
        "messageStop",
        json!({ "stopReason": stop_reason }),
    ));
    frames.push(event_frame(
        "metadata",
        json!({"usage": usage(input, output), "metrics": {"latencyMs": 298}}),
    ));
    frames
}

/// The frames of a streamed tool call, its arguments in `pieces`.
pub fn tool_frames(id: &str, name: &str, pieces: &[&str]) -> Vec<Vec<u8>> {
    calls_frames(&[(id, name, pieces.to_vec())])
}

/// The frames of streamed tool calls (id, name, argument pieces), one block each.
pub fn calls_frames(calls: &[(&str, &str, Vec<&str>)]) -> Vec<Vec<u8>> {
    let mut frames = vec![event_frame("messageStart", json!({"role": "assistant"}))];
    for (index, (id, name, pieces)) in calls.iter().enumerate() {
        frames.push(event_frame(
            "contentBlockStart",
            json!({"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": id, "name": name}}}),
        ));
        for piece in pieces {
            frames.push(event_frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}),
            ));
        }
        frames.push(event_frame(
            "contentBlockStop",
            json!({ "contentBlockIndex": index }),
        ));
    }
    frames.push(event_frame(
        "messageStop",
        json!({"stopReason": "tool_use"}),
    ));
    frames.push(event_frame(
        "metadata",
        json!({"usage": usage(20, 8), "metrics": {"latencyMs": 301}}),
    ));
    frames
}

/// Whether `authorization` is a SigV4 header for service `bedrock` that signs `host` and
/// `x-amz-date`.
pub fn is_sigv4(authorization: Option<&str>) -> bool {
    let Some(auth) = authorization else {
        return false;
    };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=") else {
        return false;
    };
    let scope_ok = rest
        .split(',')
        .next()
        .is_some_and(|c| c.ends_with("/bedrock/aws4_request") && c.split('/').count() == 5);
    let signed = rest
        .split(", ")
        .find_map(|p| p.strip_prefix("SignedHeaders="))
        .unwrap_or("");
    let signature = rest
        .split(", ")
        .find_map(|p| p.strip_prefix("Signature="))
        .unwrap_or("");
    scope_ok
        && signed.split(';').any(|h| h == "host")
        && signed.split(';').any(|h| h == "x-amz-date")
        && signature.len() == 64
        && signature.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Unscripted requests to `/model/{id}/...`.
pub fn default_reply(path: &str, request: &Value) -> Reply {
    if path.ends_with("/count-tokens") {
        let words = request["input"]["converse"]
            .to_string()
            .split_whitespace()
            .count();
        return Reply::Json {
            status: 200,
            headers: Vec::new(),
            body: json!({"inputTokens": 10 + words}).to_string(),
        };
    }
    let stream = path.ends_with("/converse-stream");
    if !path.ends_with("/converse") && !stream {
        return error(404, "UnknownOperationException", "Unknown operation");
    }
    match scenario::plan(&ask(request), TEXT, "tooluse_mock") {
        Plan::Calls(calls) => {
            if stream {
                let arguments: Vec<String> =
                    calls.iter().map(|c| c.arguments.to_string()).collect();
                let split: Vec<(&str, &str, Vec<&str>)> = calls
                    .iter()
                    .zip(&arguments)
                    .map(|(c, a)| {
                        let (head, tail) = a.split_at(a.len() / 2);
                        (c.id.as_str(), c.name.as_str(), vec![head, tail])
                    })
                    .collect();
                return event_stream(calls_frames(&split));
            }
            let content: Vec<Value> = calls
                .iter()
                .map(|c| json!({"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}}))
                .collect();
            Reply::Json {
                status: 200,
                headers: Vec::new(),
                body: converse_json(Value::Array(content), "tool_use", 20, 8),
            }
        }
        Plan::Text { text, finish } => {
            let reason = match finish {
                Finish::End => "end_turn",
                Finish::Stop(_) => "stop_sequence",
                Finish::Length => "max_tokens",
            };
            if stream {
                return event_stream(text_frames_stopped(
                    &scenario::pieces(&text),
                    reason,
                    12,
                    11,
                ));
            }
            Reply::Json {
                status: 200,
                headers: Vec::new(),
                body: converse_json(json!([{ "text": text }]), reason, 12, 11),
            }
        }
    }
}

/// What a Converse request asks for.
fn ask(request: &Value) -> Ask {
    let messages = request["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let tail = scenario::after_last(messages, "role", "assistant");
    let blocks: Vec<&Value> = tail
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .collect();
    let config = &request["toolConfig"];
    let tools = match config["toolChoice"]["tool"]["name"].as_str() {
        Some(name) => vec![name.to_owned()],
        None => config["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["toolSpec"]["name"].as_str().map(str::to_owned))
            .collect(),
    };
    let inference = &request["inferenceConfig"];
    Ask {
        stop: scenario::strings(&inference["stopSequences"]),
        max_tokens: inference["maxTokens"].as_u64(),
        tools,
        tool_results: blocks
            .iter()
            .filter_map(|b| b.get("toolResult"))
            .map(|r| scenario::result_text(&r["content"]))
            .collect(),
        images: blocks
            .iter()
            .filter_map(|b| b["image"]["source"]["bytes"].as_str().map(str::to_owned))
            .collect(),
        json_schema: request["outputConfig"]["textFormat"]["type"] == "json_schema",
    }
}
