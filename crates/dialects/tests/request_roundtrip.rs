//! Canonical -> wire -> canonical for the dialects whose both directions Switchyard speaks:
//! a generated conversation (system prompt, user and assistant turns, parallel tool calls
//! with their results, tools, sampling) encoded by an upstream adapter and decoded by the
//! front door of the same format comes back unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use switchyard_dialects::{anthropic, gemini};
use switchyard_providers::{anthropic as anthropic_upstream, gemini as gemini_upstream};
use switchyard_types::{ChatRequest, ContentBlock, Message, Role, SamplingParams, Tool};

/// A tool call as generated: id, name, and its arguments as key/value pairs.
type Call = (String, String, Vec<(String, i64)>);

#[derive(Debug, Clone)]
enum Turn {
    User(String),
    Assistant(String),
    /// Tool calls `(id, name, arguments)`, then the user's results for each.
    Calls(Vec<Call>, Vec<String>),
}

fn words() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z ,.!?é]{0,30}"
}

fn turn() -> impl Strategy<Value = Turn> {
    prop_oneof![
        words().prop_map(Turn::User),
        words().prop_map(Turn::Assistant),
        proptest::collection::vec(
            (
                "[a-z0-9_]{1,10}",
                "[a-z_]{1,8}",
                proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 0..3),
            ),
            1..3
        )
        .prop_flat_map(|calls| {
            let n = calls.len();
            (Just(calls), proptest::collection::vec(words(), n..=n))
        })
        .prop_map(|(calls, results)| {
            // Ids unique within the conversation turn.
            let calls = calls
                .into_iter()
                .enumerate()
                .map(|(i, (id, name, args))| {
                    (format!("{id}_{i}"), name, args.into_iter().collect())
                })
                .collect();
            Turn::Calls(calls, results)
        }),
    ]
}

fn conversation(
    system: Option<String>,
    turns: Vec<Turn>,
    temperature: Option<f64>,
    max_tokens: u32,
    stop: Vec<String>,
) -> ChatRequest {
    let mut messages = Vec::new();
    if let Some(s) = system {
        messages.push(Message::text(Role::System, s));
    }
    let mut tools: Vec<Tool> = Vec::new();
    for (t, turn) in turns.into_iter().enumerate() {
        match turn {
            Turn::User(text) => messages.push(Message::text(Role::User, text)),
            Turn::Assistant(text) => messages.push(Message::text(Role::Assistant, text)),
            Turn::Calls(calls, results) => {
                let mut uses = Vec::new();
                let mut outputs = Vec::new();
                for ((id, name, args), result) in calls.into_iter().zip(results) {
                    let id = format!("t{t}_{id}");
                    let object: serde_json::Map<String, serde_json::Value> = args
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::Value::from(v)))
                        .collect();
                    uses.push(ContentBlock::ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                        arguments: serde_json::Value::Object(object).to_string(),
                        signature: None,
                    });
                    outputs.push(ContentBlock::ToolResult {
                        tool_use_id: id,
                        content: vec![ContentBlock::text(result)],
                        is_error: false,
                    });
                    if !tools.iter().any(|t| t.name == name) {
                        tools.push(Tool {
                            name,
                            description: Some("a tool".into()),
                            parameters: serde_json::json!({"type": "object"}),
                            strict: None,
                            cache_control: None,
                        });
                    }
                }
                messages.push(Message {
                    role: Role::Assistant,
                    content: uses,
                    name: None,
                });
                messages.push(Message {
                    role: Role::Tool,
                    content: outputs,
                    name: None,
                });
            }
        }
    }
    ChatRequest {
        model: "m".into(),
        messages,
        sampling: SamplingParams {
            temperature,
            max_output_tokens: Some(max_tokens),
            stop,
            ..SamplingParams::default()
        },
        tools,
        stream_include_usage: true,
        ..ChatRequest::default()
    }
}

/// Adjacent turns of one role are one turn on the wire; canonically they stay apart only
/// when their roles differ. Merge them the way the wire does before comparing.
fn merged(req: &ChatRequest) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for m in &req.messages {
        match out.last_mut() {
            Some(last) if last.role == m.role && m.role != Role::System => {
                last.content.extend(m.content.clone())
            }
            _ => out.push(m.clone()),
        }
    }
    out
}

fn strategy() -> impl Strategy<Value = ChatRequest> {
    (
        proptest::option::of(words()),
        proptest::collection::vec(turn(), 1..6),
        proptest::option::of(0.0f64..=1.0),
        1u32..100_000,
        proptest::collection::vec("[A-Z]{1,5}", 0..3),
    )
        .prop_map(|(system, turns, temperature, max_tokens, stop)| {
            conversation(system, turns, temperature, max_tokens, stop)
        })
}

proptest! {
    #[test]
    fn anthropic_canonical_wire_canonical(req in strategy()) {
        let body = anthropic_upstream::request::messages_body(&req, "m", false, "up").unwrap();
        let bytes = serde_json::to_vec(&body).unwrap();
        let back = anthropic::decode_messages_request(&bytes).unwrap();
        prop_assert_eq!(&back.messages, &merged(&req));
        prop_assert_eq!(&back.tools, &req.tools);
        prop_assert_eq!(&back.sampling, &req.sampling);
    }

    #[test]
    fn gemini_canonical_wire_canonical(req in strategy()) {
        let body = gemini_upstream::request::generate_body(&req, "up").unwrap();
        let bytes = serde_json::to_vec(&body).unwrap();
        let back = gemini::decode_generate_request("m", &bytes, false).unwrap();
        prop_assert_eq!(&back.messages, &merged(&req));
        prop_assert_eq!(&back.tools, &req.tools);
        prop_assert_eq!(&back.sampling, &req.sampling);
    }
}

proptest! {
    #[test]
    fn bedrock_canonical_wire_canonical(req in strategy()) {
        let body = switchyard_providers::bedrock::request::converse_body(&req, "m", "up").unwrap();
        let bytes = serde_json::to_vec(&body).unwrap();
        let back = switchyard_dialects::bedrock::decode_converse_request("m", &bytes, false).unwrap();
        prop_assert_eq!(&back.messages, &merged(&req));
        prop_assert_eq!(&back.tools, &req.tools);
        prop_assert_eq!(&back.sampling, &req.sampling);
    }

    #[test]
    fn openai_canonical_wire_canonical(req in strategy()) {
        let quirks = switchyard_providers::HostQuirks::for_kind(switchyard_config::ProviderKind::OpenAi);
        let body = switchyard_providers::openai_compat::request::chat_body(&req, "m", false, &quirks, "up").unwrap();
        let bytes = serde_json::to_vec(&body).unwrap();
        let back = switchyard_dialects::openai::decode_chat_request(&bytes).unwrap();
        prop_assert_eq!(&back.messages, &one_result_per_message(&req));
        prop_assert_eq!(&back.tools, &req.tools);
        prop_assert_eq!(&back.sampling, &req.sampling);
    }
}

/// OpenAI sends each tool result as its own `tool` message.
fn one_result_per_message(req: &ChatRequest) -> Vec<Message> {
    let mut out = Vec::new();
    for m in &req.messages {
        if m.role == Role::Tool && m.content.len() > 1 {
            for block in &m.content {
                out.push(Message {
                    role: Role::Tool,
                    content: vec![block.clone()],
                    name: None,
                });
            }
        } else {
            out.push(m.clone());
        }
    }
    out
}
