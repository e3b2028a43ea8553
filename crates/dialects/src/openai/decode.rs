//! OpenAI request JSON -> canonical request.

use switchyard_types::{
    ChatRequest, ContentBlock, EmbeddingInput, EmbeddingRequest, EncodingFormat, ImageDetail,
    ImageSource, Message, ReasoningConfig, RequestMetadata, ResponseFormat, Role, SamplingParams,
    Tool, ToolChoice,
};
use switchyard_wire_openai as wire;

use crate::error::GatewayError;
use crate::json::{self, JsonError};

/// Parses and validates a `POST /v1/chat/completions` body.
pub fn decode_chat_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let req: wire::ChatCompletionRequest = parse_json(body)?;
    chat_request_from_wire(req)
}

/// Parses and validates a `POST /v1/embeddings` body.
pub fn decode_embeddings_request(body: &[u8]) -> Result<EmbeddingRequest, GatewayError> {
    let req: wire::EmbeddingsRequest = parse_json(body)?;
    let input = match req.input {
        wire::EmbeddingInput::One(s) => EmbeddingInput::Texts(vec![s]),
        wire::EmbeddingInput::Many(v) => EmbeddingInput::Texts(v),
        wire::EmbeddingInput::Tokens(t) => EmbeddingInput::Tokens(vec![t]),
        wire::EmbeddingInput::TokenBatches(t) => EmbeddingInput::Tokens(t),
    };
    if input.is_empty() {
        return Err(invalid("'input' must not be empty", "input"));
    }
    if input.len() > 2048 {
        return Err(invalid("'input' must have at most 2048 items", "input"));
    }
    let empty = match &input {
        EmbeddingInput::Texts(t) => t.iter().any(String::is_empty),
        EmbeddingInput::Tokens(t) => t.iter().any(Vec::is_empty),
    };
    if empty {
        return Err(invalid("'input' must not contain empty strings", "input"));
    }
    let encoding_format = match req.encoding_format.as_deref() {
        None | Some("float") => EncodingFormat::Float,
        Some("base64") => EncodingFormat::Base64,
        Some(other) => {
            return Err(invalid(
                format!("'{other}' is not one of ['float', 'base64'] - 'encoding_format'"),
                "encoding_format",
            ))
        }
    };
    if req.dimensions == Some(0) {
        return Err(invalid("'dimensions' must be at least 1", "dimensions"));
    }
    Ok(EmbeddingRequest {
        model: req.model,
        input,
        encoding_format,
        dimensions: req.dimensions,
        user: req.user,
    })
}

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param.to_owned()))
}

/// Deserializes a request body, wording failures the way OpenAI does.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    json::parse(body).map_err(|err| match err {
        JsonError::Syntax(err) => GatewayError::invalid(
            format!(
                "We could not parse the JSON body of your request ({err}). The body must be a JSON object."
            ),
            None,
        )
        .with_code("invalid_json"),
        JsonError::UnknownField { path } => GatewayError::invalid(
            format!("Unrecognized request argument supplied: {path}"),
            Some(path),
        )
        .with_code("unknown_parameter"),
        JsonError::MissingField { path } => GatewayError::invalid(
            format!("Missing required parameter: '{path}'."),
            Some(path),
        )
        .with_code("missing_required_parameter"),
        JsonError::Invalid { path, message } => {
            let text = match &path {
                Some(p) => format!("Invalid value for '{p}': {message}"),
                None => format!("Invalid request body: {message}"),
            };
            GatewayError::invalid(text, path).with_code("invalid_value")
        }
    })
}

