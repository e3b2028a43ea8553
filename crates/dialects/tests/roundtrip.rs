//! OpenAI in, OpenAI out: the front door's decode followed by the OpenAI adapter's encode
//! gives back the client's request, and the front door's stream encoder followed by the
//! adapter's chunk decoder gives back the canonical events. Both directions of the same
//! wire format must agree, or a proxy silently changes what it forwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;

use proptest::prelude::*;
use switchyard_config::ProviderKind;
use switchyard_dialects::{anthropic, gemini, openai};
use switchyard_providers::anthropic as anthropic_upstream;
use switchyard_providers::openai_compat::{request, stream::ChunkDecoder};
use switchyard_providers::sse::SseParser;
use switchyard_providers::HostQuirks;
use switchyard_types::{BlockKind, Delta, StopReason, StreamEvent, Usage};

#[test]
fn request_survives_decode_then_upstream_encode() {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/openai/full_request.json"
    ))
    .unwrap();
    let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let canonical = openai::decode_chat_request(&body).unwrap();
    let upstream = request::chat_body(
        &canonical,
        "bench-model",
        canonical.stream,
        &HostQuirks::for_kind(ProviderKind::OpenAi),
        "openai",
    )
    .unwrap();
    let mut forwarded = serde_json::to_value(&upstream).unwrap();
    // Known, intended differences: `user` is sent as `safety_identifier`, `n: 1` is implied,
    // and the gateway always asks for usage in streams.
    assert_eq!(forwarded["safety_identifier"], original["user"]);
    let obj = forwarded.as_object_mut().unwrap();
    obj.remove("safety_identifier");
    let mut expected = original.clone();
    let exp = expected.as_object_mut().unwrap();
    exp.remove("user");
    exp.remove("n");
    // The system message's string content and the developer message's one-part array both
    // come back as a string: equivalent on the wire.
    exp["messages"][1]["content"] = serde_json::json!("Answer in French.");
    exp["messages"][5]["content"] = serde_json::json!("14:00");
    assert_eq!(forwarded, expected);
}

fn decode_sse(bytes: &[u8]) -> Vec<StreamEvent> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    parser.feed(bytes, &mut events).unwrap();
    parser.finish(&mut events);
    let mut decoder = ChunkDecoder::new();
    let mut out = VecDeque::new();
    for e in events {
        decoder.on_data(&e.data, &mut out).unwrap();
    }
    out.into_iter().collect()
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Tool(String, Vec<String>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        "[a-zA-Z0-9 .,é\"\\\\\n]{1,12}".prop_map(Piece::Text),
        (
            "[a-z_]{1,8}",
            proptest::collection::vec("[a-z0-9{}\":,]{1,6}", 1..4)
        )
            .prop_map(|(name, args)| Piece::Tool(name, args)),
    ]
}

/// A well-formed canonical stream made of text and tool-call blocks.
fn canonical(pieces: &[Piece], usage: Usage) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::MessageStart {
        id: "c1".into(),
        model: "m".into(),
        created: 5,
    }];
    let mut index = 0u32;
    let mut tools = 0;
    let mut last_text = false;
    for p in pieces {
        match p {
            Piece::Text(t) => {
                if !last_text {
                    if index > 0 || events.len() > 1 {
                        events.push(StreamEvent::BlockStop { index: index - 1 });
                    }
                    events.push(StreamEvent::BlockStart {
                        index,
                        block: BlockKind::Text,
                    });
                    index += 1;
                }
                events.push(StreamEvent::BlockDelta {
                    index: index - 1,
                    delta: Delta::Text(t.clone()),
                });
                last_text = true;
            }
            Piece::Tool(name, args) => {
                if events.len() > 1 {
                    events.push(StreamEvent::BlockStop { index: index - 1 });
                }
                events.push(StreamEvent::BlockStart {
                    index,
                    block: BlockKind::ToolUse {
                        id: format!("call_{tools}"),
                        name: name.clone(),
                        signature: None,
                    },
                });
                for a in args {
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::ToolArguments(a.clone()),
                    });
                }
                index += 1;
                tools += 1;
                last_text = false;
            }
        }
    }
    if index > 0 {
        events.push(StreamEvent::BlockStop { index: index - 1 });
    }
    let stop = if tools > 0 {
        StopReason::ToolUse
    } else {
        StopReason::EndTurn
    };
    events.push(StreamEvent::MessageStop {
        stop_reason: stop,
        stop_sequence: None,
    });
    events.push(StreamEvent::Usage { usage });
    events
}

