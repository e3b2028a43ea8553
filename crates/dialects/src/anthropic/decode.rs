//! Anthropic Messages request JSON -> canonical request.
//!
//! Anthropic carries tool results inside user turns; canonically they are `Tool` messages,
//! so a user turn is split into its tool results (first) and the rest. The top-level
//! `system` becomes leading system messages; `cache_control` markers are kept.

use base64::Engine as _;
use switchyard_types::{
    CacheControl, ChatRequest, ContentBlock, ImageSource, Message, ReasoningConfig,
    RequestMetadata, ResponseFormat, Role, SamplingParams, Tool, ToolChoice,
};
use switchyard_wire_anthropic as wire;

use crate::error::GatewayError;
use crate::json::{self, JsonError};

/// Parses and validates a `POST /v1/messages` body.
pub fn decode_messages_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let req: wire::MessagesRequest = parse_json(body)?;
    if req.max_tokens == 0 {
        return Err(invalid(
            "max_tokens: Input should be greater than or equal to 1",
            "max_tokens",
        ));
    }
    check_range("temperature", req.temperature, 0.0, 1.0)?;
    check_range("top_p", req.top_p, 0.0, 1.0)?;
    if let Some(wire::Thinking::Enabled { budget_tokens, .. }) = &req.thinking {
        if *budget_tokens >= req.max_tokens {
            return Err(invalid(
                format!(
                    "`max_tokens` must be greater than `thinking.budget_tokens` ({budget_tokens}); got max_tokens = {}",
                    req.max_tokens
                ),
                "max_tokens",
            ));
        }
    }
    if req.container.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(invalid(
            "container: code-execution containers are not supported by Switchyard",
            "container",
        ));
    }
    let stop = req.stop_sequences.unwrap_or_default();
    if stop.iter().any(String::is_empty) {
        return Err(invalid(
            "stop_sequences: each stop sequence must be non-empty",
            "stop_sequences",
        ));
    }
    let mut request = common(Common {
        model: req.model,
        messages: req.messages,
        system: req.system,
        tools: req.tools,
        tool_choice: req.tool_choice,
        thinking: req.thinking,
        output_config: req.output_config,
        output_format: req.output_format,
        cache_control: req.cache_control,
    })?;
    request.sampling = SamplingParams {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        max_output_tokens: Some(req.max_tokens),
        stop,
        ..SamplingParams::default()
    };
    request.stream = req.stream.unwrap_or(false);
    // Anthropic streams always report usage.
    request.stream_include_usage = true;
    request.metadata = RequestMetadata {
        user: req.metadata.and_then(|m| m.user_id),
        service_tier: req.service_tier,
        ..RequestMetadata::default()
    };
    // Anthropic-only controls travel to an Anthropic upstream and to no other.
    let mut only_anthropic = serde_json::Map::new();
    for (name, value) in [
        ("inference_geo", req.inference_geo),
        ("speed", req.speed),
        ("user_profile_id", req.user_profile_id),
        ("workspace_id", req.workspace_id),
    ] {
        if let Some(v) = value {
            only_anthropic.insert(name.to_owned(), serde_json::Value::String(v));
        }
    }
    if !only_anthropic.is_empty() {
        request.provider_options.insert(
            "anthropic".to_owned(),
            serde_json::Value::Object(only_anthropic),
        );
    }
    Ok(request)
}

/// Parses and validates a `POST /v1/messages/count_tokens` body.
pub fn decode_count_tokens_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let req: wire::CountTokensRequest = parse_json(body)?;
    common(Common {
        model: req.model,
        messages: req.messages,
        system: req.system,
        tools: req.tools,
        tool_choice: req.tool_choice,
        thinking: req.thinking,
        output_config: req.output_config,
        output_format: req.output_format,
        cache_control: req.cache_control,
    })
}

/// The fields a Messages request and a count-tokens request share.
struct Common {
    model: String,
    messages: Vec<wire::InputMessage>,
    system: Option<wire::SystemPrompt>,
    tools: Option<Vec<wire::ToolDef>>,
    tool_choice: Option<wire::ToolChoice>,
    thinking: Option<wire::Thinking>,
    output_config: Option<wire::OutputConfig>,
    output_format: Option<wire::OutputFormat>,
    cache_control: Option<wire::CacheControl>,
}

