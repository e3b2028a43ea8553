#![cfg(feature = "llama")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The llama.cpp backend on the real default chat model (Qwen2.5-Coder-0.5B-Instruct).

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_engine::chat::llama::{LlamaChat, LlamaOptions};
use switchyard_engine::chat::{ChatBackend, LocalChat};
use switchyard_engine::EngineError;
use switchyard_types::{
    ChatRequest, ContentBlock, Message, ResponseFormat, Role, StopReason, StreamEvent, Tool,
    ToolChoice,
};

const QWEN: &str = "qwen2.5-coder-0.5b-instruct";

fn load(parallel: u32, context: u32, queue: usize) -> (Arc<LlamaChat>, LocalChat) {
    let mut options = LlamaOptions::new(common::model_path(QWEN));
    options.parallel = parallel;
    options.context_per_sequence = context;
    options.queue = queue;
    let backend = Arc::new(LlamaChat::load(options).unwrap());
    let chat = LocalChat::new(backend.clone(), QWEN).unwrap();
    (backend, chat)
}

/// One engine shared by the tests that need no special settings.
fn shared() -> &'static (Arc<LlamaChat>, LocalChat) {
    static ENGINE: OnceLock<(Arc<LlamaChat>, LocalChat)> = OnceLock::new();
    ENGINE.get_or_init(|| load(4, 2048, 16))
}

fn ask(text: &str) -> ChatRequest {
    let mut r = ChatRequest {
        model: "default".into(),
        messages: vec![Message::text(Role::User, text)],
        ..ChatRequest::default()
    };
    r.sampling.temperature = Some(0.0);
    r.sampling.max_output_tokens = Some(48);
    r
}

