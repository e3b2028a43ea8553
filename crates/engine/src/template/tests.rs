use serde_json::json;
use switchyard_types::{ContentBlock, Message, Role, Tool};

use super::*;

const QWEN: &str = include_str!("../../tests/fixtures/qwen2.5-chat-template.jinja");
const EXPECTED: &str = include_str!("../../tests/fixtures/qwen2.5-rendered.json");

fn expected(case: &str) -> String {
    let all: Json = serde_json::from_str(EXPECTED).unwrap();
    all[case].as_str().unwrap().to_owned()
}

fn qwen() -> ChatTemplate {
    ChatTemplate::new(QWEN, "<|endoftext|>", "<|im_end|>").unwrap()
}

#[test]
fn plain_conversation_matches_transformers() {
    let out = qwen()
        .render(&[Message::text(Role::User, "Hello, wörld!")], &[])
        .unwrap();
    assert_eq!(out, expected("plain"));
}

#[test]
fn system_and_history_match_transformers() {
    let msgs = [
        Message::text(Role::System, "Be brief."),
        Message::text(Role::User, "Hi"),
        Message::text(Role::Assistant, "Hello."),
        Message::text(Role::User, "Bye"),
    ];
    assert_eq!(qwen().render(&msgs, &[]).unwrap(), expected("system"));
}

#[test]
fn tools_calls_and_results_match_transformers() {
    let tool = Tool {
        name: "get_weather".into(),
        description: Some("Current weather for a city".into()),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        strict: None,
        cache_control: None,
    };
    let call = |id: &str, city: &str| ContentBlock::ToolUse {
        id: id.into(),
        name: "get_weather".into(),
        arguments: format!(r#"{{"city": "{city}"}}"#),
        signature: None,
    };
    let result = |id: &str, text: &str| ContentBlock::ToolResult {
        tool_use_id: id.into(),
        content: vec![ContentBlock::text(text)],
        is_error: false,
    };
    let msgs = [
        Message::text(Role::User, "Weather in Paris and Rome?"),
        Message {
            role: Role::Assistant,
            content: vec![call("c1", "Paris"), call("c2", "Rome")],
            name: None,
        },
        Message {
            role: Role::Tool,
            content: vec![result("c1", "18C")],
            name: None,
        },
        Message {
            role: Role::Tool,
            content: vec![result("c2", "24C")],
            name: None,
        },
    ];
    assert_eq!(qwen().render(&msgs, &[tool]).unwrap(), expected("tools"));
}

#[test]
fn raise_exception_becomes_an_invalid_request() {
    let t = ChatTemplate::new(
        "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}",
        "",
        "",
    )
    .unwrap();
    let err = t
        .render(&[Message::text(Role::Assistant, "x")], &[])
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::InvalidRequest(m) if m.contains("must start with user")),
        "{err:?}"
    );
}

#[test]
fn python_string_methods_work() {
    let t = ChatTemplate::new("{{ messages[0].content.strip().upper() }}", "", "").unwrap();
    assert_eq!(
        t.render(&[Message::text(Role::User, "  hi ")], &[])
            .unwrap(),
        "HI"
    );
}

#[test]
fn images_are_refused_with_a_clear_error() {
    let msg = Message {
        role: Role::User,
        content: vec![ContentBlock::Image {
            source: switchyard_types::ImageSource::Url {
                url: "https://example.com/a.png".into(),
            },
            detail: None,
            cache_control: None,
        }],
        name: None,
    };
    let err = qwen().render(&[msg], &[]).unwrap_err();
    assert!(matches!(&err, EngineError::InvalidRequest(m) if m.contains("image")));
}

#[test]
fn templates_without_tool_support_get_tool_instructions() {
    let t = ChatTemplate::new(FALLBACK_TEMPLATE, "", "").unwrap();
    let tool = Tool {
        name: "f".into(),
        description: None,
        parameters: json!({"type": "object"}),
        strict: None,
        cache_control: None,
    };
    let out = t
        .render(&[Message::text(Role::User, "go")], &[tool])
        .unwrap();
    assert!(
        out.starts_with("<|im_start|>system\nYou may call functions."),
        "{out}"
    );
    assert!(out.contains(
        r#"{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}"#
    ));
}

#[test]
fn civil_dates() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(20_785), (2026, 11, 28));
}