fn common(req: Common) -> Result<ChatRequest, GatewayError> {
    if req.messages.is_empty() {
        return Err(invalid(
            "messages: at least one message is required",
            "messages",
        ));
    }
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = req.system {
        let blocks = match system {
            wire::SystemPrompt::Text(text) => vec![ContentBlock::text(text)],
            wire::SystemPrompt::Blocks(blocks) => blocks
                .into_iter()
                .map(|b| ContentBlock::Text {
                    text: b.text,
                    cache_control: b.cache_control.map(cache_control),
                    citations: Vec::new(),
                })
                .collect(),
        };
        if !blocks.is_empty() {
            messages.push(Message {
                role: Role::System,
                content: blocks,
                name: None,
            });
        }
    }
    for (i, message) in req.messages.into_iter().enumerate() {
        push_message(i, message, &mut messages)?;
    }
    if let Some(cc) = req.cache_control {
        mark_last_cacheable(&mut messages, cache_control(cc));
    }

    let tools = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| tool_from_wire(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let (tool_choice, parallel_tool_calls) = match req.tool_choice {
        None => (None, None),
        Some(choice) => tool_choice_from_wire(choice, &tools)?,
    };

    let mut reasoning = req.thinking.map(|t| match t {
        wire::Thinking::Enabled { budget_tokens, .. } => ReasoningConfig {
            budget_tokens: Some(budget_tokens),
            enabled: Some(true),
            ..ReasoningConfig::default()
        },
        wire::Thinking::Adaptive { .. } | wire::Thinking::BetweenTools {} => ReasoningConfig {
            enabled: Some(true),
            ..ReasoningConfig::default()
        },
        wire::Thinking::Disabled {} => ReasoningConfig {
            enabled: Some(false),
            ..ReasoningConfig::default()
        },
    });
    if matches!(&reasoning, Some(r) if r.budget_tokens.is_some_and(|b| b < 1024)) {
        return Err(invalid(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            "thinking.budget_tokens",
        ));
    }
    let mut format = req.output_format;
    if let Some(config) = req.output_config {
        if let Some(effort) = config.effort {
            reasoning
                .get_or_insert_with(ReasoningConfig::default)
                .effort = Some(effort);
        }
        if config.format.is_some() {
            format = config.format;
        }
    }
    let response_format = match format {
        None => None,
        Some(wire::OutputFormat::JsonSchema { schema }) => {
            if !schema.is_object() {
                return Err(invalid(
                    "output_config.format.schema: must be a JSON object",
                    "output_config.format.schema",
                ));
            }
            Some(ResponseFormat::JsonSchema {
                name: "response".to_owned(),
                description: None,
                schema,
                strict: Some(true),
            })
        }
    };

    Ok(ChatRequest {
        model: req.model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning,
        ..ChatRequest::default()
    })
}

fn push_message(
    i: usize,
    message: wire::InputMessage,
    out: &mut Vec<Message>,
) -> Result<(), GatewayError> {
    let at = |j: usize| format!("messages.{i}.content.{j}");
    let blocks = match message.content {
        wire::MessageContent::Text(text) => vec![wire::Block::Text {
            text,
            cache_control: None,
            citations: None,
        }],
        wire::MessageContent::Blocks(blocks) => blocks,
    };
    match message.role {
        wire::Role::Assistant => {
            let content = blocks
                .into_iter()
                .enumerate()
                .map(|(j, b)| assistant_block(b, &at(j)))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Message {
                role: Role::Assistant,
                content,
                name: None,
            });
        }
        wire::Role::User => {
            // Runs of tool results become `Tool` messages; everything else stays with the user.
            // Blocks join the message this turn last opened when their role matches.
            let mut opened_here = false;
            for (j, block) in blocks.into_iter().enumerate() {
                let (role, block) = match block {
                    wire::Block::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                        cache_control: _,
                    } => {
                        let content = match content {
                            None => Vec::new(),
                            Some(wire::ToolResultContent::Text(text)) => {
                                vec![ContentBlock::text(text)]
                            }
                            Some(wire::ToolResultContent::Blocks(blocks)) => blocks
                                .into_iter()
                                .enumerate()
                                .map(|(k, b)| user_block(b, &format!("{}.content.{k}", at(j))))
                                .collect::<Result<Vec<_>, _>>()?,
                        };
                        let block = ContentBlock::ToolResult {
                            tool_use_id,
                            content,
                            is_error: is_error.unwrap_or(false),
                        };
                        (Role::Tool, block)
                    }
                    other => (Role::User, user_block(other, &at(j))?),
                };
                match out.last_mut() {
                    Some(last) if opened_here && last.role == role => last.content.push(block),
                    _ => {
                        out.push(Message {
                            role,
                            content: vec![block],
                            name: None,
                        });
                        opened_here = true;
                    }
                }
            }
        }
    }
    Ok(())
}

