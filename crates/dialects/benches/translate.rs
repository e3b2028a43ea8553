//! Translation cost on the hot path, without any IO:
//! - `request`: an OpenAI client body -> canonical -> OpenAI-compatible upstream body bytes;
//! - `response`: an upstream `chat.completion` -> canonical -> client body bytes;
//! - `stream_100_chunks`: a 100-chunk upstream SSE body -> SSE parser -> chunk decoder ->
//!   canonical events -> client SSE encoder.
//! - `anthropic_*`: the same three paths for an Anthropic client and an Anthropic upstream.
//! - `gemini_*`: a Gemini client's request, answer and stream over an OpenAI-compatible
//!   upstream.
//! - `responses_*`: an OpenAI Responses client's request, answer and stream over an
//!   OpenAI-compatible upstream.
//! - `bedrock_*`: a Bedrock Converse client over a Bedrock upstream: request, answer, and a
//!   100-chunk binary event stream decoded and re-encoded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchyard_config::ProviderKind;
use switchyard_dialects::{anthropic, bedrock, gemini, openai, responses};
use switchyard_providers::anthropic as anthropic_upstream;
use switchyard_providers::bedrock as bedrock_upstream;
use switchyard_providers::openai_compat::{request, response, stream::ChunkDecoder};
use switchyard_providers::sse::SseParser;
use switchyard_providers::HostQuirks;

const REQUEST: &str = r#"{"model":"bench-model","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},{"role":"user","content":"Summarise the main differences between TCP and UDP in three sentences, for a junior developer."}],"temperature":0.7,"max_tokens":256,"tools":[{"type":"function","function":{"name":"search","description":"Search the docs","parameters":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}}],"stream":false}"#;

const RESPONSE: &str = r#"{"id":"chatcmpl-abc123","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"TCP is connection-oriented and guarantees ordered, reliable delivery with retransmission and flow control. UDP is connectionless and sends independent datagrams with no delivery or ordering guarantees. Use TCP when correctness matters and UDP when low latency matters more than occasional loss.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":45,"completion_tokens":58,"total_tokens":103,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_44709d6fcb"}"#;

fn stream_body(chunks: usize) -> Vec<u8> {
    let mut out = String::new();
    let head = r#"{"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":"#;
    out.push_str(&format!("data: {head}{{\"role\":\"assistant\",\"content\":\"\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"));
    for i in 0..chunks {
        out.push_str(&format!("data: {head}{{\"content\":\" token{i}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"));
    }
    out.push_str(&format!(
        "data: {head}{{}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\"usage\":null}}\n\n"
    ));
    out.push_str(r#"data: {"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":45,"completion_tokens":100,"total_tokens":145}}"#);
    out.push_str("\n\ndata: [DONE]\n\n");
    out.into_bytes()
}

const ANTHROPIC_REQUEST: &str = r#"{"model":"bench-model","max_tokens":256,"system":"You are a helpful assistant that answers briefly and precisely.","messages":[{"role":"user","content":"Summarise the main differences between TCP and UDP in three sentences, for a junior developer."}],"temperature":0.7,"tools":[{"name":"search","description":"Search the docs","input_schema":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}],"stream":false}"#;

const ANTHROPIC_RESPONSE: &str = r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"TCP is connection-oriented and guarantees ordered, reliable delivery with retransmission and flow control. UDP is connectionless and sends independent datagrams with no delivery or ordering guarantees. Use TCP when correctness matters and UDP when low latency matters more than occasional loss."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":45,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":58}}"#;

const GEMINI_REQUEST: &str = r#"{"systemInstruction":{"parts":[{"text":"You are a helpful assistant that answers briefly and precisely."}]},"contents":[{"role":"user","parts":[{"text":"Summarise the main differences between TCP and UDP in three sentences, for a junior developer."}]}],"tools":[{"functionDeclarations":[{"name":"search","description":"Search the docs","parameters":{"type":"OBJECT","properties":{"query":{"type":"STRING"}},"required":["query"]}}]}],"generationConfig":{"temperature":0.7,"maxOutputTokens":256}}"#;

fn anthropic_stream_body(chunks: usize) -> Vec<u8> {
    let mut out = String::new();
    out.push_str("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":45,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n");
    out.push_str("event: ping\ndata: {\"type\":\"ping\"}\n\n");
    out.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    for i in 0..chunks {
        out.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\" token{i}\"}}}}\n\n"));
    }
    out.push_str(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    );
    out.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":100}}\n\n");
    out.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    out.into_bytes()
}

const RESPONSES_REQUEST: &str = r#"{"model":"bench-model","instructions":"You are a helpful assistant that answers briefly and precisely.","input":[{"role":"user","content":[{"type":"input_text","text":"Summarise the main differences between TCP and UDP in three sentences, for a junior developer."}]}],"temperature":0.7,"max_output_tokens":256,"tools":[{"type":"function","name":"search","description":"Search the docs","parameters":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}],"store":false}"#;

