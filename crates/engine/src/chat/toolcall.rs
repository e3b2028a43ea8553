//! Tool calls in generated text: the `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
//! convention (Qwen, Hermes and the instructions this engine gives templates without tool
//! support). Parsed incrementally so a streamed answer yields each call as soon as its closing
//! tag arrives, while plain text flows through unchanged.
//!
//! Small models often drop the tags and answer with the bare JSON object. An answer that
//! starts with `{` is therefore held back until it ends; if it is nothing but one or more
//! `{"name": <an offered tool>, "arguments": ...}` objects, those are the calls, otherwise it
//! is released as text.

use serde_json::Value;

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// A piece of parsed output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    ToolCall { name: String, arguments: String },
}

/// Splits streamed text into plain text and tool calls.
#[derive(Debug, Default)]
pub struct ToolCallParser {
    buf: String,
    in_call: bool,
    /// Names of the offered tools (for recognising bare JSON calls).
    tools: Vec<String>,
    /// Nothing but whitespace has been seen yet.
    at_start: bool,
    /// The answer started with `{`: everything is held until the end.
    bare_json: bool,
}

impl ToolCallParser {
    pub fn new(tools: Vec<String>) -> Self {
        Self {
            tools,
            at_start: true,
            ..Self::default()
        }
    }

    pub fn push(&mut self, text: &str, out: &mut Vec<Piece>) {
        self.buf.push_str(text);
        if self.bare_json {
            return;
        }
        if self.at_start {
            match self.buf.trim_start().chars().next() {
                None => return,
                Some('{') => {
                    self.bare_json = true;
                    return;
                }
                Some(_) => self.at_start = false,
            }
        }
        loop {
            if self.in_call {
                let Some(end) = self.buf.find(CLOSE) else {
                    return;
                };
                let body: String = self.buf[..end].to_owned();
                self.buf.drain(..end + CLOSE.len());
                self.in_call = false;
                out.push(
                    parse_call(&body)
                        .unwrap_or_else(|| Piece::Text(format!("{OPEN}{body}{CLOSE}"))),
                );
            } else if let Some(start) = self.buf.find(OPEN) {
                let before = self.buf[..start].to_owned();
                push_text(out, before);
                self.buf.drain(..start + OPEN.len());
                self.in_call = true;
            } else {
                let keep = partial_prefix(&self.buf, OPEN);
                let cut = self.buf.len() - keep;
                let text = self.buf[..cut].to_owned();
                self.buf.drain(..cut);
                push_text(out, text);
                return;
            }
        }
    }

    /// End of generation: an unclosed call is still a call if its JSON is complete (models
    /// often stop right after the JSON); anything else is text.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        let rest = std::mem::take(&mut self.buf);
        if self.bare_json {
            self.bare_json = false;
            match self.bare_calls(&rest) {
                Some(calls) => out.extend(calls),
                None => push_text(out, rest),
            }
        } else if self.in_call {
            self.in_call = false;
            out.push(parse_call(&rest).unwrap_or_else(|| Piece::Text(format!("{OPEN}{rest}"))));
        } else {
            push_text(out, rest);
        }
    }
}

impl ToolCallParser {
    /// The whole answer as a sequence of bare JSON calls to offered tools, if it is one.
    fn bare_calls(&self, text: &str) -> Option<Vec<Piece>> {
        let mut calls = Vec::new();
        for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            let call = parse_call(&value.ok()?.to_string())?;
            match &call {
                Piece::ToolCall { name, .. } if self.tools.contains(name) => calls.push(call),
                _ => return None,
            }
        }
        (!calls.is_empty()).then_some(calls)
    }
}

fn push_text(out: &mut Vec<Piece>, text: String) {
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
}

