//! Canonical request -> Gemini `generateContent` body.
//!
//! System and developer messages become `systemInstruction` (later ones a note in the user's
//! turn); tool results become `functionResponse` parts in a `user` turn, named after the call
//! they answer and wrapped as `{"output": ...}` / `{"error": ...}`; adjacent turns of one
//! role are merged. Image URLs cannot be passed to Gemini (it takes inline data or its own
//! file URIs) and are declined with a 400, as are features Gemini lacks.

use serde_json::{json, Value};
use switchyard_types::{
    ChatRequest, ContentBlock, ImageSource, Message, ResponseFormat, Role, ToolChoice,
};
use switchyard_wire_gemini as wire;

use crate::error::ProviderError;

pub fn generate_body(
    req: &ChatRequest,
    host: &str,
) -> Result<wire::GenerateContentRequest, ProviderError> {
    let s = &req.sampling;
    if s.n.is_some_and(|n| n > 1) {
        return Err(unsupported(host, "n > 1"));
    }
    if s.repetition_penalty.is_some() || s.min_p.is_some() || !s.logit_bias.is_empty() {
        return Err(unsupported(
            host,
            "repetition_penalty, min_p and logit_bias",
        ));
    }
    if s.logprobs || s.top_logprobs.is_some() {
        return Err(unsupported(host, "logprobs"));
    }
    let (system, contents) = conversation(&req.messages, host)?;
    let tools = (!req.tools.is_empty()).then(|| {
        vec![wire::ToolDef {
            function_declarations: Some(
                req.tools
                    .iter()
                    .map(|t| wire::FunctionDeclaration {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        parameters: None,
                        parameters_json_schema: Some(t.parameters.clone()),
                        response: None,
                        response_json_schema: None,
                        behavior: None,
                    })
                    .collect(),
            ),
            ..Default::default()
        }]
    });
    let tool_config = match (&req.tool_choice, tools.is_some()) {
        (Some(choice), true) => {
            let (mode, names) = match choice {
                ToolChoice::Auto => ("AUTO", None),
                ToolChoice::None => ("NONE", None),
                ToolChoice::Required => ("ANY", None),
                ToolChoice::Named(name) => ("ANY", Some(vec![name.clone()])),
            };
            Some(wire::ToolConfig {
                function_calling_config: Some(wire::FunctionCallingConfig {
                    mode: Some(mode.to_owned()),
                    allowed_function_names: names,
                    stream_function_call_arguments: None,
                }),
                retrieval_config: None,
            })
        }
        _ => None,
    };
    let (response_mime_type, response_json_schema) = match &req.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json".to_owned()), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            (Some("application/json".to_owned()), Some(schema.clone()))
        }
    };
    let thinking_config = req.reasoning.as_ref().map(|r| {
        let off = r.enabled == Some(false) || r.effort.as_deref() == Some("none");
        wire::ThinkingConfig {
            include_thoughts: (!off).then_some(true),
            thinking_budget: if off {
                Some(0)
            } else {
                r.budget_tokens.map(i64::from)
            },
            thinking_level: if off {
                None
            } else {
                r.effort.as_ref().map(|e| match e.as_str() {
                    "minimal" | "low" => "LOW".to_owned(),
                    "medium" => "MEDIUM".to_owned(),
                    _ => "HIGH".to_owned(),
                })
            },
        }
    });
    let generation_config = wire::GenerationConfig {
        temperature: s.temperature,
        top_p: s.top_p,
        top_k: s.top_k.map(f64::from),
        candidate_count: None,
        max_output_tokens: s.max_output_tokens,
        stop_sequences: (!s.stop.is_empty()).then(|| s.stop.clone()),
        presence_penalty: s.presence_penalty,
        frequency_penalty: s.frequency_penalty,
        seed: s.seed,
        response_mime_type,
        response_schema: None,
        response_json_schema,
        response_logprobs: None,
        logprobs: None,
        thinking_config,
        response_modalities: None,
        media_resolution: None,
        speech_config: None,
    };
    Ok(wire::GenerateContentRequest {
        model: None,
        contents,
        system_instruction: system,
        tools,
        tool_config,
        safety_settings: None,
        generation_config: Some(generation_config),
        cached_content: None,
        labels: None,
    })
}