const BEDROCK_REQUEST: &str = r#"{"system":[{"text":"You are a helpful assistant that answers briefly and precisely."}],"messages":[{"role":"user","content":[{"text":"Summarise the main differences between TCP and UDP in three sentences, for a junior developer."}]}],"inferenceConfig":{"maxTokens":256,"temperature":0.7},"toolConfig":{"tools":[{"toolSpec":{"name":"search","description":"Search the docs","inputSchema":{"json":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}}}]}}"#;

const BEDROCK_RESPONSE: &str = r#"{"output":{"message":{"role":"assistant","content":[{"text":"TCP is connection-oriented and guarantees ordered, reliable delivery with retransmission and flow control. UDP is connectionless and sends independent datagrams with no delivery or ordering guarantees. Use TCP when correctness matters and UDP when low latency matters more than occasional loss."}]}},"stopReason":"end_turn","usage":{"inputTokens":45,"outputTokens":58,"totalTokens":103,"cacheReadInputTokens":0,"cacheWriteInputTokens":0},"metrics":{"latencyMs":812}}"#;

/// A Bedrock ConverseStream body of `chunks` text deltas, padded as Bedrock pads them.
fn bedrock_stream_body(chunks: usize) -> Vec<u8> {
    use switchyard_dialects::bedrock::eventstream::write_event;
    let mut out = bytes::BytesMut::new();
    let pad = r#","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ""#;
    write_event(
        "messageStart",
        format!(r#"{{"role":"assistant"{pad}}}"#).as_bytes(),
        &mut out,
    );
    for i in 0..chunks {
        let payload = format!(r#"{{"contentBlockIndex":0,"delta":{{"text":" token{i}"}}{pad}}}"#);
        write_event("contentBlockDelta", payload.as_bytes(), &mut out);
    }
    write_event(
        "contentBlockStop",
        format!(r#"{{"contentBlockIndex":0{pad}}}"#).as_bytes(),
        &mut out,
    );
    write_event(
        "messageStop",
        format!(r#"{{"stopReason":"end_turn"{pad}}}"#).as_bytes(),
        &mut out,
    );
    write_event(
        "metadata",
        format!(r#"{{"usage":{{"inputTokens":45,"outputTokens":100,"totalTokens":145}},"metrics":{{"latencyMs":900}}{pad}}}"#).as_bytes(),
        &mut out,
    );
    out.to_vec()
}

fn bench(c: &mut Criterion) {
    let quirks = HostQuirks::for_kind(ProviderKind::OpenAi);
    let mut group = c.benchmark_group("translate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("request", |b| {
        b.iter(|| {
            let canonical = openai::decode_chat_request(black_box(REQUEST.as_bytes())).unwrap();
            let upstream = request::chat_body(
                &canonical,
                "gpt-4o-mini",
                canonical.stream,
                &quirks,
                "openai",
            )
            .unwrap();
            black_box(serde_json::to_vec(&upstream).unwrap())
        })
    });
    group.bench_function("response", |b| {
        b.iter(|| {
            let canonical = response::chat_response(black_box(RESPONSE.as_bytes())).unwrap();
            black_box(openai::encode_chat_response(&canonical))
        })
    });
    let body = stream_body(100);
    // Network reads of ~1 KiB, as a real upstream's frames arrive.
    let reads: Vec<&[u8]> = body.chunks(1024).collect();
    group.bench_function("stream_100_chunks", |b| {
        b.iter(|| {
            let mut parser = SseParser::new();
            let mut decoder = ChunkDecoder::new();
            let mut encoder = openai::ChatStreamEncoder::new(String::new(), String::new(), 0, true);
            let mut sse = Vec::new();
            let mut events = VecDeque::new();
            let mut out = bytes::BytesMut::new();
            for read in &reads {
                parser.feed(read, &mut sse).unwrap();
                for e in sse.drain(..) {
                    decoder.on_data(&e.data, &mut events).unwrap();
                }
                for event in events.drain(..) {
                    encoder.encode(event, &mut out);
                }
            }
            encoder.finish(&mut out);
            black_box(out)
        })
    });
    group.bench_function("anthropic_request", |b| {
        b.iter(|| {
            let canonical =
                anthropic::decode_messages_request(black_box(ANTHROPIC_REQUEST.as_bytes()))
                    .unwrap();
            let upstream = anthropic_upstream::request::messages_body(
                &canonical,
                "claude-sonnet-4-5",
                canonical.stream,
                "anthropic",
            )
            .unwrap();
            black_box(serde_json::to_vec(&upstream).unwrap())
        })
    });
    group.bench_function("anthropic_response", |b| {
        b.iter(|| {
            let canonical = anthropic_upstream::response::chat_response(black_box(
                ANTHROPIC_RESPONSE.as_bytes(),
            ))
            .unwrap();
            black_box(anthropic::encode_message_response(&canonical))
        })
    });
    group.bench_function("gemini_request", |b| {
        b.iter(|| {
            let canonical = gemini::decode_generate_request(
                "bench-model",
                black_box(GEMINI_REQUEST.as_bytes()),
                false,
            )
            .unwrap();
            let upstream =
                request::chat_body(&canonical, "gpt-4o-mini", false, &quirks, "openai").unwrap();
            black_box(serde_json::to_vec(&upstream).unwrap())
        })
    });
    group.bench_function("gemini_response", |b| {
        b.iter(|| {
            let canonical = response::chat_response(black_box(RESPONSE.as_bytes())).unwrap();
            black_box(gemini::encode_generate_response(&canonical))
        })
    });
    let body = anthropic_stream_body(100);
    let reads: Vec<&[u8]> = body.chunks(1024).collect();
    group.bench_function("anthropic_stream_100_chunks", |b| {
        b.iter(|| {
            let mut parser = SseParser::new();
            let mut decoder = anthropic_upstream::stream::EventDecoder::new();
            let mut encoder = anthropic::MessageStreamEncoder::new(String::new(), String::new());
            let mut sse = Vec::new();
            let mut events = VecDeque::new();
            let mut out = bytes::BytesMut::new();
            for read in &reads {
                parser.feed(read, &mut sse).unwrap();
                for e in sse.drain(..) {
                    decoder.on_data(&e.data, &mut events).unwrap();
                }
                for event in events.drain(..) {
                    encoder.encode(event, &mut out);
                }
            }
            encoder.finish(&mut out);
            black_box(out)
        })
    });
    let body = stream_body(100);
    let reads: Vec<&[u8]> = body.chunks(1024).collect();
    group.bench_function("gemini_stream_100_chunks", |b| {
        b.iter(|| {
            let mut parser = SseParser::new();
            let mut decoder = ChunkDecoder::new();
            let mut encoder = gemini::GenerateStreamEncoder::new(true, "bench-model".into());
            let mut sse = Vec::new();
            let mut events = VecDeque::new();
            let mut out = bytes::BytesMut::new();
            for read in &reads {
                parser.feed(read, &mut sse).unwrap();
                for e in sse.drain(..) {
                    decoder.on_data(&e.data, &mut events).unwrap();
                }
                for event in events.drain(..) {
                    encoder.encode(event, &mut out);
                }
            }
            encoder.finish(&mut out);
            black_box(out)
        })
    });
    group.bench_function("responses_request", |b| {
        b.iter(|| {
            let canonical =
                responses::decode_create_request(black_box(RESPONSES_REQUEST.as_bytes())).unwrap();
            let upstream =
                request::chat_body(&canonical, "gpt-4o-mini", false, &quirks, "openai").unwrap();
            black_box(serde_json::to_vec(&upstream).unwrap())
        })
    });
    let echo = responses::Echo::from_request(
        &responses::decode_create_request(RESPONSES_REQUEST.as_bytes()).unwrap(),
    );
    group.bench_function("responses_response", |b| {
        b.iter(|| {
            let canonical = response::chat_response(black_box(RESPONSE.as_bytes())).unwrap();
            black_box(responses::encode_response(&canonical, &echo))
        })
    });
    group.bench_function("responses_stream_100_chunks", |b| {
        b.iter(|| {
            let mut parser = SseParser::new();
            let mut decoder = ChunkDecoder::new();
            let mut encoder = responses::ResponseStreamEncoder::new(echo.clone(), 0);
            let mut sse = Vec::new();
            let mut events = VecDeque::new();
            let mut out = bytes::BytesMut::new();
            for read in &reads {
                parser.feed(read, &mut sse).unwrap();
                for e in sse.drain(..) {
                    decoder.on_data(&e.data, &mut events).unwrap();
                }
                for event in events.drain(..) {
                    encoder.encode(event, &mut out);
                }
            }
            encoder.finish(&mut out);
            black_box(out)
        })
    });
    let model = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0";
    group.bench_function("bedrock_request", |b| {
        b.iter(|| {
            let canonical = bedrock::decode_converse_request(
                model,
                black_box(BEDROCK_REQUEST.as_bytes()),
                false,
            )
            .unwrap();
            let upstream =
                bedrock_upstream::request::converse_body(&canonical, model, "bedrock").unwrap();
            black_box(serde_json::to_vec(&upstream).unwrap())
        })
    });
    group.bench_function("bedrock_response", |b| {
        b.iter(|| {
            let canonical = bedrock_upstream::response::chat_response(
                black_box(BEDROCK_RESPONSE.as_bytes()),
                "bedrock-1".into(),
                model,
            )
            .unwrap();
            black_box(bedrock::encode_converse_response(&canonical, 812))
        })
    });
    let body = bedrock_stream_body(100);
    let reads: Vec<&[u8]> = body.chunks(1024).collect();
    let started = std::time::Instant::now();
    group.bench_function("bedrock_stream_100_chunks", |b| {
        b.iter(|| {
            let mut decoder = bedrock_upstream::stream::FrameDecoder::new("r".into(), model.into());
            let mut encoder = bedrock::ConverseStreamEncoder::new(started);
            let mut events = VecDeque::new();
            let mut out = bytes::BytesMut::new();
            for read in &reads {
                decoder.feed(read, &mut events).unwrap();
                for event in events.drain(..) {
                    encoder.encode(event, &mut out);
                }
            }
            encoder.finish(&mut out);
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