fn text_of(r: &switchyard_types::ChatResponse) -> String {
    r.content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_with_exact_usage() {
    let (backend, chat) = shared();
    let req = ask("What is the capital of France? Answer in one word.");
    let prompt = chat.render_prompt(&req).unwrap();
    let resp = chat.start(&req).await.unwrap().collect().await.unwrap();
    let text = text_of(&resp);
    assert!(text.contains("Paris"), "{text:?}");
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    assert_eq!(
        resp.usage.input_tokens,
        backend.count_tokens(&prompt) as u64
    );
    // The answer re-tokenizes to (about) its generated token count; the exact count is what
    // the engine generated, which streaming reports the same way.
    assert!(resp.usage.output_tokens >= 1 && resp.usage.output_tokens <= 48);
    let mut stream = chat.start(&req).await.unwrap();
    let mut deltas = 0;
    let mut usage = None;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            StreamEvent::BlockDelta { .. } => deltas += 1,
            StreamEvent::Usage { usage: u } => usage = Some(u),
            _ => {}
        }
    }
    let usage = usage.unwrap();
    assert_eq!(
        usage.output_tokens, resp.usage.output_tokens,
        "greedy runs agree"
    );
    assert!(deltas >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_ends_with_length_and_counts_exactly() {
    let (_, chat) = shared();
    let mut req = ask("Write a long story about a train.");
    req.sampling.max_output_tokens = Some(7);
    let resp = chat.start(&req).await.unwrap().collect().await.unwrap();
    assert_eq!(resp.stop_reason, StopReason::MaxTokens);
    assert_eq!(resp.usage.output_tokens, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_output_and_sampling_params_apply() {
    let (_, chat) = shared();
    let mut req = ask("Invent a name for a cat.");
    req.sampling.temperature = Some(1.2);
    req.sampling.top_k = Some(100);
    req.sampling.top_p = Some(0.98);
    req.sampling.min_p = Some(0.0);
    req.sampling.presence_penalty = Some(0.5);
    req.sampling.frequency_penalty = Some(0.3);
    req.sampling.repetition_penalty = Some(1.1);
    req.sampling.max_output_tokens = Some(24);
    let mut outputs = Vec::new();
    for seed in [7, 7, 8, 9, 10] {
        req.sampling.seed = Some(seed);
        outputs.push(text_of(
            &chat.start(&req).await.unwrap().collect().await.unwrap(),
        ));
    }
    assert_eq!(outputs[0], outputs[1], "same seed, same output");
    assert!(
        outputs[2..].iter().any(|o| o != &outputs[0]),
        "different seeds at temperature 1.2 all gave {:?}",
        outputs[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_sequences_end_the_answer_and_are_not_shown() {
    let (_, chat) = shared();
    let mut req = ask("Count from 1 to 20, separated by commas.");
    req.sampling.stop = vec!["5".into()];
    let resp = chat.start(&req).await.unwrap().collect().await.unwrap();
    let text = text_of(&resp);
    assert_eq!(resp.stop_reason, StopReason::StopSequence, "{text:?}");
    assert_eq!(resp.stop_sequence.as_deref(), Some("5"));
    assert!(text.contains('4') && !text.contains('5'), "{text:?}");
}

fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: Some("Get the current weather in a city".into()),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"]
        }),
        strict: None,
        cache_control: None,
    }
}

fn tool_calls(r: &switchyard_types::ChatResponse) -> Vec<(String, serde_json::Value)> {
    r.content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolUse {
                name, arguments, ..
            } => Some((name.clone(), serde_json::from_str(arguments).unwrap())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_are_parsed_from_the_model_output() {
    let (_, chat) = shared();
    let mut req = ask("What is the weather like in Paris right now?");
    req.tools = vec![weather_tool()];
    req.sampling.max_output_tokens = Some(64);
    let resp = chat.start(&req).await.unwrap().collect().await.unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse, "{:?}", resp.content);
    let calls = tool_calls(&resp);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "get_weather");
    assert!(calls[0].1["city"].as_str().unwrap().contains("Paris"));

    // Streamed: a tool-use block with the arguments as one delta.
    let mut stream = chat.start(&req).await.unwrap();
    let mut saw_block = false;
    while let Some(ev) = stream.next().await {
        if let StreamEvent::BlockStart {
            block: switchyard_types::BlockKind::ToolUse { name, .. },
            ..
        } = ev.unwrap()
        {
            assert_eq!(name, "get_weather");
            saw_block = true;
        }
    }
    assert!(saw_block);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_tool_choice_is_enforced_by_grammar() {
    let (_, chat) = shared();
    // A prompt that would not call a tool on its own.
    let mut req = ask("Say hello.");
    req.tools = vec![weather_tool()];
    req.tool_choice = Some(ToolChoice::Named("get_weather".into()));
    req.sampling.max_output_tokens = Some(64);
    let resp = chat.start(&req).await.unwrap().collect().await.unwrap();
    let calls = tool_calls(&resp);
    assert_eq!(calls.len(), 1, "{:?}", resp.content);
    assert!(calls[0].1["city"].is_string());
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_output_is_valid() {
    let (_, chat) = shared();
    let mut req = ask("Describe a fictional person.");
    req.sampling.max_output_tokens = Some(96);
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "person".into(),
        description: None,
        schema: json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
            "additionalProperties": false
        }),
        strict: Some(true),
    });
    let resp = chat.start(&req).await.unwrap().collect().await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&text_of(&resp)).unwrap();
    assert!(
        value["name"].is_string() && value["age"].is_i64(),
        "{value}"
    );

    req.response_format = Some(ResponseFormat::JsonObject);
    let resp = chat.start(&req).await.unwrap().collect().await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&text_of(&resp)).unwrap();
    assert!(value.is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_long_prompts_are_refused_cleanly() {
    let (_, chat) = load(1, 256, 4);
    let long = "word ".repeat(400);
    let err = chat.start(&ask(&long)).await.unwrap_err();
    assert!(
        matches!(&err, EngineError::ContextLength(m) if m.contains("maximum context length is 256")),
        "{err:?}"
    );
    let mut req = ask("Hi");
    req.sampling.max_output_tokens = Some(1000);
    let err = chat.start(&req).await.unwrap_err();
    assert!(matches!(err, EngineError::ContextLength(_)));
    // The engine still serves afterwards.
    let resp = chat
        .start(&ask("Hi"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(!text_of(&resp).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_chats_are_decoded_together() {
    let (_, chat) = shared();
    let mut req = ask("List ten fruits, one per line.");
    req.sampling.max_output_tokens = Some(40);
    req.sampling.stop = vec![];
    let mut gens = Vec::new();
    for _ in 0..4 {
        gens.push(chat.start(&req).await.unwrap());
    }
    // Read one token event from each before any finishes: all four are in flight at once.
    let mut firsts = Vec::new();
    for g in &mut gens {
        loop {
            match g.next().await.unwrap().unwrap() {
                StreamEvent::BlockDelta { .. } => break,
                StreamEvent::MessageStop { .. } => panic!("finished before the others started"),
                _ => {}
            }
        }
        firsts.push(Instant::now());
    }
    let mut outputs = Vec::new();
    for g in gens {
        outputs.push(g.collect().await.unwrap().usage.output_tokens);
    }
    assert!(outputs.iter().all(|&n| n > 1), "{outputs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_and_a_cancelled_client_frees_its_slot() {
    let (_, chat) = load(1, 1024, 1);
    let mut long = ask("Write a very long essay about railways.");
    long.sampling.max_output_tokens = Some(900);
    let mut running = chat.start(&long).await.unwrap();
    let _ = running.next().await; // it is generating
                                  // One request may wait; the next is refused at once.
    let chat = Arc::new(chat);
    let waiting = {
        let chat = chat.clone();
        let req = ask("Hi");
        tokio::spawn(async move { chat.start(&req).await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = chat.start(&ask("Hi")).await.unwrap_err();
    assert!(matches!(refused, EngineError::Overloaded(_)), "{refused:?}");
    // Dropping the running generation cancels it; the waiting one gets the slot quickly.
    let t = Instant::now();
    drop(running);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the cancelled generation kept its slot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_prompt_prefix_is_served_from_the_cache() {
    let (_, chat) = load(1, 1024, 4);
    let mut req = ask("You are a helpful assistant. Summarise: trains run on rails.");
    req.sampling.max_output_tokens = Some(4);
    let first = chat.start(&req).await.unwrap().collect().await.unwrap();
    let second = chat.start(&req).await.unwrap().collect().await.unwrap();
    assert_eq!(first.usage.cache_read_tokens, 0);
    assert_eq!(
        second.usage.cache_read_tokens,
        second.usage.input_tokens - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_features_are_clear_errors() {
    let (_, chat) = shared();
    let mut req = ask("Hi");
    req.sampling.n = Some(2);
    assert!(
        matches!(chat.start(&req).await.unwrap_err(), EngineError::InvalidRequest(m) if m.contains("n > 1"))
    );
    let mut req = ask("Hi");
    req.sampling.logprobs = true;
    assert!(
        matches!(chat.start(&req).await.unwrap_err(), EngineError::InvalidRequest(m) if m.contains("logprobs"))
    );
    let mut req = ask("Hi");
    req.sampling.temperature = Some(5.0);
    assert!(
        matches!(chat.start(&req).await.unwrap_err(), EngineError::InvalidRequest(m) if m.contains("temperature"))
    );
}

#[test]
fn a_missing_file_is_a_load_error() {
    let err = LlamaChat::load(LlamaOptions::new("/nonexistent/model.gguf")).unwrap_err();
    assert!(matches!(err, EngineError::Load(m) if m.contains("/nonexistent/model.gguf")));
}
