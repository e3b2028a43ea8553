//! Canonical request -> Anthropic Messages request body.
//!
//! The rules of `reference/apis.md` §8, for a target that is strict about them: leading
//! system and developer messages become `system` blocks (later ones a user-side note);
//! tool results go back inside a user turn, first; adjacent turns of the same role are
//! merged; empty text is never sent; tool ids are made safe for Anthropic's pattern the same
//! way on the call and on its result; `max_tokens`, which Anthropic requires, is filled in.
//! What Anthropic cannot express is a 400 naming the feature, never dropped silently.

use base64::Engine as _;
use serde_json::Value;
use switchyard_types::{
    CacheControl, ChatRequest, ContentBlock, ImageSource, Message, ResponseFormat, Role, ToolChoice,
};
use switchyard_wire_anthropic as wire;

use crate::error::ProviderError;
use crate::upstream::tool_id_chars;

/// Output tokens asked for when the client did not say (Anthropic requires a number).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Builds the upstream body.
pub fn messages_body(
    req: &ChatRequest,
    upstream_model: &str,
    stream: bool,
    host: &str,
) -> Result<wire::MessagesRequest, ProviderError> {
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
    if s.n.is_some_and(|n| n > 1) {
        return Err(unsupported("n > 1"));
    }
    let (system, messages) = conversation(&req.messages, host)?;

    let tools = (!req.tools.is_empty()).then(|| {
        req.tools
            .iter()
            .map(|t| wire::ToolDef {
                kind: None,
                name: t.name.clone(),
                description: t.description.clone(),
                input_schema: Some(t.parameters.clone()),
                cache_control: t.cache_control.as_ref().map(cache_control),
                strict: t.strict,
                extra: Default::default(),
            })
            .collect::<Vec<_>>()
    });
    let disable_parallel = (req.parallel_tool_calls == Some(false)).then_some(true);
    let tool_choice = match (&req.tool_choice, disable_parallel) {
        (None, None) => None,
        (None | Some(ToolChoice::Auto), _) => Some(wire::ToolChoice::Auto {
            disable_parallel_tool_use: disable_parallel,
        }),
        (Some(ToolChoice::None), _) => Some(wire::ToolChoice::None {}),
        (Some(ToolChoice::Required), _) => Some(wire::ToolChoice::Any {
            disable_parallel_tool_use: disable_parallel,
        }),
        (Some(ToolChoice::Named(name)), _) => Some(wire::ToolChoice::Tool {
            name: name.clone(),
            disable_parallel_tool_use: disable_parallel,
        }),
    };
    // A tool choice without tools means nothing to Anthropic (and is rejected there).
    let tool_choice = if tools.is_none() { None } else { tool_choice };

    let mut output = wire::OutputConfig {
        effort: None,
        format: None,
    };
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            return Err(unsupported(
                "response_format json_object (send a json_schema instead)",
            ))
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            output.format = Some(wire::OutputFormat::JsonSchema {
                schema: schema.clone(),
            });
        }
    }
    let mut thinking = None;
    let mut budget = None;
    if let Some(r) = &req.reasoning {
        let off = r.enabled == Some(false) || r.effort.as_deref() == Some("none");
        if off {
            thinking = Some(wire::Thinking::Disabled {});
        } else if let Some(b) = r.budget_tokens {
            budget = Some(b);
            thinking = Some(wire::Thinking::Enabled {
                budget_tokens: b,
                display: None,
            });
        } else if r.enabled == Some(true) {
            thinking = Some(wire::Thinking::Adaptive { display: None });
        }
        if !off {
            output.effort = r.effort.as_deref().map(|e| match e {
                "minimal" => "low".to_owned(),
                other => other.to_owned(),
            });
        }
    }
    let max_tokens = match (s.max_output_tokens, budget) {
        (Some(m), _) => m,
        // Thinking counts toward max_tokens and must stay below it.
        (None, Some(b)) => b.saturating_add(DEFAULT_MAX_TOKENS),
        (None, None) => DEFAULT_MAX_TOKENS,
    };
    let output_config = (output.effort.is_some() || output.format.is_some()).then_some(output);

    Ok(wire::MessagesRequest {
        model: upstream_model.to_owned(),
        messages,
        max_tokens,
        system,
        // Anthropic's range is 0-1; OpenAI clients may send up to 2.
        temperature: s.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: s.top_p,
        top_k: s.top_k,
        stop_sequences: (!s.stop.is_empty()).then(|| s.stop.clone()),
        stream: stream.then_some(true),
        metadata: req.metadata.user.as_ref().map(|u| wire::Metadata {
            user_id: Some(u.clone()),
        }),
        service_tier: req
            .metadata
            .service_tier
            .clone()
            .filter(|t| t == "auto" || t == "standard_only"),
        tools,
        tool_choice,
        thinking,
        output_config,
        output_format: None,
        cache_control: None,
        inference_geo: None,
        speed: None,
        user_profile_id: None,
        workspace_id: None,
        container: None,
        diagnostics: None,
    })
}

