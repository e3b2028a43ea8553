//! Canonical request -> Bedrock Converse request body.
//!
//! The rules of `reference/apis.md` §8 for Converse: leading system and developer messages
//! become `system` blocks (later ones a note in the user's turn); tool results go back
//! inside a user turn, first; adjacent turns of the same role are merged; empty text is never
//! sent; tool ids are made to fit Bedrock's `[a-zA-Z0-9_-]{1,64}` the same way on a call and
//! on its result; a cache mark becomes a `cachePoint` after its block. Model-native fields
//! (`provider_options.bedrock`, `top_k`, Claude's thinking) travel in
//! `additionalModelRequestFields`. What Converse cannot express is a 400 naming the feature.

use serde_json::{Map, Value};
use switchyard_types::{
    CacheControl, ChatRequest, ContentBlock, ImageSource, Message, ResponseFormat, Role, ToolChoice,
};
use switchyard_wire_bedrock as wire;

use crate::error::ProviderError;
use crate::upstream::tool_id_chars;

/// Builds the upstream body. `model_id` is the Bedrock model or inference-profile id.
pub fn converse_body(
    req: &ChatRequest,
    model_id: &str,
    host: &str,
) -> Result<wire::ConverseRequest, ProviderError> {
    let unsupported = |feature: &str| unsupported(host, feature);
    let s = &req.sampling;
    if s.frequency_penalty.is_some() || s.presence_penalty.is_some() {
        return Err(unsupported("frequency_penalty and presence_penalty"));
    }
    if s.repetition_penalty.is_some() || s.min_p.is_some() {
        return Err(unsupported("repetition_penalty and min_p"));
    }
    if !s.logit_bias.is_empty() || s.logprobs || s.top_logprobs.is_some() {
        return Err(unsupported("logprobs and logit_bias"));
    }
    if s.seed.is_some() {
        return Err(unsupported("seed"));
    }
    if s.n.is_some_and(|n| n > 1) {
        return Err(unsupported("n > 1"));
    }
    if req.parallel_tool_calls == Some(false) {
        return Err(unsupported("parallel_tool_calls = false"));
    }
    let claude = is_claude(model_id);
    let mut additional = match req.provider_options.get("bedrock") {
        None => Map::new(),
        Some(Value::Object(fields)) => fields.clone(),
        Some(_) => {
            return Err(ProviderError::unsupported(
                "provider_options.bedrock (additionalModelRequestFields) must be a JSON object",
            ))
        }
    };
    if let Some(k) = s.top_k {
        if claude {
            additional.insert("top_k".to_owned(), Value::from(k));
        } else if model_id.contains("amazon.nova") {
            additional
                .entry("inferenceConfig")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .map(|o| o.insert("topK".to_owned(), Value::from(k)));
        } else {
            return Err(unsupported(
                "top_k for this model (send it in additionalModelRequestFields)",
            ));
        }
    }
    let mut thinking_budget = None;
    if let Some(r) = &req.reasoning {
        let off = r.enabled == Some(false) || r.effort.as_deref() == Some("none");
        let asked = r.enabled == Some(true) || r.budget_tokens.is_some() || r.effort.is_some();
        if asked && !off {
            if !claude {
                return Err(unsupported(
                    "reasoning settings for this model (send them in additionalModelRequestFields)",
                ));
            }
            let budget = r.budget_tokens.unwrap_or(match r.effort.as_deref() {
                Some("minimal" | "low") => 1024,
                Some("high") => 16_384,
                _ => 4096,
            });
            thinking_budget = Some(budget);
            additional.insert(
                "thinking".to_owned(),
                serde_json::json!({"type": "enabled", "budget_tokens": budget}),
            );
        }
    }

    let has_tool_blocks = req.messages.iter().any(|m| {
        m.content.iter().any(|b| {
            matches!(
                b,
                ContentBlock::ToolUse { .. } | ContentBlock::ToolResult { .. }
            )
        })
    });
    let (system, messages) = conversation(&req.messages, host)?;

    let tool_config = match (&req.tool_choice, req.tools.is_empty()) {
        (_, true) => None,
        // Converse cannot forbid tool calls; with no tool history, offering none does.
        (Some(ToolChoice::None), false) if !has_tool_blocks => None,
        (Some(ToolChoice::None), false) => {
            return Err(unsupported(
                "tool_choice none in a conversation that already uses tools",
            ))
        }
        (choice, false) => {
            let mut tools = Vec::with_capacity(req.tools.len());
            for t in &req.tools {
                tools.push(wire::ToolEntry::ToolSpec(wire::ToolSpec {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    input_schema: wire::InputSchema {
                        json: t.parameters.clone(),
                    },
                    strict: t.strict,
                }));
                if let Some(cc) = &t.cache_control {
                    tools.push(wire::ToolEntry::CachePoint(cache_point(cc)));
                }
            }
            let tool_choice = match choice {
                None | Some(ToolChoice::Auto) | Some(ToolChoice::None) => None,
                Some(ToolChoice::Required) => Some(wire::ToolChoice::Any(empty_object())),
                Some(ToolChoice::Named(name)) => Some(wire::ToolChoice::Tool(wire::NamedTool {
                    name: name.clone(),
                })),
            };
            Some(wire::ToolConfig { tools, tool_choice })
        }
    };

    let output_config = match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => {
            return Err(unsupported(
                "response_format json_object (send a json_schema instead)",
            ))
        }
        Some(ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            ..
        }) => Some(wire::OutputConfig {
            text_format: Some(wire::TextFormat {
                kind: "json_schema".to_owned(),
                structure: wire::Structure {
                    json_schema: wire::JsonSchemaDef {
                        schema: schema.to_string(),
                        name: Some(name.clone()),
                        description: description.clone(),
                    },
                },
            }),
        }),
    };

    let max_tokens = match (s.max_output_tokens, thinking_budget) {
        // Claude's thinking counts toward maxTokens and must stay below it.
        (None, Some(b)) => Some(b.saturating_add(4096)),
        (m, _) => m,
    };
    let inference_config = wire::InferenceConfig {
        max_tokens,
        // Converse's range is 0-1; OpenAI clients may send up to 2.
        temperature: s.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: s.top_p,
        stop_sequences: (!s.stop.is_empty()).then(|| s.stop.clone()),
    };
    let has_inference = inference_config.max_tokens.is_some()
        || inference_config.temperature.is_some()
        || inference_config.top_p.is_some()
        || inference_config.stop_sequences.is_some();

    Ok(wire::ConverseRequest {
        model_id: None,
        messages,
        system,
        inference_config: has_inference.then_some(inference_config),
        tool_config,
        guardrail_config: None,
        additional_model_request_fields: (!additional.is_empty())
            .then_some(Value::Object(additional)),
        additional_model_response_field_paths: None,
        output_config,
        performance_config: None,
        service_tier: None,
        request_metadata: None,
        prompt_variables: None,
    })
}

