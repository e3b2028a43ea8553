//! Canonical request -> Ollama `/api/chat` body.
//!
//! Ollama takes one message per turn with plain-string content, images as bare base64 beside
//! it, tool calls with object arguments, and tool results as `role: "tool"` messages named
//! after their function. Sampling goes in `options` (`num_predict` is the output limit).

use serde_json::{json, Map, Value};
use switchyard_types::{ChatRequest, ContentBlock, ImageSource, ResponseFormat, Role, ToolChoice};

use crate::error::ProviderError;

pub fn chat_body(
    req: &ChatRequest,
    upstream_model: &str,
    stream: bool,
    host: &str,
) -> Result<Value, ProviderError> {
    let s = &req.sampling;
    if s.n.is_some_and(|n| n > 1) {
        return Err(unsupported(host, "n > 1"));
    }
    if s.logprobs || s.top_logprobs.is_some() || !s.logit_bias.is_empty() {
        return Err(unsupported(host, "logprobs and logit_bias"));
    }
    if matches!(
        req.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Named(_))
    ) {
        return Err(unsupported(host, "tool_choice required or a named tool"));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    let mut call_names: Vec<(String, String)> = Vec::new();
    for message in &req.messages {
        let role = match message.role {
            Role::System | Role::Developer => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        if message.role == Role::Tool {
            for block in &message.content {
                if let ContentBlock::ToolResult {
                    tool_use_id,
                    content,
                    ..
                } = block
                {
                    let name = call_names
                        .iter()
                        .rev()
                        .find(|(id, _)| id == tool_use_id)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_default();
                    messages.push(
                        json!({"role": "tool", "content": text_of(content), "tool_name": name}),
                    );
                }
            }
            continue;
        }
        let mut text = String::new();
        let mut thinking = String::new();
        let mut images = Vec::new();
        let mut tool_calls = Vec::new();
        for block in &message.content {
            match block {
                ContentBlock::Text { text: t, .. } | ContentBlock::Refusal { text: t } => {
                    text.push_str(t)
                }
                ContentBlock::Reasoning { text: t, .. } => thinking.push_str(t),
                ContentBlock::Image { source, .. } => match source {
                    ImageSource::Base64 { data, .. } => images.push(Value::String(data.clone())),
                    _ => {
                        return Err(unsupported(
                            host,
                            "image URLs and file references (send the image as base64)",
                        ))
                    }
                },
                ContentBlock::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => {
                    call_names.push((id.clone(), name.clone()));
                    let args = serde_json::from_str::<Value>(arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    tool_calls
                        .push(json!({"id": id, "function": {"name": name, "arguments": args}}));
                }
                ContentBlock::Audio { .. } | ContentBlock::Document { .. } => {
                    return Err(unsupported(host, "audio and document input"))
                }
                ContentBlock::RedactedReasoning { .. } | ContentBlock::ToolResult { .. } => {}
            }
        }
        let mut m = Map::new();
        m.insert("role".into(), json!(role));
        m.insert("content".into(), json!(text));
        if !thinking.is_empty() {
            m.insert("thinking".into(), json!(thinking));
        }
        if !images.is_empty() {
            m.insert("images".into(), Value::Array(images));
        }
        if !tool_calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        messages.push(Value::Object(m));
    }

    let mut options = Map::new();
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            options.insert(k.to_owned(), v);
        }
    };
    set("temperature", s.temperature.map(Value::from));
    set("top_p", s.top_p.map(Value::from));
    set("top_k", s.top_k.map(Value::from));
    set("min_p", s.min_p.map(Value::from));
    set("num_predict", s.max_output_tokens.map(Value::from));
    set("seed", s.seed.map(Value::from));
    set("repeat_penalty", s.repetition_penalty.map(Value::from));
    set("presence_penalty", s.presence_penalty.map(Value::from));
    set("frequency_penalty", s.frequency_penalty.map(Value::from));
    if !s.stop.is_empty() {
        options.insert("stop".into(), json!(s.stop));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(stream));
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    let tools_off = matches!(req.tool_choice, Some(ToolChoice::None));
    if !req.tools.is_empty() && !tools_off {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {"name": t.name,
                "description": t.description, "parameters": t.parameters}})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            body.insert("format".into(), json!("json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            body.insert("format".into(), schema.clone());
        }
    }
    if let Some(r) = &req.reasoning {
        let think = match (r.enabled, r.effort.as_deref()) {
            (Some(false), _) | (_, Some("none")) => json!(false),
            (_, Some(level @ ("low" | "medium" | "high"))) => json!(level),
            _ => json!(true),
        };
        body.insert("think".into(), think);
    }
    if let Some(Value::Object(extra)) = req.provider_options.get("ollama") {
        for (k, v) in extra {
            body.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(body))
}

fn text_of(content: &[ContentBlock]) -> String {
    content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn unsupported(host: &str, feature: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "the upstream `{host}` (Ollama) does not support {feature}; remove it from the request or route to another deployment"
    ))
}
