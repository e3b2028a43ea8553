//! Bedrock Converse request JSON -> canonical request. The model id comes from the path.

use base64::Engine as _;
use switchyard_types::{
    CacheControl, ChatRequest, ContentBlock, ImageSource, Message, ResponseFormat, Role,
    SamplingParams, Tool, ToolChoice,
};

use crate::error::GatewayError;
use crate::json::{self, JsonError};
use switchyard_wire_bedrock as wire;

/// Parses `POST /model/{modelId}/converse` (and `converse-stream`).
pub fn decode_converse_request(
    model_id: &str,
    body: &[u8],
    stream: bool,
) -> Result<ChatRequest, GatewayError> {
    let req: wire::ConverseRequest = parse_json(body)?;
    let declined = [
        ("guardrailConfig", req.guardrail_config.is_some()),
        ("promptVariables", req.prompt_variables.is_some()),
        (
            "additionalModelResponseFieldPaths",
            req.additional_model_response_field_paths.is_some(),
        ),
    ];
    if let Some((name, _)) = declined.iter().find(|(_, set)| *set) {
        return Err(invalid(
            format!("{name} is not supported by Switchyard"),
            name,
        ));
    }
    let _ = (
        req.model_id,
        req.performance_config,
        req.service_tier,
        req.request_metadata,
    );
    if req.messages.is_empty() {
        return Err(invalid(
            "The messages field is required and must not be empty.",
            "messages",
        ));
    }
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = req.system {
        let mut blocks: Vec<ContentBlock> = Vec::new();
        for block in system {
            match block {
                wire::SystemBlock::Text(text) => blocks.push(ContentBlock::text(text)),
                wire::SystemBlock::CachePoint(cp) => mark_last(&mut blocks, &cp),
                wire::SystemBlock::GuardContent(_) => {
                    return Err(invalid(
                        "guardContent is not supported by Switchyard",
                        "system",
                    ))
                }
            }
        }
        if !blocks.is_empty() {
            messages.push(Message {
                role: Role::System,
                content: blocks,
                name: None,
            });
        }
    }
    for (i, m) in req.messages.into_iter().enumerate() {
        push_message(i, m, &mut messages)?;
    }

    let mut tools = Vec::new();
    let mut tool_choice = None;
    if let Some(config) = req.tool_config {
        for (i, entry) in config.tools.into_iter().enumerate() {
            match entry {
                wire::ToolEntry::ToolSpec(spec) => tools.push(Tool {
                    name: spec.name,
                    description: spec.description,
                    parameters: spec.input_schema.json,
                    strict: spec.strict,
                    cache_control: None,
                }),
                wire::ToolEntry::CachePoint(cp) => {
                    if let Some(last) = tools.last_mut() {
                        last.cache_control = Some(to_cache_control(&cp));
                    }
                }
                wire::ToolEntry::SystemTool(_) => {
                    return Err(invalid(
                        "systemTool entries are not supported by Switchyard",
                        &format!("toolConfig.tools[{i}]"),
                    ))
                }
            }
        }
        tool_choice = config.tool_choice.map(|c| match c {
            wire::ToolChoice::Auto(_) => ToolChoice::Auto,
            wire::ToolChoice::Any(_) => ToolChoice::Required,
            wire::ToolChoice::Tool(t) => ToolChoice::Named(t.name),
        });
        if let Some(ToolChoice::Named(name)) = &tool_choice {
            if !tools.iter().any(|t| &t.name == name) {
                return Err(invalid(
                    format!("toolChoice names tool {name}, which is not in toolConfig.tools"),
                    "toolConfig.toolChoice",
                ));
            }
        }
    }
    let response_format = match req.output_config.and_then(|o| o.text_format) {
        None => None,
        Some(format) if format.kind == "json_schema" => {
            let def = format.structure.json_schema;
            let schema: serde_json::Value = serde_json::from_str(&def.schema).map_err(|e| {
                invalid(
                    format!("outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON: {e}"),
                    "outputConfig",
                )
            })?;
            Some(ResponseFormat::JsonSchema {
                name: def.name.unwrap_or_else(|| "response".to_owned()),
                description: def.description,
                schema,
                strict: Some(true),
            })
        }
        Some(format) => {
            return Err(invalid(
                format!("textFormat type {} is not supported", format.kind),
                "outputConfig.textFormat.type",
            ))
        }
    };
    let inference = req.inference_config;
    let sampling = SamplingParams {
        temperature: inference.as_ref().and_then(|c| c.temperature),
        top_p: inference.as_ref().and_then(|c| c.top_p),
        max_output_tokens: inference.as_ref().and_then(|c| c.max_tokens),
        stop: inference.and_then(|c| c.stop_sequences).unwrap_or_default(),
        ..SamplingParams::default()
    };
    if sampling.max_output_tokens == Some(0) {
        return Err(invalid(
            "inferenceConfig.maxTokens must be at least 1",
            "inferenceConfig.maxTokens",
        ));
    }
    if sampling
        .temperature
        .is_some_and(|t| !(0.0..=1.0).contains(&t))
    {
        return Err(invalid(
            "inferenceConfig.temperature must be between 0 and 1",
            "inferenceConfig.temperature",
        ));
    }
    let mut provider_options = std::collections::BTreeMap::new();
    if let Some(extra) = req.additional_model_request_fields {
        // Model-native fields: forwarded to Bedrock upstreams only.
        provider_options.insert("bedrock".to_owned(), extra);
    }
    Ok(ChatRequest {
        model: model_id.to_owned(),
        messages,
        sampling,
        tools,
        tool_choice,
        response_format,
        stream,
        stream_include_usage: true,
        provider_options,
        ..ChatRequest::default()
    })
}