/// The count-tokens body for the same request.
pub fn count_tokens_body(body: wire::MessagesRequest) -> wire::CountTokensRequest {
    wire::CountTokensRequest {
        model: body.model,
        messages: body.messages,
        system: body.system,
        tools: body.tools,
        tool_choice: body.tool_choice,
        thinking: body.thinking,
        output_config: body.output_config,
        output_format: None,
        cache_control: None,
    }
}

/// System prompt and turns.
fn conversation(
    messages: &[Message],
    host: &str,
) -> Result<(Option<wire::SystemPrompt>, Vec<wire::InputMessage>), ProviderError> {
    let mut system = Vec::new();
    let mut turns: Vec<(wire::Role, Vec<wire::Block>)> = Vec::new();
    for message in messages {
        let (role, blocks) = match message.role {
            Role::System | Role::Developer if turns.is_empty() => {
                for block in &message.content {
                    if let ContentBlock::Text {
                        text,
                        cache_control: cc,
                        ..
                    } = block
                    {
                        if !text.is_empty() {
                            system.push(wire::TextBlockParam {
                                kind: "text".to_owned(),
                                text: text.clone(),
                                cache_control: cc.as_ref().map(cache_control),
                                citations: None,
                            });
                        }
                    }
                }
                continue;
            }
            // A system message mid-conversation has no Anthropic equivalent: it is passed
            // on as a note in the user's turn.
            Role::System | Role::Developer => {
                let text = message.joined_text();
                if text.is_empty() {
                    continue;
                }
                (
                    wire::Role::User,
                    vec![text_block(format!("[System instruction] {text}"), None)],
                )
            }
            Role::User => (wire::Role::User, user_blocks(&message.content, host)?),
            Role::Tool => (wire::Role::User, user_blocks(&message.content, host)?),
            Role::Assistant => (
                wire::Role::Assistant,
                assistant_blocks(&message.content, host)?,
            ),
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
            blocks.sort_by_key(|b| !matches!(b, wire::Block::ToolResult { .. }));
            wire::InputMessage {
                role,
                content: wire::MessageContent::Blocks(blocks),
            }
        })
        .collect();
    let system = (!system.is_empty()).then_some(wire::SystemPrompt::Blocks(system));
    Ok((system, messages))
}

fn user_blocks(content: &[ContentBlock], host: &str) -> Result<Vec<wire::Block>, ProviderError> {
    let mut out = Vec::with_capacity(content.len());
    for block in content {
        match block {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let inner = user_blocks(content, host)?;
                out.push(wire::Block::ToolResult {
                    tool_use_id: safe_tool_id(tool_use_id),
                    content: (!inner.is_empty()).then_some(wire::ToolResultContent::Blocks(inner)),
                    is_error: is_error.then_some(true),
                    cache_control: None,
                });
            }
            other => {
                if let Some(b) = input_block(other, host)? {
                    out.push(b);
                }
            }
        }
    }
    Ok(out)
}

