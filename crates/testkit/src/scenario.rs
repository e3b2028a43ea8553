//! What every mock provider answers, decided the same way for all of them from what the
//! request asked for (each mock reads its own wire format into an [`Ask`] and writes the
//! [`Plan`] back in its own format). This is what lets one conformance table check every
//! front door against every provider:
//!
//! 1. tool results after the last assistant turn: the text `Tool results: A; B`;
//! 2. tools offered (and not forbidden): a call to each (parallel calls when several), with
//!    arguments `{"location": "Paris"}`;
//! 3. images: the text `I see N image(s) of B bytes.` (the decoded size of the first);
//! 4. a JSON schema asked for: the text `{"location":"Paris"}`;
//! 5. otherwise the mock's greeting, cut to 3 words with a length stop when at most 3 tokens
//!    are allowed, or before the first stop sequence it contains with a stop-sequence stop.

use serde_json::{json, Value};

/// What a request asked for, read from any provider's format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ask {
    pub stop: Vec<String>,
    pub max_tokens: Option<u64>,
    /// Names of the tools the model may call (empty when none or forbidden).
    pub tools: Vec<String>,
    /// Text of each tool result after the last assistant turn.
    pub tool_results: Vec<String>,
    /// Base64 payload of each image.
    pub images: Vec<String>,
    pub json_schema: bool,
}

/// Why the answer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    End,
    /// A stop sequence matched (the sequence).
    Stop(String),
    Length,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Text { text: String, finish: Finish },
    Calls(Vec<Call>),
}

/// The answer to `ask`; `greeting` is the mock's default text, `id_prefix` starts call ids.
pub fn plan(ask: &Ask, greeting: &str, id_prefix: &str) -> Plan {
    let end = |text: String| Plan::Text {
        text,
        finish: Finish::End,
    };
    if !ask.tool_results.is_empty() {
        return end(format!("Tool results: {}", ask.tool_results.join("; ")));
    }
    if !ask.tools.is_empty() {
        return Plan::Calls(
            ask.tools
                .iter()
                .take(4)
                .enumerate()
                .map(|(i, name)| Call {
                    id: format!("{id_prefix}{}", i + 1),
                    name: name.clone(),
                    arguments: json!({"location": "Paris"}),
                })
                .collect(),
        );
    }
    if let Some(first) = ask.images.first() {
        return end(format!(
            "I see {} image(s) of {} bytes.",
            ask.images.len(),
            base64_len(first)
        ));
    }
    if ask.json_schema {
        return end("{\"location\":\"Paris\"}".to_owned());
    }
    if ask.max_tokens.is_some_and(|m| m <= 3) {
        let text: String = greeting.split_inclusive(' ').take(3).collect();
        return Plan::Text {
            text,
            finish: Finish::Length,
        };
    }
    for stop in ask.stop.iter().filter(|s| !s.is_empty()) {
        if let Some(at) = greeting.find(stop.as_str()) {
            return Plan::Text {
                text: greeting[..at].to_owned(),
                finish: Finish::Stop(stop.clone()),
            };
        }
    }
    end(greeting.to_owned())
}

/// The decoded length of base64 text (a data URL's payload or plain base64).
fn base64_len(data: &str) -> usize {
    let data = data.rsplit(',').next().unwrap_or(data).trim();
    let padding = data.bytes().rev().take_while(|b| *b == b'=').count();
    (data.len() / 4) * 3 - padding.min(2)
}

/// The pieces a streamed text is sent in.
pub fn pieces(text: &str) -> Vec<&str> {
    let pieces: Vec<&str> = text.split_inclusive(' ').collect();
    if pieces.is_empty() {
        vec![""]
    } else {
        pieces
    }
}

/// Strings of a JSON value that is a string or an array of strings.
pub fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The text of a tool result's content in the usual shapes: a string, a list of text parts
/// (`{"text": ...}`, `{"type": "text", "text": ...}`), an object with one field (Gemini's
/// `{"result": ...}`), JSON text of any of these, or any other JSON (as compact JSON).
pub fn result_text(content: &Value) -> String {
    match content {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(parsed @ (Value::Object(_) | Value::Array(_))) => result_text(&parsed),
            _ => s.clone(),
        },
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p.get("text").filter(|t| t.is_string()) {
                Some(t) => result_text(t),
                None => match p.get("json") {
                    Some(j) => result_text(j),
                    None => result_text(p),
                },
            })
            .collect::<Vec<_>>()
            .join(""),
        Value::Null => String::new(),
        Value::Object(fields) if fields.len() == 1 => {
            fields.values().next().map(result_text).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// Messages after the last one whose role is `assistant_role`.
pub fn after_last<'a>(messages: &'a [Value], role_key: &str, assistant_role: &str) -> &'a [Value] {
    let start = messages
        .iter()
        .rposition(|m| m[role_key] == assistant_role)
        .map_or(0, |i| i + 1);
    &messages[start..]
}