/// Anthropic's models on Bedrock (ids like `anthropic.claude-...` or `eu.anthropic.claude-...`).
fn is_claude(model_id: &str) -> bool {
    model_id.contains("anthropic.")
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// System prompt and turns.
fn conversation(
    messages: &[Message],
    host: &str,
) -> Result<(Option<Vec<wire::SystemBlock>>, Vec<wire::Message>), ProviderError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<wire::ContentBlock>)> = Vec::new();
    for message in messages {
        let (role, blocks) = match message.role {
            Role::System | Role::Developer if turns.is_empty() => {
                for block in &message.content {
                    if let ContentBlock::Text {
                        text,
                        cache_control,
                        ..
                    } = block
                    {
                        if !text.is_empty() {
                            system.push(wire::SystemBlock::Text(text.clone()));
                        }
                        if let Some(cc) = cache_control {
                            system.push(wire::SystemBlock::CachePoint(cache_point(cc)));
                        }
                    }
                }
                continue;
            }
            Role::System | Role::Developer => {
                let text = message.joined_text();
                if text.is_empty() {
                    continue;
                }
                (
                    "user",
                    vec![wire::ContentBlock::Text(format!(
                        "[System instruction] {text}"
                    ))],
                )
            }
            Role::User | Role::Tool => ("user", user_blocks(&message.content, host)?),
            Role::Assistant => ("assistant", assistant_blocks(&message.content, host)?),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            // Tool results must open the user turn that answers the calls.
            blocks.sort_by_key(|b| !matches!(b, wire::ContentBlock::ToolResult(_)));
            wire::Message {
                role: role.to_owned(),
                content: blocks,
            }
        })
        .collect();
    let system = (!system.is_empty()).then_some(system);
    Ok((system, messages))
}