fn assistant_block(block: wire::Block, at: &str) -> Result<ContentBlock, GatewayError> {
    Ok(match block {
        wire::Block::Text {
            text,
            cache_control: cc,
            citations: _,
        } => ContentBlock::Text {
            text,
            cache_control: cc.map(cache_control),
            citations: Vec::new(),
        },
        wire::Block::ToolUse {
            id, name, input, ..
        } => ContentBlock::ToolUse {
            id,
            name,
            arguments: input.to_string(),
            signature: None,
        },
        wire::Block::Thinking {
            thinking,
            signature,
        } => ContentBlock::Reasoning {
            text: thinking,
            signature: (!signature.is_empty()).then_some(signature),
        },
        wire::Block::RedactedThinking { data } => ContentBlock::RedactedReasoning { data },
        wire::Block::Image { .. }
        | wire::Block::Document { .. }
        | wire::Block::ToolResult { .. } => {
            return Err(invalid(
                format!(
                    "{at}: assistant messages may contain only text, tool_use and thinking blocks"
                ),
                at,
            ))
        }
    })
}

fn user_block(block: wire::Block, at: &str) -> Result<ContentBlock, GatewayError> {
    Ok(match block {
        wire::Block::Text {
            text,
            cache_control: cc,
            citations: _,
        } => ContentBlock::Text {
            text,
            cache_control: cc.map(cache_control),
            citations: Vec::new(),
        },
        wire::Block::Image {
            source,
            cache_control: cc,
        } => ContentBlock::Image {
            source: match source {
                wire::ImageSource::Base64 { media_type, data } => {
                    ImageSource::Base64 { media_type, data }
                }
                wire::ImageSource::Url { url } => ImageSource::Url { url },
                wire::ImageSource::File { file_id } => ImageSource::FileRef {
                    uri: file_id,
                    media_type: None,
                },
            },
            detail: None,
            cache_control: cc.map(cache_control),
        },
        wire::Block::Document {
            source,
            title,
            context: _,
            citations,
            cache_control: cc,
        } => {
            if citations
                .as_ref()
                .and_then(|c| c.get("enabled"))
                .and_then(serde_json::Value::as_bool)
                == Some(true)
            {
                return Err(invalid(
                    format!("{at}.citations: document citations are not supported by Switchyard"),
                    &format!("{at}.citations"),
                ));
            }
            let source = match source {
                wire::DocumentSource::Base64 { media_type, data } => {
                    ImageSource::Base64 { media_type, data }
                }
                wire::DocumentSource::Text { media_type, data } => ImageSource::Base64 {
                    media_type,
                    data: base64::engine::general_purpose::STANDARD.encode(data),
                },
                wire::DocumentSource::Url { url } => ImageSource::Url { url },
                wire::DocumentSource::File { file_id } => ImageSource::FileRef {
                    uri: file_id,
                    media_type: None,
                },
                wire::DocumentSource::Content { .. } => {
                    return Err(invalid(
                        format!("{at}.source: document sources of type 'content' are not supported by Switchyard; send the text as a 'text' source"),
                        &format!("{at}.source"),
                    ))
                }
            };
            ContentBlock::Document {
                source,
                name: title,
                cache_control: cc.map(cache_control),
            }
        }
        wire::Block::ToolUse { .. }
        | wire::Block::Thinking { .. }
        | wire::Block::RedactedThinking { .. } => {
            return Err(invalid(
                format!("{at}: tool_use and thinking blocks belong in assistant messages"),
                at,
            ))
        }
        wire::Block::ToolResult { .. } => {
            return Err(invalid(
                format!("{at}: tool_result blocks cannot be nested"),
                at,
            ))
        }
    })
}