fn chat_request_from_wire(req: wire::ChatCompletionRequest) -> Result<ChatRequest, GatewayError> {
    if req.messages.is_empty() {
        return Err(invalid(
            "'messages' must contain at least one message",
            "messages",
        ));
    }
    check_range("temperature", req.temperature, 0.0, 2.0)?;
    check_range("top_p", req.top_p, 0.0, 1.0)?;
    check_range("presence_penalty", req.presence_penalty, -2.0, 2.0)?;
    check_range("frequency_penalty", req.frequency_penalty, -2.0, 2.0)?;
    if let Some(n) = req.n {
        if n != 1 {
            return Err(invalid(
                format!("Switchyard serves exactly one choice per request; 'n' must be 1, got {n}"),
                "n",
            )
            .with_code("unsupported_value"));
        }
    }
    if matches!(req.top_logprobs, Some(k) if k > 20) {
        return Err(invalid("'top_logprobs' must be at most 20", "top_logprobs"));
    }
    if req.top_logprobs.is_some() && req.logprobs != Some(true) {
        return Err(invalid(
            "'logprobs' must be true when 'top_logprobs' is set",
            "top_logprobs",
        ));
    }
    let stream = req.stream.unwrap_or(false);
    if req.stream_options.is_some() && !stream {
        return Err(invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        ));
    }
    let stop = match req.stop {
        None => Vec::new(),
        Some(wire::Stop::One(s)) => vec![s],
        Some(wire::Stop::Many(v)) => v,
    };
    if stop.len() > 4 {
        return Err(invalid("'stop' accepts at most 4 sequences", "stop"));
    }
    let max_output_tokens = req.max_completion_tokens.or(req.max_tokens);
    if max_output_tokens == Some(0) {
        let param = if req.max_completion_tokens.is_some() {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        return Err(invalid(format!("'{param}' must be at least 1"), param));
    }

    let tools = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| tool_from_wire(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let tool_choice = match req.tool_choice {
        None => None,
        Some(choice) => Some(tool_choice_from_wire(choice, &tools)?),
    };
    let response_format = req
        .response_format
        .map(response_format_from_wire)
        .transpose()?;

    let messages = req
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message_from_wire(i, m))
        .collect::<Result<Vec<_>, _>>()?;

    let reasoning = req.reasoning_effort.map(|effort| ReasoningConfig {
        enabled: Some(effort != "none"),
        effort: Some(effort),
        ..ReasoningConfig::default()
    });

    Ok(ChatRequest {
        model: req.model,
        messages,
        sampling: SamplingParams {
            temperature: req.temperature,
            top_p: req.top_p,
            top_k: req.top_k,
            min_p: req.min_p,
            max_output_tokens,
            stop,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            repetition_penalty: req.repetition_penalty,
            logit_bias: req.logit_bias.unwrap_or_default(),
            logprobs: req.logprobs.unwrap_or(false),
            top_logprobs: req.top_logprobs,
            n: req.n,
        },
        tools,
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format,
        reasoning,
        stream,
        stream_include_usage: req
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        metadata: RequestMetadata {
            user: req.safety_identifier.or(req.user),
            tags: req.metadata.unwrap_or_default(),
            service_tier: req.service_tier,
            prompt_cache_key: req.prompt_cache_key,
            store: req.store,
        },
        provider_options: Default::default(),
    })
}

pub(crate) fn check_range(
    name: &str,
    value: Option<f64>,
    min: f64,
    max: f64,
) -> Result<(), GatewayError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(invalid(
            format!("'{name}' must be between {min} and {max}, got {v}"),
            name,
        )
        .with_code("invalid_value")),
        _ => Ok(()),
    }
}

fn tool_from_wire(i: usize, t: wire::ToolDef) -> Result<Tool, GatewayError> {
    if t.kind != "function" {
        return Err(invalid(
            format!(
                "tool type '{}' is not supported; only 'function' tools are",
                t.kind
            ),
            &format!("tools[{i}].type"),
        ));
    }
    let name = t.function.name;
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(invalid(
            format!(
                "Invalid 'tools[{i}].function.name': '{name}' must match ^[a-zA-Z0-9_-]{{1,64}}$"
            ),
            &format!("tools[{i}].function.name"),
        ));
    }
    Ok(Tool {
        name,
        description: t.function.description,
        parameters: t
            .function
            .parameters
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        strict: t.function.strict,
        cache_control: None,
    })
}