proptest! {
    #[test]
    fn stream_survives_encode_then_decode(
        pieces in proptest::collection::vec(piece(), 0..8),
        input in 0u64..10_000,
        output in 0u64..10_000,
    ) {
        let usage = Usage { input_tokens: input, output_tokens: output, ..Usage::default() };
        let events = canonical(&pieces, usage);
        let mut encoder = openai::ChatStreamEncoder::new(String::new(), String::new(), 0, true);
        let mut sse = bytes::BytesMut::new();
        for e in events.clone() {
            encoder.encode(e, &mut sse);
        }
        encoder.finish(&mut sse);
        prop_assert_eq!(decode_sse(&sse), events);
    }
}

/// Anthropic in, Anthropic out: the front door's decode followed by the Anthropic adapter's
/// encode gives back the client's request.
#[test]
fn anthropic_request_survives_decode_then_upstream_encode() {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/anthropic/full_request.json"
    ))
    .unwrap();
    let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let canonical = anthropic::decode_messages_request(&body).unwrap();
    let upstream = anthropic_upstream::request::messages_body(
        &canonical,
        "claude-sonnet-4-5",
        canonical.stream,
        "claude",
    )
    .unwrap();
    let mut forwarded = serde_json::to_value(&upstream).unwrap();
    let mut expected = original.clone();
    // Known, intended differences, all equivalent on the wire: string content becomes one
    // text block, `cache_control` always says its type, and a text document travels as text.
    expected["messages"][0]["content"] =
        serde_json::json!([{"type": "text", "text": "What is the weather in Paris and Lyon?"}]);
    expected["messages"][2]["content"][0]["content"] =
        serde_json::json!([{"type": "text", "text": "18°C, sunny"}]);
    let forwarded_obj = forwarded.as_object_mut().unwrap();
    assert_eq!(
        forwarded_obj.remove("tools").unwrap()[0]["cache_control"],
        serde_json::json!({"type": "ephemeral"})
    );
    expected.as_object_mut().unwrap().remove("tools");
    assert_eq!(forwarded, expected);
}

fn decode_anthropic_sse(bytes: &[u8]) -> Vec<StreamEvent> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    parser.feed(bytes, &mut events).unwrap();
    parser.finish(&mut events);
    let mut decoder = anthropic_upstream::stream::EventDecoder::new();
    let mut out = VecDeque::new();
    for e in events {
        decoder.on_data(&e.data, &mut out).unwrap();
    }
    assert!(decoder.is_done());
    out.into_iter().collect()
}

proptest! {
    #[test]
    fn anthropic_stream_survives_encode_then_decode(
        pieces in proptest::collection::vec(piece(), 0..8),
        input in 0u64..10_000,
        output in 1u64..10_000,
        cached in 0u64..100,
    ) {
        let usage = Usage {
            input_tokens: input + cached,
            output_tokens: output,
            cache_read_tokens: cached,
            ..Usage::default()
        };
        let events = canonical(&pieces, usage);
        let mut encoder = anthropic::MessageStreamEncoder::new(String::new(), String::new());
        let mut sse = bytes::BytesMut::new();
        for e in events.clone() {
            encoder.encode(e, &mut sse);
        }
        encoder.finish(&mut sse);
        let mut decoded = decode_anthropic_sse(&sse);
        // `message_start` carries what was known then (nothing, here) and the id gains
        // Anthropic's prefix; the rest must come back exactly.
        let StreamEvent::MessageStart { id, model, .. } = decoded.remove(0) else {
            panic!("no message_start");
        };
        prop_assert_eq!(id, "msg_c1");
        prop_assert_eq!(model, "m");
        let early_usage = matches!(decoded.remove(0), StreamEvent::Usage { .. });
        prop_assert!(early_usage);
        prop_assert_eq!(&decoded[..], &events[1..]);
    }
}