fn user_blocks(
    content: &[ContentBlock],
    host: &str,
) -> Result<Vec<wire::ContentBlock>, ProviderError> {
    let mut out = Vec::with_capacity(content.len());
    for block in content {
        match block {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let mut inner = Vec::with_capacity(content.len());
                for part in content {
                    match input_block(part, host)? {
                        Some((wire::ContentBlock::Text(t), _)) => {
                            inner.push(wire::ToolResultContent::Text(t))
                        }
                        Some((wire::ContentBlock::Image(i), _)) => {
                            inner.push(wire::ToolResultContent::Image(i))
                        }
                        Some((wire::ContentBlock::Document(d), _)) => {
                            inner.push(wire::ToolResultContent::Document(d))
                        }
                        Some(_) | None => {}
                    }
                }
                out.push(wire::ContentBlock::ToolResult(wire::ToolResultBlock {
                    tool_use_id: safe_tool_id(tool_use_id),
                    content: inner,
                    status: is_error.then(|| "error".to_owned()),
                    kind: None,
                }));
            }
            other => push_input(&mut out, other, host)?,
        }
    }
    Ok(out)
}

fn assistant_blocks(
    content: &[ContentBlock],
    host: &str,
) -> Result<Vec<wire::ContentBlock>, ProviderError> {
    let mut out = Vec::with_capacity(content.len());
    for block in content {
        match block {
            ContentBlock::ToolUse {
                id,
                name,
                arguments,
                ..
            } => out.push(wire::ContentBlock::ToolUse(wire::ToolUseBlock {
                tool_use_id: safe_tool_id(id),
                name: name.clone(),
                input: arguments_object(arguments),
                kind: None,
            })),
            // A signature proves where the reasoning came from; unsigned reasoning from
            // another provider cannot be sent back and is left out.
            ContentBlock::Reasoning {
                text,
                signature: Some(signature),
            } => out.push(wire::ContentBlock::ReasoningContent(
                wire::ReasoningBlock::ReasoningText(wire::ReasoningText {
                    text: text.clone(),
                    signature: Some(signature.clone()),
                }),
            )),
            ContentBlock::Reasoning {
                signature: None, ..
            } => {}
            ContentBlock::RedactedReasoning { data } => {
                out.push(wire::ContentBlock::ReasoningContent(
                    wire::ReasoningBlock::RedactedContent(data.clone()),
                ))
            }
            ContentBlock::Refusal { text } => {
                if !text.is_empty() {
                    out.push(wire::ContentBlock::Text(text.clone()));
                }
            }
            other => push_input(&mut out, other, host)?,
        }
    }
    Ok(out)
}

/// Text, images and documents, each followed by its `cachePoint` when it is marked.
fn push_input(
    out: &mut Vec<wire::ContentBlock>,
    block: &ContentBlock,
    host: &str,
) -> Result<(), ProviderError> {
    if let Some((block, cache)) = input_block(block, host)? {
        out.push(block);
        if let Some(cc) = cache {
            out.push(wire::ContentBlock::CachePoint(cache_point(cc)));
        }
    }
    Ok(())
}