fn tool_choice_from_wire(
    choice: wire::ToolChoice,
    tools: &[Tool],
) -> Result<ToolChoice, GatewayError> {
    let choice = match choice {
        wire::ToolChoice::Mode(mode) => match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(invalid(
                    format!("'{other}' is not one of ['none', 'auto', 'required'] - 'tool_choice'"),
                    "tool_choice",
                ))
            }
        },
        wire::ToolChoice::Named(named) => {
            if named.kind != "function" {
                return Err(invalid(
                    "'tool_choice.type' must be 'function'",
                    "tool_choice.type",
                ));
            }
            ToolChoice::Named(named.function.name)
        }
    };
    if !matches!(choice, ToolChoice::None) && tools.is_empty() {
        return Err(invalid(
            "'tool_choice' is only allowed when 'tools' are specified",
            "tool_choice",
        ));
    }
    if let ToolChoice::Named(name) = &choice {
        if !tools.iter().any(|t| &t.name == name) {
            return Err(invalid(
                format!("'tool_choice' names function '{name}', which is not in 'tools'"),
                "tool_choice.function.name",
            ));
        }
    }
    Ok(choice)
}

fn response_format_from_wire(rf: wire::ResponseFormat) -> Result<ResponseFormat, GatewayError> {
    Ok(match rf {
        wire::ResponseFormat::Text => ResponseFormat::Text,
        wire::ResponseFormat::JsonObject => ResponseFormat::JsonObject,
        wire::ResponseFormat::JsonSchema {
            json_schema,
            schema,
        } => {
            let schema = json_schema
                .schema
                .or(schema)
                .unwrap_or_else(|| serde_json::json!({}));
            if !schema.is_object() {
                return Err(invalid(
                    "'response_format.json_schema.schema' must be a JSON object",
                    "response_format.json_schema.schema",
                ));
            }
            ResponseFormat::JsonSchema {
                name: json_schema.name,
                description: json_schema.description,
                schema,
                strict: json_schema.strict,
            }
        }
    })
}

fn message_from_wire(i: usize, m: wire::ChatMessage) -> Result<Message, GatewayError> {
    let at = |field: &str| format!("messages[{i}].{field}");
    Ok(match m {
        wire::ChatMessage::System { content, name } => Message {
            role: Role::System,
            content: text_only(content, &at("content"))?,
            name,
        },
        wire::ChatMessage::Developer { content, name } => Message {
            role: Role::Developer,
            content: text_only(content, &at("content"))?,
            name,
        },
        wire::ChatMessage::User { content, name } => Message {
            role: Role::User,
            content: content_blocks(content, &at("content"))?,
            name,
        },
        wire::ChatMessage::Assistant {
            content,
            refusal,
            tool_calls,
            name,
            reasoning_content,
            annotations: _,
            audio,
            function_call,
        } => {
            if function_call.as_ref().is_some_and(|f| !f.is_null()) {
                return Err(invalid(
                    "'function_call' is deprecated and not supported; use 'tool_calls'",
                    &at("function_call"),
                ));
            }
            if audio.as_ref().is_some_and(|a| !a.is_null()) {
                return Err(invalid(
                    "audio outputs cannot be sent back through Switchyard",
                    &at("audio"),
                ));
            }
            let mut blocks = Vec::new();
            if let Some(text) = reasoning_content.filter(|t| !t.is_empty()) {
                blocks.push(ContentBlock::Reasoning {
                    text,
                    signature: None,
                });
            }
            if let Some(content) = content {
                blocks.extend(content_blocks(content, &at("content"))?);
            }
            if let Some(text) = refusal {
                blocks.push(ContentBlock::Refusal { text });
            }
            for (j, call) in tool_calls.unwrap_or_default().into_iter().enumerate() {
                if call.kind != "function" {
                    return Err(invalid(
                        format!("tool call type '{}' is not supported", call.kind),
                        &at(&format!("tool_calls[{j}].type")),
                    ));
                }
                blocks.push(ContentBlock::ToolUse {
                    id: call.id,
                    name: call.function.name,
                    arguments: call.function.arguments,
                    signature: None,
                });
            }
            if blocks.is_empty() {
                return Err(invalid(
                    "an assistant message needs 'content' or 'tool_calls'",
                    &at("content"),
                ));
            }
            Message {
                role: Role::Assistant,
                content: blocks,
                name,
            }
        }
        wire::ChatMessage::Tool {
            content,
            tool_call_id,
        } => Message {
            role: Role::Tool,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: tool_call_id,
                content: content_blocks(content, &at("content"))?,
                is_error: false,
            }],
            name: None,
        },
    })
}

