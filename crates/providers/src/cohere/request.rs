//! Canonical request -> Cohere v2 `/v2/chat` body.
//!
//! OpenAI-like messages (string tool arguments, one `tool` message per result) with Cohere's
//! names: `k`/`p` for top-k/top-p, `stop_sequences`, `tool_choice` only `REQUIRED`/`NONE`,
//! `response_format: json_object` with an optional `json_schema`.

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
    if s.min_p.is_some() || s.repetition_penalty.is_some() || !s.logit_bias.is_empty() {
        return Err(unsupported(
            host,
            "min_p, repetition_penalty and logit_bias",
        ));
    }
    if s.top_logprobs.is_some() {
        return Err(unsupported(host, "top_logprobs"));
    }
    if matches!(req.tool_choice, Some(ToolChoice::Named(_))) {
        return Err(unsupported(
            host,
            "a named tool_choice (only required or none)",
        ));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for message in &req.messages {
        match message.role {
            Role::System | Role::Developer => {
                messages.push(json!({"role": "system", "content": message.joined_text()}))
            }
            Role::User => {
                let mut parts = Vec::new();
                for block in &message.content {
                    match block {
                        ContentBlock::Text { text, .. } => {
                            parts.push(json!({"type": "text", "text": text}))
                        }
                        ContentBlock::Image { source, .. } => {
                            let url = match source {
                                ImageSource::Url { url } => url.clone(),
                                ImageSource::Base64 { media_type, data } => {
                                    format!("data:{media_type};base64,{data}")
                                }
                                ImageSource::FileRef { .. } => {
                                    return Err(unsupported(host, "file references"))
                                }
                            };
                            parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
                        }
                        ContentBlock::Audio { .. } | ContentBlock::Document { .. } => {
                            return Err(unsupported(host, "audio and document input"))
                        }
                        _ => {}
                    }
                }
                messages.push(json!({"role": "user", "content": parts}));
            }
            Role::Assistant => {
                let mut m = Map::new();
                m.insert("role".into(), json!("assistant"));
                let text: String = message
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::Text { text, .. } | ContentBlock::Refusal { text } => {
                            Some(text.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                let calls: Vec<Value> = message
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::ToolUse {
                            id,
                            name,
                            arguments,
                            ..
                        } => Some(json!({"id": id, "type": "function",
                                         "function": {"name": name, "arguments": arguments}})),
                        _ => None,
                    })
                    .collect();
                if !text.is_empty() {
                    m.insert("content".into(), json!(text));
                }
                if !calls.is_empty() {
                    m.insert("tool_calls".into(), Value::Array(calls));
                }
                messages.push(Value::Object(m));
            }
            Role::Tool => {
                for block in &message.content {
                    if let ContentBlock::ToolResult {
                        tool_use_id,
                        content,
                        ..
                    } = block
                    {
                        let text: String = content
                            .iter()
                            .filter_map(|b| match b {
                                ContentBlock::Text { text, .. } => Some(text.as_str()),
                                _ => None,
                            })
                            .collect();
                        messages.push(
                            json!({"role": "tool", "tool_call_id": tool_use_id, "content": text}),
                        );
                    }
                }
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(stream));
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body.insert(k.to_owned(), v);
        }
    };
    set("temperature", s.temperature.map(Value::from));
    set("p", s.top_p.map(Value::from));
    set("k", s.top_k.map(Value::from));
    set("max_tokens", s.max_output_tokens.map(Value::from));
    set("seed", s.seed.map(Value::from));
    set("frequency_penalty", s.frequency_penalty.map(Value::from));
    set("presence_penalty", s.presence_penalty.map(Value::from));
    set("logprobs", s.logprobs.then_some(json!(true)));
    if !s.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(s.stop));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {"name": t.name,
                "description": t.description, "parameters": t.parameters}})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        match req.tool_choice {
            Some(ToolChoice::Required) => {
                body.insert("tool_choice".into(), json!("REQUIRED"));
            }
            Some(ToolChoice::None) => {
                body.insert("tool_choice".into(), json!("NONE"));
            }
            _ => {}
        }
    }
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            body.insert(
                "response_format".into(),
                json!({"type": "json_object", "json_schema": schema}),
            );
        }
    }
    if let Some(r) = &req.reasoning {
        let thinking = if r.enabled == Some(false) || r.effort.as_deref() == Some("none") {
            json!({"type": "disabled"})
        } else {
            let mut t = json!({"type": "enabled"});
            if let Some(b) = r.budget_tokens {
                t["token_budget"] = json!(b);
            }
            t
        };
        body.insert("thinking".into(), thinking);
    }
    Ok(Value::Object(body))
}

fn unsupported(host: &str, feature: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "the upstream `{host}` (Cohere) does not support {feature}; remove it from the request or route to another deployment"
    ))
}