fn parse_call(body: &str) -> Option<Piece> {
    let value: Value = serde_json::from_str(body.trim()).ok()?;
    let name = value.get("name")?.as_str()?.to_owned();
    let arguments = match value.get("arguments").or_else(|| value.get("parameters")) {
        None | Some(Value::Null) => "{}".to_owned(),
        // Some models emit the arguments as a JSON string; keep its content.
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    Some(Piece::ToolCall { name, arguments })
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_prefix(text: &str, tag: &str) -> usize {
    let max = (tag.len() - 1).min(text.len());
    (1..=max)
        .rev()
        .find(|&len| {
            let start = text.len() - len;
            text.is_char_boundary(start) && tag.starts_with(&text[start..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pieces: &[&str]) -> Vec<Piece> {
        let mut p = ToolCallParser::new(vec!["f".into(), "get_weather".into(), "get_time".into()]);
        let mut out = Vec::new();
        for piece in pieces {
            p.push(piece, &mut out);
        }
        p.finish(&mut out);
        // Merge adjacent text for easy comparison.
        let mut merged: Vec<Piece> = Vec::new();
        for piece in out {
            match (merged.last_mut(), piece) {
                (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                (_, p) => merged.push(p),
            }
        }
        merged
    }

    fn call(name: &str, args: &str) -> Piece {
        Piece::ToolCall {
            name: name.into(),
            arguments: args.into(),
        }
    }

    #[test]
    fn text_only_passes_through() {
        assert_eq!(
            parse(&["Hello ", "<b>world</b>"]),
            vec![Piece::Text("Hello <b>world</b>".into())]
        );
    }

    #[test]
    fn calls_split_across_tokens_are_assembled() {
        let out = parse(&[
            "<tool",
            "_call>\n{\"name\": \"get_weather\", \"argu",
            "ments\": {\"city\": \"Paris\"}}\n</tool_",
            "call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
        ]);
        assert_eq!(
            out,
            vec![
                call("get_weather", r#"{"city":"Paris"}"#),
                Piece::Text("\n".into()),
                call("get_time", "{}"),
            ]
        );
    }

    #[test]
    fn text_before_a_call_is_kept() {
        let out = parse(&[
            "Let me check.",
            "<tool_call>{\"name\":\"f\",\"arguments\":{\"a\":1}}</tool_call>",
        ]);
        assert_eq!(
            out,
            vec![Piece::Text("Let me check.".into()), call("f", r#"{"a":1}"#)]
        );
    }

    #[test]
    fn unclosed_call_with_complete_json_is_a_call() {
        assert_eq!(
            parse(&["<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": \"y\"}}\n"]),
            vec![call("f", r#"{"x":"y"}"#)]
        );
    }

    #[test]
    fn broken_json_is_kept_as_text_not_lost() {
        assert_eq!(
            parse(&["<tool_call>{not json</tool_call>"]),
            vec![Piece::Text("<tool_call>{not json</tool_call>".into())]
        );
        assert_eq!(
            parse(&["<tool_call>{\"na"]),
            vec![Piece::Text("<tool_call>{\"na".into())]
        );
    }

    #[test]
    fn string_arguments_are_unwrapped() {
        assert_eq!(
            parse(&[r#"<tool_call>{"name":"f","arguments":"{\"a\": 2}"}</tool_call>"#]),
            vec![call("f", r#"{"a": 2}"#)]
        );
    }

    #[test]
    fn bare_json_calls_to_offered_tools_are_calls() {
        assert_eq!(
            parse(&[
                " {\"name\": \"get_weather\", ",
                "\"arguments\": {\"city\": \"Paris\"}}\n{\"name\": \"f\", \"arguments\": {}}"
            ]),
            vec![call("get_weather", r#"{"city":"Paris"}"#), call("f", "{}")]
        );
    }

    #[test]
    fn bare_json_that_is_not_a_call_stays_text() {
        let json = r#"{"name": "unknown_tool", "arguments": {}}"#;
        assert_eq!(parse(&[json]), vec![Piece::Text(json.into())]);
        assert_eq!(
            parse(&[r#"{"a": 1} and more"#]),
            vec![Piece::Text(r#"{"a": 1} and more"#.into())]
        );
    }

    #[test]
    fn a_lone_angle_bracket_at_the_end_is_released() {
        assert_eq!(parse(&["a <", "tool"]), vec![Piece::Text("a <tool".into())]);
    }
}