/// System and developer messages accept only text parts.
fn text_only(
    content: wire::MessageContent,
    param: &str,
) -> Result<Vec<ContentBlock>, GatewayError> {
    let blocks = content_blocks(content, param)?;
    if blocks
        .iter()
        .any(|b| !matches!(b, ContentBlock::Text { .. }))
    {
        return Err(invalid(
            "system and developer messages may only contain text parts",
            param,
        ));
    }
    Ok(blocks)
}

fn content_blocks(
    content: wire::MessageContent,
    param: &str,
) -> Result<Vec<ContentBlock>, GatewayError> {
    match content {
        wire::MessageContent::Text(text) => Ok(vec![ContentBlock::text(text)]),
        wire::MessageContent::Parts(parts) => parts
            .into_iter()
            .enumerate()
            .map(|(j, part)| content_part(part, &format!("{param}[{j}]")))
            .collect(),
    }
}

fn content_part(part: wire::ContentPart, param: &str) -> Result<ContentBlock, GatewayError> {
    Ok(match part {
        wire::ContentPart::Text { text } => ContentBlock::text(text),
        wire::ContentPart::Refusal { refusal } => ContentBlock::Refusal { text: refusal },
        wire::ContentPart::ImageUrl { image_url } => {
            let detail = match image_url.detail.as_deref() {
                None => None,
                Some("auto") => Some(ImageDetail::Auto),
                Some("low") => Some(ImageDetail::Low),
                Some("high") => Some(ImageDetail::High),
                Some(other) => {
                    return Err(invalid(
                        format!("'{other}' is not one of ['auto', 'low', 'high']"),
                        &format!("{param}.image_url.detail"),
                    ))
                }
            };
            ContentBlock::Image {
                source: url_or_data(&image_url.url, &format!("{param}.image_url.url"))?,
                detail,
                cache_control: None,
            }
        }
        wire::ContentPart::InputAudio { input_audio } => ContentBlock::Audio {
            data: input_audio.data,
            format: input_audio.format,
        },
        wire::ContentPart::File { file } => {
            let source = match (file.file_data, file.file_id) {
                (Some(data), _) => url_or_data(&data, &format!("{param}.file.file_data"))?,
                (None, Some(id)) => ImageSource::FileRef {
                    uri: id,
                    media_type: None,
                },
                (None, None) => {
                    return Err(invalid(
                        "a file part needs 'file_id' or 'file_data'",
                        &format!("{param}.file"),
                    ))
                }
            };
            ContentBlock::Document {
                source,
                name: file.filename,
                cache_control: None,
            }
        }
    })
}

/// A `data:<media>;base64,<data>` URI becomes inline data; anything else must be an http(s) URL.
pub(crate) fn url_or_data(url: &str, param: &str) -> Result<ImageSource, GatewayError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| invalid("malformed data URI: missing ','", param))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| invalid("data URIs must be base64-encoded (';base64,')", param))?;
        if media_type.is_empty() || !media_type.contains('/') {
            return Err(invalid(
                "data URI has no media type such as image/png",
                param,
            ));
        }
        return Ok(ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(ImageSource::Url {
            url: url.to_owned(),
        })
    } else {
        Err(invalid(
            "expected an http(s) URL or a base64 data URI",
            param,
        ))
    }
}