/// Gemini out, Gemini in: the front door's stream encoder followed by the Gemini adapter's
/// chunk decoder gives back the canonical events (calls arrive whole, as Gemini sends them,
/// so their arguments must be a JSON object).
#[test]
fn gemini_stream_survives_encode_then_decode() {
    let events = vec![
        StreamEvent::MessageStart {
            id: "r1".into(),
            model: "m".into(),
            created: 5,
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockKind::Text,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("Hello ".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("world".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockKind::ToolUse {
                id: "call_7".into(),
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
            delta: Delta::ToolArguments("[1,2]}".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageStop {
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
        },
        StreamEvent::Usage {
            usage: Usage {
                input_tokens: 9,
                output_tokens: 4,
                ..Usage::default()
            },
        },
    ];
    let mut encoder = gemini::GenerateStreamEncoder::new(true, "m".into());
    let mut sse = bytes::BytesMut::new();
    for e in events.clone() {
        encoder.encode(e, &mut sse);
    }
    encoder.finish(&mut sse);
    let mut parser = SseParser::new();
    let mut frames = Vec::new();
    parser.feed(&sse, &mut frames).unwrap();
    parser.finish(&mut frames);
    let mut decoder = switchyard_providers::gemini::response::ChunkDecoder::new();
    let mut out = VecDeque::new();
    for f in frames {
        decoder.on_data(&f.data, "m", &mut out).unwrap();
    }
    decoder.on_eof(&mut out).unwrap();
    let mut decoded: Vec<StreamEvent> = out.into_iter().collect();
    let StreamEvent::MessageStart { id, model, .. } = decoded.remove(0) else {
        panic!("no start");
    };
    assert_eq!((id.as_str(), model.as_str()), ("r1", "m"));
    assert_eq!(
        decoded,
        vec![
            events[1].clone(),
            events[2].clone(),
            events[3].clone(),
            events[4].clone(),
            events[5].clone(),
            StreamEvent::BlockDelta {
                index: 1,
                delta: Delta::ToolArguments("{\"a\":[1,2]}".into()),
            },
            events[8].clone(),
            events[9].clone(),
            events[10].clone(),
        ]
    );
}

/// Bedrock out, Bedrock in: the front door's ConverseStream encoder followed by the Bedrock
/// adapter's frame decoder gives back the canonical events (Bedrock streams carry no message
/// id, so the start event is the adapter's own).
fn decode_converse_stream(bytes: &[u8], cut: usize) -> Vec<StreamEvent> {
    let mut decoder =
        switchyard_providers::bedrock::stream::FrameDecoder::new("r".into(), "m".into());
    let mut out = VecDeque::new();
    let (head, tail) = bytes.split_at(cut.min(bytes.len()));
    decoder.feed(head, &mut out).unwrap();
    decoder.feed(tail, &mut out).unwrap();
    decoder.finish().unwrap();
    out.into_iter().collect()
}

proptest! {
    #[test]
    fn bedrock_stream_survives_encode_then_decode(
        pieces in proptest::collection::vec(piece(), 0..8),
        input in 0u64..10_000,
        output in 0u64..10_000,
        cut in 0usize..2_000,
    ) {
        let usage = Usage { input_tokens: input, output_tokens: output, ..Usage::default() };
        let events = canonical(&pieces, usage);
        let mut encoder = switchyard_dialects::bedrock::ConverseStreamEncoder::new(std::time::Instant::now());
        let mut frames = bytes::BytesMut::new();
        for e in events.clone() {
            encoder.encode(e, &mut frames);
        }
        encoder.finish(&mut frames);
        let mut decoded = decode_converse_stream(&frames, cut);
        let started = matches!(decoded.remove(0), StreamEvent::MessageStart { .. });
        prop_assert!(started, "the stream starts with MessageStart");
        prop_assert_eq!(decoded, events[1..].to_vec());
    }

    /// The Responses API has no upstream adapter to decode it, so its two encoders are held to
    /// each other: the streamed deltas add up to the text and arguments of the final
    /// `response.completed`, whose output matches the non-streamed encoding of the same answer.
    #[test]
    fn responses_stream_agrees_with_the_complete_answer(
        pieces in proptest::collection::vec(piece(), 0..8),
        input in 0u64..10_000,
        output in 0u64..10_000,
    ) {
        let usage = Usage { input_tokens: input, output_tokens: output, ..Usage::default() };
        let events = canonical(&pieces, usage);
        let echo = switchyard_dialects::responses::Echo::from_request(&switchyard_types::ChatRequest::default());
        let mut encoder = switchyard_dialects::responses::ResponseStreamEncoder::new(echo.clone(), 5);
        let mut sse = bytes::BytesMut::new();
        for e in events.clone() {
            encoder.encode(e, &mut sse);
        }
        encoder.finish(&mut sse);
        let mut parser = SseParser::new();
        let mut frames = Vec::new();
        parser.feed(&sse, &mut frames).unwrap();
        parser.finish(&mut frames);
        let events_json: Vec<serde_json::Value> =
            frames.iter().map(|f| serde_json::from_str(&f.data).unwrap()).collect();
        let sequence: Vec<u64> = events_json.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
        prop_assert_eq!(sequence, (0..events_json.len() as u64).collect::<Vec<_>>());
        let completed = &events_json.last().unwrap()["response"];
        prop_assert_eq!(&events_json.last().unwrap()["type"], "response.completed");

        let streamed_text: String = events_json
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap().to_owned())
            .collect();
        let final_text: String = completed["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == "message")
            .flat_map(|i| i["content"].as_array().unwrap().iter())
            .map(|c| c["text"].as_str().unwrap().to_owned())
            .collect();
        prop_assert_eq!(&streamed_text, &final_text);
        let streamed_args: String = events_json
            .iter()
            .filter(|e| e["type"] == "response.function_call_arguments.delta")
            .map(|e| e["delta"].as_str().unwrap().to_owned())
            .collect();
        let final_args: String = completed["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == "function_call")
            .map(|i| i["arguments"].as_str().unwrap().to_owned())
            .collect();
        prop_assert_eq!(streamed_args, final_args);

        // The same answer, not streamed.
        let mut content = Vec::new();
        for p in &pieces {
            match (p, content.last_mut()) {
                (Piece::Text(t), Some(switchyard_types::ContentBlock::Text { text, .. })) => text.push_str(t),
                (Piece::Text(t), _) => content.push(switchyard_types::ContentBlock::text(t.clone())),
                (Piece::Tool(name, args), _) => content.push(switchyard_types::ContentBlock::ToolUse {
                    id: format!("call_{}", content.iter().filter(|b| matches!(b, switchyard_types::ContentBlock::ToolUse { .. })).count()),
                    name: name.clone(),
                    arguments: args.concat(),
                    signature: None,
                }),
            }
        }
        let stop_reason = match events.iter().rev().find_map(|e| match e {
            StreamEvent::MessageStop { stop_reason, .. } => Some(stop_reason.clone()),
            _ => None,
        }) {
            Some(s) => s,
            None => StopReason::EndTurn,
        };
        let response = switchyard_types::ChatResponse {
            id: "c1".into(),
            model: "m".into(),
            created: 5,
            content,
            stop_reason,
            stop_sequence: None,
            usage,
            system_fingerprint: None,
            service_tier: None,
            logprobs: None,
        };
        let whole: serde_json::Value =
            serde_json::from_slice(&switchyard_dialects::responses::encode_response(&response, &echo)).unwrap();
        let strip = |output: &serde_json::Value| -> Vec<serde_json::Value> {
            output.as_array().unwrap().iter().map(|i| {
                let mut i = i.clone();
                i.as_object_mut().unwrap().remove("id");
                i
            }).collect()
        };
        prop_assert_eq!(strip(&completed["output"]), strip(&whole["output"]));
        prop_assert_eq!(&completed["usage"], &whole["usage"]);
        prop_assert_eq!(&completed["status"], &whole["status"]);
    }
}

proptest! {
    /// Gemini out, Gemini in, for generated streams: text deltas come back as sent; a call's
    /// arguments come back whole (Gemini sends calls in one part), so they are generated as
    /// JSON objects cut into pieces.
    #[test]
    fn gemini_streams_survive_encode_then_decode(
        blocks in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec("[a-zA-Z0-9 .,é]{1,12}", 1..4).prop_map(|t| (true, t)),
                proptest::collection::btree_map("[a-z]{1,6}", any::<i32>(), 0..4)
                    .prop_map(|m| (false, vec![serde_json::to_string(&m).unwrap()])),
            ],
            1..6,
        ),
        cut in 1usize..8,
        input in 0u64..10_000,
        output in 0u64..10_000,
    ) {
        // Gemini's text parts carry no block boundaries: adjacent text blocks are one block.
        let mut merged: Vec<(bool, Vec<String>)> = Vec::new();
        for (is_text, parts) in blocks {
            match merged.last_mut() {
                Some((true, previous)) if is_text => previous.extend(parts),
                _ => merged.push((is_text, parts)),
            }
        }
        let blocks = merged;
        let mut events = vec![StreamEvent::MessageStart { id: "r1".into(), model: "m".into(), created: 5 }];
        let mut expected = Vec::new();
        let mut calls = 0;
        for (index, (is_text, parts)) in blocks.iter().enumerate() {
            let index = index as u32;
            let block = if *is_text {
                BlockKind::Text
            } else {
                calls += 1;
                BlockKind::ToolUse { id: format!("call_{index}"), name: format!("f{index}"), signature: None }
            };
            events.push(StreamEvent::BlockStart { index, block: block.clone() });
            expected.push(StreamEvent::BlockStart { index, block });
            for part in parts {
                if *is_text {
                    let delta = StreamEvent::BlockDelta { index, delta: Delta::Text(part.clone()) };
                    events.push(delta.clone());
                    expected.push(delta);
                } else {
                    let chars: Vec<char> = part.chars().collect();
                    for piece in chars.chunks(cut) {
                        events.push(StreamEvent::BlockDelta { index, delta: Delta::ToolArguments(piece.iter().collect()) });
                    }
                    expected.push(StreamEvent::BlockDelta { index, delta: Delta::ToolArguments(part.clone()) });
                }
            }
            events.push(StreamEvent::BlockStop { index });
            expected.push(StreamEvent::BlockStop { index });
        }
        let stop = StreamEvent::MessageStop {
            stop_reason: if calls > 0 { StopReason::ToolUse } else { StopReason::EndTurn },
            stop_sequence: None,
        };
        let usage = StreamEvent::Usage { usage: Usage { input_tokens: input, output_tokens: output, ..Usage::default() } };
        events.push(stop.clone());
        events.push(usage.clone());
        expected.push(stop);
        expected.push(usage);

        let mut encoder = gemini::GenerateStreamEncoder::new(true, "m".into());
        let mut sse = bytes::BytesMut::new();
        for e in events {
            encoder.encode(e, &mut sse);
        }
        encoder.finish(&mut sse);
        let mut parser = SseParser::new();
        let mut frames = Vec::new();
        parser.feed(&sse, &mut frames).unwrap();
        parser.finish(&mut frames);
        let mut decoder = switchyard_providers::gemini::response::ChunkDecoder::new();
        let mut out = VecDeque::new();
        for f in frames {
            decoder.on_data(&f.data, "m", &mut out).unwrap();
        }
        decoder.on_eof(&mut out).unwrap();
        let mut decoded: Vec<StreamEvent> = out.into_iter().collect();
        let started = matches!(decoded.remove(0), StreamEvent::MessageStart { .. });
        prop_assert!(started);
        prop_assert_eq!(decoded, expected);
    }
}