fn assistant_blocks(
    content: &[ContentBlock],
    host: &str,
) -> Result<Vec<wire::Block>, ProviderError> {
    let mut out = Vec::with_capacity(content.len());
    for block in content {
        match block {
            ContentBlock::ToolUse {
                id,
                name,
                arguments,
                ..
            } => out.push(wire::Block::ToolUse {
                id: safe_tool_id(id),
                name: name.clone(),
                input: arguments_object(arguments),
                cache_control: None,
            }),
            // A signature proves the thinking came from Anthropic; unsigned reasoning from
            // another provider cannot be sent back and is left out.
            ContentBlock::Reasoning {
                text,
                signature: Some(signature),
            } => out.push(wire::Block::Thinking {
                thinking: text.clone(),
                signature: signature.clone(),
            }),
            ContentBlock::Reasoning {
                signature: None, ..
            } => {}
            ContentBlock::RedactedReasoning { data } => {
                out.push(wire::Block::RedactedThinking { data: data.clone() })
            }
            ContentBlock::Refusal { text } => {
                if !text.is_empty() {
                    out.push(text_block(text.clone(), None));
                }
            }
            other => {
                if let Some(b) = input_block(other, host)? {
                    out.push(b);
                }
            }
        }
    }
    Ok(out)
}

/// Text, images and documents; `None` for empty text.
fn input_block(block: &ContentBlock, host: &str) -> Result<Option<wire::Block>, ProviderError> {
    Ok(Some(match block {
        ContentBlock::Text {
            text,
            cache_control: cc,
            ..
        } => {
            if text.is_empty() {
                return Ok(None);
            }
            text_block(text.clone(), cc.as_ref())
        }
        ContentBlock::Image {
            source,
            cache_control: cc,
            ..
        } => wire::Block::Image {
            source: match source {
                ImageSource::Base64 { media_type, data } => wire::ImageSource::Base64 {
                    media_type: media_type.clone(),
                    data: data.clone(),
                },
                ImageSource::Url { url } => wire::ImageSource::Url { url: url.clone() },
                ImageSource::FileRef { uri, .. } => wire::ImageSource::File {
                    file_id: anthropic_file_id(uri, host)?,
                },
            },
            cache_control: cc.as_ref().map(cache_control),
        },
        ContentBlock::Document {
            source,
            name,
            cache_control: cc,
        } => wire::Block::Document {
            source: match source {
                ImageSource::Base64 { media_type, data } if media_type.starts_with("text/") => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .map_err(|_| {
                            ProviderError::unsupported("a text document is not valid base64")
                        })?;
                    wire::DocumentSource::Text {
                        media_type: "text/plain".to_owned(),
                        data: String::from_utf8_lossy(&bytes).into_owned(),
                    }
                }
                ImageSource::Base64 { media_type, data } => wire::DocumentSource::Base64 {
                    media_type: media_type.clone(),
                    data: data.clone(),
                },
                ImageSource::Url { url } => wire::DocumentSource::Url { url: url.clone() },
                ImageSource::FileRef { uri, .. } => wire::DocumentSource::File {
                    file_id: anthropic_file_id(uri, host)?,
                },
            },
            title: name.clone(),
            context: None,
            citations: None,
            cache_control: cc.as_ref().map(cache_control),
        },
        ContentBlock::Audio { .. } => return Err(unsupported(host, "audio input")),
        // Handled by the callers (role-specific); never reached with these.
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

fn text_block(text: String, cc: Option<&CacheControl>) -> wire::Block {
    wire::Block::Text {
        text,
        cache_control: cc.map(cache_control),
        citations: None,
    }
}

fn cache_control(cc: &CacheControl) -> wire::CacheControl {
    wire::CacheControl {
        kind: "ephemeral".to_owned(),
        ttl: cc.ttl.clone(),
    }
}

/// Anthropic file ids are `file_...`; other providers' references cannot be resolved there.
fn anthropic_file_id(uri: &str, host: &str) -> Result<String, ProviderError> {
    if uri.starts_with("file_") {
        Ok(uri.to_owned())
    } else {
        Err(unsupported(
            host,
            "file references other than Anthropic file ids (send the data inline or as a URL)",
        ))
    }
}

/// Anthropic tool ids match `^[a-zA-Z0-9_-]+$`. Other characters become `_`, the same way on
/// a call and on its result, so the pair still matches.
pub fn safe_tool_id(id: &str) -> String {
    tool_id_chars(id, "toolu_")
}

fn arguments_object(arguments: &str) -> Value {
    crate::upstream::arguments_object(arguments, "Anthropic")
}

fn unsupported(host: &str, feature: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "the upstream `{host}` (Anthropic) does not support {feature}; remove it from the request or route to another deployment"
    ))
}