fn tool_from_wire(i: usize, t: wire::ToolDef) -> Result<Tool, GatewayError> {
    let at = format!("tools.{i}");
    if let Some(kind) = t.kind.as_deref().filter(|k| *k != "custom") {
        return Err(invalid(
            format!("{at}: server tool `{kind}` is not supported by Switchyard; only client tools (name and input_schema) are"),
            &format!("{at}.type"),
        ));
    }
    if let Some(field) = t.extra.keys().next() {
        return Err(invalid(
            format!("{at}.{field}: Extra inputs are not permitted"),
            &format!("{at}.{field}"),
        ));
    }
    let Some(schema) = t.input_schema else {
        return Err(invalid(
            format!("{at}.input_schema: Field required"),
            &format!("{at}.input_schema"),
        ));
    };
    if !schema.is_object() {
        return Err(invalid(
            format!("{at}.input_schema: Input should be an object"),
            &format!("{at}.input_schema"),
        ));
    }
    let valid = (1..=128).contains(&t.name.len())
        && t.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(invalid(
            format!("{at}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"),
            &format!("{at}.name"),
        ));
    }
    Ok(Tool {
        name: t.name,
        description: t.description,
        parameters: schema,
        strict: t.strict,
        cache_control: t.cache_control.map(cache_control),
    })
}

fn tool_choice_from_wire(
    choice: wire::ToolChoice,
    tools: &[Tool],
) -> Result<(Option<ToolChoice>, Option<bool>), GatewayError> {
    let (choice, disable_parallel) = match choice {
        wire::ToolChoice::Auto {
            disable_parallel_tool_use,
        } => (ToolChoice::Auto, disable_parallel_tool_use),
        wire::ToolChoice::Any {
            disable_parallel_tool_use,
        } => (ToolChoice::Required, disable_parallel_tool_use),
        wire::ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        } => (ToolChoice::Named(name), disable_parallel_tool_use),
        wire::ToolChoice::None {} => (ToolChoice::None, None),
    };
    if matches!(choice, ToolChoice::Required | ToolChoice::Named(_)) && tools.is_empty() {
        return Err(invalid(
            "tool_choice: a tool must be required only when tools are provided",
            "tool_choice",
        ));
    }
    if let ToolChoice::Named(name) = &choice {
        if !tools.iter().any(|t| &t.name == name) {
            return Err(invalid(
                format!("tool_choice.name: tool `{name}` is not in tools"),
                "tool_choice.name",
            ));
        }
    }
    let parallel = disable_parallel.filter(|d| *d).map(|_| false);
    Ok((Some(choice), parallel))
}

/// Top-level `cache_control`: the last block that can carry a marker gets it.
fn mark_last_cacheable(messages: &mut [Message], marker: CacheControl) {
    for message in messages.iter_mut().rev() {
        for block in message.content.iter_mut().rev() {
            match block {
                ContentBlock::Text { cache_control, .. }
                | ContentBlock::Image { cache_control, .. }
                | ContentBlock::Document { cache_control, .. } => {
                    *cache_control = Some(marker);
                    return;
                }
                _ => {}
            }
        }
    }
}

fn cache_control(cc: wire::CacheControl) -> CacheControl {
    CacheControl { ttl: cc.ttl }
}

fn check_range(name: &str, value: Option<f64>, min: f64, max: f64) -> Result<(), GatewayError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(invalid(
            format!("{name}: Input should be between {min} and {max}, got {v}"),
            name,
        )),
        _ => Ok(()),
    }
}

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param.to_owned()))
}

/// Deserializes a request body, wording failures the way the Messages API does
/// (`path: problem`).
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    // Anthropic writes paths as `messages.0.content.1`.
    let dotted = |p: String| p.replace('[', ".").replace(']', "");
    json::parse(body).map_err(|err| match err {
        JsonError::Syntax(err) => {
            GatewayError::invalid(format!("The request body is not valid JSON: {err}"), None)
        }
        JsonError::UnknownField { path } => {
            let path = dotted(path);
            GatewayError::invalid(
                format!("{path}: Extra inputs are not permitted"),
                Some(path),
            )
        }
        JsonError::MissingField { path } => {
            let path = dotted(path);
            GatewayError::invalid(format!("{path}: Field required"), Some(path))
        }
        JsonError::Invalid { path, message } => match path.map(dotted) {
            Some(p) => GatewayError::invalid(format!("{p}: {message}"), Some(p)),
            None => GatewayError::invalid(format!("Invalid request body: {message}"), None),
        },
    })
}