fn conversation(
    messages: &[Message],
    host: &str,
) -> Result<(Option<wire::Content>, Vec<wire::Content>), ProviderError> {
    let mut system = Vec::new();
    let mut contents: Vec<wire::Content> = Vec::new();
    // Tool call id -> name, for the responses that answer them.
    let mut call_names: Vec<(String, String)> = Vec::new();
    for message in messages {
        let (role, parts) = match message.role {
            Role::System | Role::Developer if contents.is_empty() => {
                system.extend(message.content.iter().filter_map(|b| match b {
                    ContentBlock::Text { text, .. } if !text.is_empty() => Some(text_part(text)),
                    _ => None,
                }));
                continue;
            }
            Role::System | Role::Developer => (
                "user",
                vec![text_part(&format!(
                    "[System instruction] {}",
                    message.joined_text()
                ))],
            ),
            Role::User => ("user", user_parts(&message.content, host)?),
            Role::Tool => {
                let mut parts = Vec::new();
                for block in &message.content {
                    if let ContentBlock::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } = block
                    {
                        let name = call_names
                            .iter()
                            .rev()
                            .find(|(id, _)| id == tool_use_id)
                            .map(|(_, n)| n.clone())
                            .ok_or_else(|| {
                                ProviderError::unsupported(format!(
                                    "a tool result answers call `{tool_use_id}`, which is not in the conversation; Gemini needs the function's name"
                                ))
                            })?;
                        let text: String = content
                            .iter()
                            .filter_map(|b| match b {
                                ContentBlock::Text { text, .. } => Some(text.as_str()),
                                _ => None,
                            })
                            .collect();
                        let key = if *is_error { "error" } else { "output" };
                        let value = serde_json::from_str::<Value>(&text)
                            .ok()
                            .filter(Value::is_object)
                            .unwrap_or(Value::String(text));
                        parts.push(wire::Part {
                            function_response: Some(wire::FunctionResponse {
                                id: Some(tool_use_id.clone()),
                                name,
                                response: json!({ key: value }),
                            }),
                            ..Default::default()
                        });
                    }
                }
                ("user", parts)
            }
            Role::Assistant => {
                let mut parts = Vec::new();
                for block in &message.content {
                    match block {
                        ContentBlock::Text { text, .. } | ContentBlock::Refusal { text }
                            if !text.is_empty() =>
                        {
                            parts.push(text_part(text))
                        }
                        ContentBlock::ToolUse {
                            id,
                            name,
                            arguments,
                            signature,
                        } => {
                            call_names.push((id.clone(), name.clone()));
                            let args = serde_json::from_str::<Value>(arguments)
                                .ok()
                                .filter(Value::is_object)
                                .unwrap_or_else(|| json!({}));
                            parts.push(wire::Part {
                                function_call: Some(wire::FunctionCall {
                                    id: Some(id.clone()),
                                    name: name.clone(),
                                    args: Some(args),
                                }),
                                thought_signature: signature.clone(),
                                ..Default::default()
                            });
                        }
                        // Only Gemini's own (signed) thoughts can go back.
                        ContentBlock::Reasoning {
                            text,
                            signature: Some(signature),
                        } => parts.push(wire::Part {
                            text: Some(text.clone()),
                            thought: Some(true),
                            thought_signature: Some(signature.clone()),
                            ..Default::default()
                        }),
                        _ => {}
                    }
                }
                ("model", parts)
            }
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
            _ => contents.push(wire::Content {
                role: Some(role.to_owned()),
                parts,
            }),
        }
    }
    let system = (!system.is_empty()).then(|| wire::Content {
        role: None,
        parts: system,
    });
    Ok((system, contents))
}

fn user_parts(content: &[ContentBlock], host: &str) -> Result<Vec<wire::Part>, ProviderError> {
    let mut parts = Vec::new();
    for block in content {
        let part = match block {
            ContentBlock::Text { text, .. } => {
                if text.is_empty() {
                    continue;
                }
                text_part(text)
            }
            ContentBlock::Image { source, .. } | ContentBlock::Document { source, .. } => {
                media_part(source, host)?
            }
            ContentBlock::Audio { data, format } => wire::Part {
                inline_data: Some(wire::Blob {
                    mime_type: format!("audio/{format}"),
                    data: data.clone(),
                }),
                ..Default::default()
            },
            _ => continue,
        };
        parts.push(part);
    }
    Ok(parts)
}

fn media_part(source: &ImageSource, host: &str) -> Result<wire::Part, ProviderError> {
    Ok(match source {
        ImageSource::Base64 { media_type, data } => wire::Part {
            inline_data: Some(wire::Blob {
                mime_type: media_type.clone(),
                data: data.clone(),
            }),
            ..Default::default()
        },
        ImageSource::FileRef { uri, media_type } => wire::Part {
            file_data: Some(wire::FileData {
                mime_type: media_type.clone(),
                file_uri: uri.clone(),
            }),
            ..Default::default()
        },
        ImageSource::Url { .. } => {
            return Err(unsupported(
                host,
                "image and file URLs (send the data inline as base64, or a Gemini file URI)",
            ))
        }
    })
}

fn text_part(text: &str) -> wire::Part {
    wire::Part {
        text: Some(text.to_owned()),
        ..Default::default()
    }
}

fn unsupported(host: &str, feature: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "the upstream `{host}` (Gemini) does not support {feature}; remove it from the request or route to another deployment"
    ))
}