/// `POST /model/{modelId}/count-tokens`: `{"input": {"converse": {...}}}` (a Converse
/// request's messages, system, tools) or `{"input": {"invokeModel": {"body": "..."}}}` (an
/// `invoke` body as a JSON string; returned as bytes for the Anthropic decoder).
pub fn decode_count_tokens_input(model_id: &str, body: &[u8]) -> Result<CountInput, GatewayError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CountTokens {
        input: Input,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Input {
        #[serde(default)]
        converse: Option<serde_json::Value>,
        #[serde(default)]
        invoke_model: Option<InvokeModel>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct InvokeModel {
        body: String,
    }
    let parsed: CountTokens = parse_json(body)?;
    match (parsed.input.converse, parsed.input.invoke_model) {
        (Some(converse), None) => {
            let bytes = serde_json::to_vec(&converse)
                .map_err(|e| invalid(format!("input.converse: {e}"), "input.converse"))?;
            decode_converse_request(model_id, &bytes, false)
                .map(|r| CountInput::Converse(Box::new(r)))
        }
        // A blob: base64 on the wire, as the AWS SDKs send it.
        (None, Some(invoke)) => base64::engine::general_purpose::STANDARD
            .decode(invoke.body.trim())
            .map(CountInput::InvokeBody)
            .map_err(|_| {
                invalid(
                    "input.invokeModel.body must be base64 (a blob)",
                    "input.invokeModel.body",
                )
            }),
        _ => Err(invalid(
            "input must hold exactly one of converse and invokeModel",
            "input",
        )),
    }
}

/// What a count-tokens request asks to count.
#[derive(Debug)]
pub enum CountInput {
    Converse(Box<ChatRequest>),
    /// An `invoke` body (Anthropic's format), still to be decoded.
    InvokeBody(Vec<u8>),
}

fn push_message(i: usize, m: wire::Message, out: &mut Vec<Message>) -> Result<(), GatewayError> {
    let assistant = match m.role.as_str() {
        "user" => false,
        "assistant" => true,
        other => {
            return Err(invalid(
                format!("messages.{i}.role: {other} is not one of user, assistant"),
                &format!("messages.{i}.role"),
            ))
        }
    };
    let mut opened_here = false;
    for (j, block) in m.content.into_iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        let (role, block) = match block {
            wire::ContentBlock::CachePoint(cp) => {
                if let Some(last) = out.last_mut().filter(|_| opened_here) {
                    mark_last(&mut last.content, &cp);
                }
                continue;
            }
            wire::ContentBlock::ToolResult(result) if !assistant => {
                let content = result
                    .content
                    .into_iter()
                    .map(|c| tool_result_content(c, &at))
                    .collect::<Result<Vec<_>, _>>()?;
                (
                    Role::Tool,
                    ContentBlock::ToolResult {
                        tool_use_id: result.tool_use_id,
                        content,
                        is_error: result.status.as_deref() == Some("error"),
                    },
                )
            }
            wire::ContentBlock::ToolUse(call) if assistant => (
                Role::Assistant,
                ContentBlock::ToolUse {
                    id: call.tool_use_id,
                    name: call.name,
                    arguments: call.input.to_string(),
                    signature: None,
                },
            ),
            wire::ContentBlock::ReasoningContent(r) if assistant => (
                Role::Assistant,
                match r {
                    wire::ReasoningBlock::ReasoningText(t) => ContentBlock::Reasoning {
                        text: t.text,
                        signature: t.signature,
                    },
                    wire::ReasoningBlock::RedactedContent(data) => {
                        ContentBlock::RedactedReasoning { data }
                    }
                },
            ),
            wire::ContentBlock::Text(text) => {
                let role = if assistant {
                    Role::Assistant
                } else {
                    Role::User
                };
                (role, ContentBlock::text(text))
            }
            wire::ContentBlock::Image(image) if !assistant => {
                (Role::User, image_block(image, &at)?)
            }
            wire::ContentBlock::Document(doc) if !assistant => {
                (Role::User, document_block(doc, &at)?)
            }
            wire::ContentBlock::Video(_)
            | wire::ContentBlock::Audio(_)
            | wire::ContentBlock::GuardContent(_)
            | wire::ContentBlock::CitationsContent(_)
            | wire::ContentBlock::SearchResult(_) => {
                return Err(invalid(
                    format!("{at}: this content block type is not supported by Switchyard"),
                    &at,
                ))
            }
            _ => {
                return Err(invalid(
                    format!(
                        "{at}: this content block is not allowed in a {} message",
                        m.role
                    ),
                    &at,
                ))
            }
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
    Ok(())
}

fn tool_result_content(c: wire::ToolResultContent, at: &str) -> Result<ContentBlock, GatewayError> {
    Ok(match c {
        wire::ToolResultContent::Json(v) => ContentBlock::text(v.to_string()),
        wire::ToolResultContent::Text(t) => ContentBlock::text(t),
        wire::ToolResultContent::Image(i) => image_block(i, at)?,
        wire::ToolResultContent::Document(d) => document_block(d, at)?,
        wire::ToolResultContent::Video(_) | wire::ToolResultContent::SearchResult(_) => {
            return Err(invalid(
                format!("{at}: this tool result content is not supported by Switchyard"),
                at,
            ))
        }
    })
}

fn image_block(image: wire::ImageBlock, at: &str) -> Result<ContentBlock, GatewayError> {
    let media_type = format!("image/{}", image.format);
    let source = match image.source {
        wire::Source::Bytes(data) => ImageSource::Base64 { media_type, data },
        wire::Source::S3Location(s3) => ImageSource::FileRef {
            uri: s3.uri,
            media_type: Some(media_type),
        },
        _ => {
            return Err(invalid(
                format!("{at}: an image needs bytes or an s3Location"),
                at,
            ))
        }
    };
    Ok(ContentBlock::Image {
        source,
        detail: None,
        cache_control: None,
    })
}

fn document_block(doc: wire::DocumentBlock, at: &str) -> Result<ContentBlock, GatewayError> {
    let media_type = match doc.format.as_deref().unwrap_or("txt") {
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "html" => "text/html",
        "md" => "text/markdown",
        _ => "text/plain",
    }
    .to_owned();
    let source = match doc.source {
        wire::Source::Bytes(data) => ImageSource::Base64 { media_type, data },
        wire::Source::Text(text) => ImageSource::Base64 {
            media_type: "text/plain".to_owned(),
            data: base64::engine::general_purpose::STANDARD.encode(text),
        },
        wire::Source::S3Location(s3) => ImageSource::FileRef {
            uri: s3.uri,
            media_type: Some(media_type),
        },
        wire::Source::Content(_) => {
            return Err(invalid(
                format!("{at}: document content sources are not supported; send bytes or text"),
                at,
            ))
        }
    };
    Ok(ContentBlock::Document {
        source,
        name: Some(doc.name),
        cache_control: None,
    })
}

/// A `cachePoint` marks the block before it.
fn mark_last(blocks: &mut [ContentBlock], cp: &wire::CachePoint) {
    if let Some(
        ContentBlock::Text { cache_control, .. }
        | ContentBlock::Image { cache_control, .. }
        | ContentBlock::Document { cache_control, .. },
    ) = blocks.last_mut()
    {
        *cache_control = Some(to_cache_control(cp));
    }
}

fn to_cache_control(cp: &wire::CachePoint) -> CacheControl {
    CacheControl {
        ttl: cp.ttl.clone(),
    }
}

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param.to_owned()))
}

/// Deserializes a request body, wording failures the way AWS validation does.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    json::parse(body).map_err(|err| match err {
        JsonError::Syntax(err) => {
            GatewayError::invalid(format!("The request body is not valid JSON: {err}"), None)
        }
        JsonError::UnknownField { path } => GatewayError::invalid(
            format!("Unknown parameter in input: \"{path}\""),
            Some(path),
        ),
        JsonError::MissingField { path } => GatewayError::invalid(
            format!("Missing required parameter in input: \"{path}\""),
            Some(path),
        ),
        JsonError::Invalid { path, message } => match path {
            Some(p) => GatewayError::invalid(format!("Invalid value for {p}: {message}"), Some(p)),
            None => GatewayError::invalid(format!("Invalid request body: {message}"), None),
        },
    })
}
