//! Chat templates: the Jinja template a model ships in its GGUF metadata
//! (`tokenizer.chat_template`), rendered with minijinja the way Hugging Face `transformers`
//! renders it (Python string methods, `tojson` with Python's separators, `raise_exception`).
//!
//! Canonical messages become the plain `{role, content, tool_calls}` dictionaries those
//! templates expect; tools become `{type: "function", function: {...}}`.

use minijinja::value::Serde;
use minijinja::{Environment, Error as JinjaError, ErrorKind, Value};
use serde::Serialize;
use serde_json::{json, Value as Json};
use switchyard_types::{ContentBlock, Message, Role, Tool};

use crate::EngineError;

/// The template used when a model ships none (base models): ChatML, the most common format.
pub const FALLBACK_TEMPLATE: &str = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/// A compiled chat template plus the special tokens it may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    /// Whether the template renders tools (it mentions `tools`); otherwise tools are
    /// described in a system message.
    pub supports_tools: bool,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("supports_tools", &self.supports_tools)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token`/`eos_token` are the model's special token texts.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, EngineError> {
        let mut env = Environment::new();
        // As transformers configures Jinja for chat templates.
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| EngineError::Template(e.to_string()))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", tojson);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned("chat", source.to_owned())
            .map_err(|e| {
                EngineError::Template(format!("the model's chat template does not compile: {e}"))
            })?;
        Ok(Self {
            env,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
            supports_tools: source.contains("tools"),
        })
    }

    /// Renders the conversation, ending with the assistant's turn opener.
    pub fn render(&self, messages: &[Message], tools: &[Tool]) -> Result<String, EngineError> {
        let mut msgs = template_messages(messages)?;
        let tools_json: Vec<Json> = tools.iter().map(tool_json).collect();
        if !tools.is_empty() && !self.supports_tools {
            prepend_tool_instructions(&mut msgs, &tools_json);
        }
        let tmpl = self
            .env
            .get_template("chat")
            .map_err(|e| EngineError::Template(e.to_string()))?;
        let tools_value = if tools_json.is_empty() {
            Value::from(())
        } else {
            Value::from(Serde(&tools_json))
        };
        tmpl.render(minijinja::context! {
            messages => Value::from(Serde(&msgs)),
            tools => tools_value,
            add_generation_prompt => true,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
        })
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidOperation => EngineError::InvalidRequest(format!(
                "the model's chat template rejected the conversation: {}",
                e.detail().unwrap_or("invalid conversation")
            )),
            _ => EngineError::Template(format!("rendering the chat template failed: {e}")),
        })
    }
}

#[derive(Serialize)]
struct TemplateMessage {
    role: &'static str,
    content: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// Canonical messages → template dictionaries. Tool results become `tool` messages (one per
/// result, in order); images, audio and documents cannot be shown to a text model.
fn template_messages(messages: &[Message]) -> Result<Vec<TemplateMessage>, EngineError> {
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let role = match message.role {
            Role::System | Role::Developer => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in &message.content {
            match block {
                ContentBlock::Text { text: t, .. } => text.push_str(t),
                ContentBlock::Refusal { text: t } => text.push_str(t),
                ContentBlock::Reasoning { .. } | ContentBlock::RedactedReasoning { .. } => {}
                ContentBlock::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => {
                    let args: Json =
                        serde_json::from_str(arguments).unwrap_or(Json::String(arguments.clone()));
                    tool_calls.push(json!({
                        "id": id,
                        "type": "function",
                        "function": {"name": name, "arguments": args},
                    }));
                }
                ContentBlock::ToolResult {
                    tool_use_id,
                    content,
                    ..
                } => {
                    out.push(TemplateMessage {
                        role: "tool",
                        content: Message {
                            role: Role::Tool,
                            content: content.clone(),
                            name: None,
                        }
                        .joined_text(),
                        tool_calls: Vec::new(),
                        tool_call_id: Some(tool_use_id.clone()),
                        name: None,
                    });
                }
                ContentBlock::Image { .. } => return Err(unsupported("image input")),
                ContentBlock::Audio { .. } => return Err(unsupported("audio input")),
                ContentBlock::Document { .. } => return Err(unsupported("document input")),
            }
        }
        let only_results = message
            .content
            .iter()
            .all(|b| matches!(b, ContentBlock::ToolResult { .. }));
        if only_results && !message.content.is_empty() {
            continue;
        }
        out.push(TemplateMessage {
            role,
            content: text,
            tool_calls,
            tool_call_id: None,
            name: message.name.clone(),
        });
    }
    Ok(out)
}

fn unsupported(what: &str) -> EngineError {
    EngineError::InvalidRequest(format!("{what} is not supported by the local text models"))
}

fn tool_json(tool: &Tool) -> Json {
    // Key order as OpenAI clients send it: the model sees the same text transformers renders.
    let mut function = serde_json::Map::new();
    function.insert("name".into(), Json::String(tool.name.clone()));
    if let Some(d) = &tool.description {
        function.insert("description".into(), Json::String(d.clone()));
    }
    function.insert("parameters".into(), tool.parameters.clone());
    json!({"type": "function", "function": function})
}

/// For templates that do not render tools: describe them in (or as) the system message using
/// the same `<tool_call>` convention the parser understands.
fn prepend_tool_instructions(msgs: &mut Vec<TemplateMessage>, tools: &[Json]) {
    let mut text = String::from(
        "You may call functions. Their signatures are within <tools></tools>:\n<tools>",
    );
    for tool in tools {
        text.push('\n');
        text.push_str(&python_json(tool));
    }
    text.push_str("\n</tools>\nTo call a function, answer with <tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
    match msgs.first_mut() {
        Some(first) if first.role == "system" => {
            first.content = format!("{}\n\n{text}", first.content);
        }
        _ => msgs.insert(
            0,
            TemplateMessage {
                role: "system",
                content: text,
                tool_calls: Vec::new(),
                tool_call_id: None,
                name: None,
            },
        ),
    }
}

/// `tojson` as `transformers` defines it: `json.dumps(x, ensure_ascii=False)` with Python's
/// default separators (`", "`, `": "`), optional `indent`, no HTML escaping.
fn tojson(value: Value, kwargs: minijinja::value::Kwargs) -> Result<Value, JinjaError> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json: Json = serde_json::to_value(&value)
        .map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    let text = match indent {
        Some(n) => {
            let pad = " ".repeat(n);
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            json.serialize(&mut ser).map_err(|e| {
                JinjaError::new(ErrorKind::InvalidOperation, format!("tojson: {e}"))
            })?;
            String::from_utf8_lossy(&buf).into_owned()
        }
        None => python_json(&json),
    };
    Ok(Value::from_safe_string(text))
}

/// JSON text with Python's default separators.
pub(crate) fn python_json(value: &Json) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, PythonFormatter);
    // Serialising a `serde_json::Value` into a Vec cannot fail.
    let _ = value.serialize(&mut ser);
    String::from_utf8_lossy(&buf).into_owned()
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        comma(w, first)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        comma(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// Python's item separator, before every item but the first.
fn comma<W: ?Sized + std::io::Write>(w: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        w.write_all(b", ")
    }
}

fn raise_exception(message: String) -> Result<Value, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

fn strftime_now(format: String) -> String {
    // Templates use this for "today's date" lines; a fixed, locale-free rendering of the
    // current UTC date keeps prompts deterministic within a day.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month_name = MONTHS
        .get((m as usize).saturating_sub(1))
        .copied()
        .unwrap_or("January");
    format
        .replace("%Y", &y.to_string())
        .replace("%m", &format!("{m:02}"))
        .replace("%d", &format!("{d:02}"))
        .replace("%B", month_name)
        .replace("%b", &month_name[..3])
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