/// Text, an image or a document (with its cache mark); `None` for empty text.
fn input_block<'a>(
    block: &'a ContentBlock,
    host: &str,
) -> Result<Option<(wire::ContentBlock, Option<&'a CacheControl>)>, ProviderError> {
    Ok(Some(match block {
        ContentBlock::Text {
            text,
            cache_control,
            ..
        } => {
            if text.is_empty() {
                return Ok(None);
            }
            (
                wire::ContentBlock::Text(text.clone()),
                cache_control.as_ref(),
            )
        }
        ContentBlock::Image {
            source,
            cache_control,
            ..
        } => {
            let (media_type, source) = source_of(source, host, "images")?;
            let format = media_type
                .as_deref()
                .and_then(|m| m.strip_prefix("image/"))
                .map(|f| if f == "jpg" { "jpeg" } else { f })
                .filter(|f| matches!(*f, "png" | "jpeg" | "gif" | "webp"))
                .ok_or_else(|| {
                    unsupported(
                        host,
                        "this image type (Converse takes png, jpeg, gif and webp)",
                    )
                })?;
            (
                wire::ContentBlock::Image(wire::ImageBlock {
                    format: format.to_owned(),
                    source,
                }),
                cache_control.as_ref(),
            )
        }
        ContentBlock::Document {
            source,
            name,
            cache_control,
        } => {
            let (media_type, source) = source_of(source, host, "documents")?;
            let format = document_format(media_type.as_deref().unwrap_or("text/plain"))
                .ok_or_else(|| unsupported(host, "this document type"))?;
            (
                wire::ContentBlock::Document(wire::DocumentBlock {
                    format: Some(format.to_owned()),
                    name: document_name(name.as_deref()),
                    source,
                    context: None,
                    citations: None,
                }),
                cache_control.as_ref(),
            )
        }
        ContentBlock::Audio { .. } => return Err(unsupported(host, "audio input")),
        ContentBlock::ToolUse { .. }
        | ContentBlock::ToolResult { .. }
        | ContentBlock::Reasoning { .. }
        | ContentBlock::RedactedReasoning { .. }
        | ContentBlock::Refusal { .. } => {
            return Err(ProviderError::unsupported(
                "a tool call, tool result or reasoning block is in the wrong turn",
            ))
        }
    }))
}

/// Inline bytes or an S3 object; Converse cannot fetch URLs.
fn source_of(
    source: &ImageSource,
    host: &str,
    what: &str,
) -> Result<(Option<String>, wire::Source), ProviderError> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            Ok((Some(media_type.clone()), wire::Source::Bytes(data.clone())))
        }
        ImageSource::FileRef { uri, media_type } if uri.starts_with("s3://") => Ok((
            media_type.clone(),
            wire::Source::S3Location(wire::S3Location { uri: uri.clone() }),
        )),
        ImageSource::FileRef { .. } => Err(unsupported(
            host,
            &format!("file references for {what} other than s3:// URIs"),
        )),
        ImageSource::Url { .. } => Err(unsupported(
            host,
            &format!("{what} by URL (send the data inline as base64)"),
        )),
    }
}

fn document_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/markdown" => "md",
        m if m.starts_with("text/") => "txt",
        _ => return None,
    })
}

/// Bedrock document names allow letters, digits, single spaces, `-`, `(`, `)`, `[`, `]`.
fn document_name(name: Option<&str>) -> String {
    let mut out = String::new();
    for c in name.unwrap_or("").chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']');
        if keep {
            out.push(c);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    let trimmed = out.trim().chars().take(200).collect::<String>();
    if trimmed.is_empty() {
        "document".to_owned()
    } else {
        trimmed
    }
}

fn cache_point(cc: &CacheControl) -> wire::CachePoint {
    wire::CachePoint {
        kind: "default".to_owned(),
        ttl: cc.ttl.clone(),
    }
}

/// Bedrock tool ids match `[a-zA-Z0-9_-]{1,64}`. Other characters become `_`, and longer
/// ids keep their first 47 characters and a hash of the whole, the same way on a call and
/// on its result, so the pair still matches.
pub fn safe_tool_id(id: &str) -> String {
    let mut out = tool_id_chars(id, "tooluse");
    if out.len() > 64 {
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        out.truncate(47);
        out.push_str(&format!("_{hash:016x}"));
    }
    out
}

fn arguments_object(arguments: &str) -> Value {
    crate::upstream::arguments_object(arguments, "Bedrock")
}

fn unsupported(host: &str, feature: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "the upstream `{host}` (Bedrock Converse) does not support {feature}; remove it from the request or route to another deployment"
    ))
}
