//! OpenAI Responses request JSON -> canonical request.
//!
//! Switchyard's Responses API is stateless (`store: false` semantics): the whole conversation
//! comes in `input`; anything that refers to server-side state (`previous_response_id`,
//! `conversation`, item references, stored prompts, background runs) is declined with a 400
//! naming it, as are hosted tools (web search, file search, computer use, ...).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use switchyard_types::{
    ChatRequest, ContentBlock, ImageDetail, ImageSource, Message, ReasoningConfig, RequestMetadata,
    ResponseFormat, Role, SamplingParams, Tool, ToolChoice,
};

use crate::error::GatewayError;
use crate::json::{self, JsonError};
use crate::openai::decode::{check_range, url_or_data};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    model: String,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    instructions: Option<Value>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    text: Option<TextConfig>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_logprobs: Option<u8>,
    #[serde(default)]
    reasoning: Option<Reasoning>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<Value>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    safety_identifier: Option<String>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    prompt_cache_key: Option<String>,
    #[serde(default)]
    prompt_cache_retention: Option<String>,
    #[serde(default)]
    prompt_cache_options: Option<Value>,
    #[serde(default)]
    include: Option<Vec<String>>,
    #[serde(default)]
    truncation: Option<String>,
    // Server-side state and features a stateless gateway declines by name.
    #[serde(default)]
    previous_response_id: Option<Value>,
    #[serde(default)]
    conversation: Option<Value>,
    #[serde(default)]
    background: Option<bool>,
    #[serde(default)]
    prompt: Option<Value>,
    #[serde(default)]
    context_management: Option<Value>,
    #[serde(default)]
    max_tool_calls: Option<Value>,
    #[serde(default)]
    moderation: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextConfig {
    #[serde(default)]
    format: Option<Value>,
    #[serde(default)]
    verbosity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reasoning {
    #[serde(default)]
    effort: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    generate_summary: Option<String>,
}

/// Parses and validates a `POST /v1/responses` body.
pub fn decode_create_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let req: CreateRequest = parse_json(body)?;
    let stateful = [
        (
            "previous_response_id",
            req.previous_response_id
                .as_ref()
                .is_some_and(|v| !v.is_null()),
        ),
        (
            "conversation",
            req.conversation.as_ref().is_some_and(|v| !v.is_null()),
        ),
        ("prompt", req.prompt.as_ref().is_some_and(|v| !v.is_null())),
        ("background", req.background == Some(true)),
        (
            "context_management",
            req.context_management
                .as_ref()
                .is_some_and(|v| !v.is_null()),
        ),
        (
            "max_tool_calls",
            req.max_tool_calls.as_ref().is_some_and(|v| !v.is_null()),
        ),
        (
            "moderation",
            req.moderation.as_ref().is_some_and(|v| !v.is_null()),
        ),
    ];
    if let Some((name, _)) = stateful.iter().find(|(_, set)| *set) {
        return Err(invalid(
            format!("'{name}' is not supported: Switchyard's Responses API is stateless (store=false); send the whole conversation in 'input'"),
            name,
        ));
    }
    if req.truncation.as_deref() == Some("auto") {
        return Err(invalid(
            "truncation 'auto' is not supported; Switchyard never drops input silently",
            "truncation",
        ));
    }
    check_range("temperature", req.temperature, 0.0, 2.0)?;
    check_range("top_p", req.top_p, 0.0, 1.0)?;
    if req.max_output_tokens == Some(0) {
        return Err(invalid(
            "'max_output_tokens' must be at least 1",
            "max_output_tokens",
        ));
    }
    // Accepted and without effect: stream obfuscation, extra output fields, cache retention.
    let _ = (
        req.stream_options,
        req.include,
        req.store,
        req.prompt_cache_retention,
        req.prompt_cache_options,
    );

    let mut messages = Vec::new();
    match req.instructions {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => messages.push(Message::text(Role::Developer, text)),
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                push_item(item, &format!("instructions[{i}]"), &mut messages)?;
            }
        }
        Some(_) => {
            return Err(invalid(
                "'instructions' must be a string or a list of input items",
                "instructions",
            ))
        }
    }
    match req.input {
        None | Some(Value::Null) => {
            return Err(invalid("Missing required parameter: 'input'.", "input"))
        }
        Some(Value::String(text)) => messages.push(Message::text(Role::User, text)),
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                push_item(item, &format!("input[{i}]"), &mut messages)?;
            }
        }
        Some(_) => {
            return Err(invalid(
                "'input' must be a string or a list of input items",
                "input",
            ))
        }
    }
    if !messages
        .iter()
        .any(|m| m.role != Role::System && m.role != Role::Developer)
    {
        return Err(invalid("'input' must contain at least one item", "input"));
    }

    let tools = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| tool(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let tool_choice = match req.tool_choice {
        None | Some(Value::Null) => None,
        Some(choice) => Some(tool_choice(choice, &tools)?),
    };
    let response_format = match req.text.as_ref().and_then(|t| t.format.clone()) {
        None | Some(Value::Null) => None,
        Some(format) => Some(response_format(format)?),
    };
    if let Some(v) = req.text.as_ref().and_then(|t| t.verbosity.as_deref()) {
        if !matches!(v, "low" | "medium" | "high") {
            return Err(invalid(
                format!("'{v}' is not one of ['low', 'medium', 'high'] - 'text.verbosity'"),
                "text.verbosity",
            ));
        }
    }
    let reasoning = req.reasoning.map(|r| ReasoningConfig {
        enabled: r.effort.as_deref().map(|e| e != "none"),
        effort: r.effort,
        budget_tokens: None,
        summary: r.summary.or(r.generate_summary),
    });
    Ok(ChatRequest {
        model: req.model,
        messages,
        sampling: SamplingParams {
            temperature: req.temperature,
            top_p: req.top_p,
            max_output_tokens: req.max_output_tokens,
            logprobs: req.top_logprobs.is_some(),
            top_logprobs: req.top_logprobs,
            ..SamplingParams::default()
        },
        tools,
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format,
        reasoning,
        stream: req.stream.unwrap_or(false),
        stream_include_usage: true,
        metadata: RequestMetadata {
            user: req.safety_identifier.or(req.user),
            tags: req.metadata.unwrap_or_default(),
            service_tier: req.service_tier,
            prompt_cache_key: req.prompt_cache_key,
            // Nothing is stored here, and the wish is not forwarded: an upstream that stores
            // chat completions would keep what the client asked to have kept as a response.
            store: None,
        },
        provider_options: BTreeMap::new(),
    })
}

/// One input item: a message (with or without `type`), a function call from an earlier
/// turn, a function call's output, or reasoning.
fn push_item(item: Value, at: &str, out: &mut Vec<Message>) -> Result<(), GatewayError> {
    let Value::Object(map) = item else {
        return Err(invalid("an input item must be an object", at));
    };
    let kind = map.get("type").and_then(Value::as_str).unwrap_or("message");
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    let (role, block) = match kind {
        "message" => {
            let role = match map.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system") => Role::System,
                Some("developer") => Role::Developer,
                other => {
                    return Err(invalid(
                        format!("{other:?} is not one of ['user', 'assistant', 'system', 'developer'] - '{at}.role'"),
                        &format!("{at}.role"),
                    ))
                }
            };
            let content = match map.get("content") {
                Some(Value::String(s)) => vec![ContentBlock::text(s.clone())],
                Some(Value::Array(parts)) => parts
                    .iter()
                    .enumerate()
                    .map(|(j, p)| part(p, &format!("{at}.content[{j}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => {
                    return Err(invalid(
                        "a message needs 'content' (a string or a list of parts)",
                        &format!("{at}.content"),
                    ))
                }
            };
            out.push(Message {
                role,
                content,
                name: None,
            });
            return Ok(());
        }
        "function_call" => {
            let (Some(call_id), Some(name)) = (text("call_id"), text("name")) else {
                return Err(invalid("a function_call item needs 'call_id' and 'name'", at));
            };
            (
                Role::Assistant,
                ContentBlock::ToolUse {
                    id: call_id,
                    name,
                    arguments: text("arguments").unwrap_or_else(|| "{}".to_owned()),
                    signature: None,
                },
            )
        }
        "function_call_output" => {
            let Some(call_id) = text("call_id") else {
                return Err(invalid("a function_call_output item needs 'call_id'", at));
            };
            let content = match map.get("output") {
                Some(Value::String(s)) => vec![ContentBlock::text(s.clone())],
                Some(Value::Array(parts)) => parts
                    .iter()
                    .enumerate()
                    .map(|(j, p)| part(p, &format!("{at}.output[{j}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(invalid("'output' must be a string or a list of parts", at)),
            };
            (
                Role::Tool,
                ContentBlock::ToolResult {
                    tool_use_id: call_id,
                    content,
                    is_error: false,
                },
            )
        }
        "reasoning" => {
            if let Some(data) = text("encrypted_content") {
                (Role::Assistant, ContentBlock::RedactedReasoning { data })
            } else {
                let summary: String = map
                    .get("summary")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n");
                (
                    Role::Assistant,
                    ContentBlock::Reasoning {
                        text: summary,
                        signature: None,
                    },
                )
            }
        }
        "item_reference" => {
            return Err(invalid(
                "item references are not supported: Switchyard's Responses API is stateless; send the items themselves",
                at,
            ))
        }
        other => {
            return Err(invalid(
                format!("input items of type '{other}' are not supported by Switchyard (hosted tools have no equivalent)"),
                &format!("{at}.type"),
            ))
        }
    };
    // Calls, outputs and reasoning join the turn they belong to.
    match out.last_mut() {
        Some(last) if last.role == role => last.content.push(block),
        _ => out.push(Message {
            role,
            content: vec![block],
            name: None,
        }),
    }
    Ok(())
}

fn part(p: &Value, at: &str) -> Result<ContentBlock, GatewayError> {
    let text = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
    match p.get("type").and_then(Value::as_str) {
        Some("input_text") | Some("output_text") | Some("text") => Ok(ContentBlock::text(
            text("text").ok_or_else(|| invalid("a text part needs 'text'", at))?,
        )),
        Some("refusal") => Ok(ContentBlock::Refusal {
            text: text("refusal").unwrap_or_default(),
        }),
        Some("input_image") => {
            let detail = match text("detail").as_deref() {
                None | Some("auto") => None,
                Some("low") => Some(ImageDetail::Low),
                Some("high") => Some(ImageDetail::High),
                Some(other) => {
                    return Err(invalid(
                        format!("'{other}' is not one of ['auto', 'low', 'high']"),
                        &format!("{at}.detail"),
                    ))
                }
            };
            let source = match (text("image_url"), text("file_id")) {
                (Some(url), _) => url_or_data(&url, &format!("{at}.image_url"))?,
                (None, Some(id)) => ImageSource::FileRef {
                    uri: id,
                    media_type: None,
                },
                (None, None) => {
                    return Err(invalid("an input_image needs 'image_url' or 'file_id'", at))
                }
            };
            Ok(ContentBlock::Image {
                source,
                detail,
                cache_control: None,
            })
        }
        Some("input_file") => {
            let source = match (text("file_data"), text("file_url"), text("file_id")) {
                (Some(data), _, _) => url_or_data(&data, &format!("{at}.file_data"))?,
                (None, Some(url), _) => ImageSource::Url { url },
                (None, None, Some(id)) => ImageSource::FileRef {
                    uri: id,
                    media_type: None,
                },
                _ => {
                    return Err(invalid(
                        "an input_file needs 'file_data', 'file_url' or 'file_id'",
                        at,
                    ))
                }
            };
            Ok(ContentBlock::Document {
                source,
                name: text("filename"),
                cache_control: None,
            })
        }
        Some(other) => Err(invalid(
            format!("content parts of type '{other}' are not supported"),
            &format!("{at}.type"),
        )),
        None => Err(invalid("a content part needs 'type'", at)),
    }
}

fn tool(i: usize, t: Value) -> Result<Tool, GatewayError> {
    let at = format!("tools[{i}]");
    let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "function" {
        return Err(invalid(
            format!("tool type '{kind}' is not supported by Switchyard; only 'function' tools are (hosted tools have no equivalent)"),
            &format!("{at}.type"),
        ));
    }
    let Some(name) = t.get("name").and_then(Value::as_str) else {
        return Err(invalid(
            format!("Missing required parameter: '{at}.name'."),
            &format!("{at}.name"),
        ));
    };
    Ok(Tool {
        name: name.to_owned(),
        description: t
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        parameters: t
            .get("parameters")
            .filter(|p| !p.is_null())
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        strict: t.get("strict").and_then(Value::as_bool),
        cache_control: None,
    })
}

fn tool_choice(choice: Value, tools: &[Tool]) -> Result<ToolChoice, GatewayError> {
    let choice = match &choice {
        Value::String(mode) => match mode.as_str() {
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
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("function") => {
            let name = map.get("name").and_then(Value::as_str).unwrap_or("");
            if !tools.iter().any(|t| t.name == name) {
                return Err(invalid(
                    format!("'tool_choice' names function '{name}', which is not in 'tools'"),
                    "tool_choice.name",
                ));
            }
            ToolChoice::Named(name.to_owned())
        }
        _ => {
            return Err(invalid(
                "only 'auto', 'none', 'required' and {type: 'function', name} tool choices are supported",
                "tool_choice",
            ))
        }
    };
    Ok(choice)
}

fn response_format(format: Value) -> Result<ResponseFormat, GatewayError> {
    let text = |key: &str| format.get(key).and_then(Value::as_str).map(str::to_owned);
    match text("type").as_deref() {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let schema = format
                .get("schema")
                .filter(|s| s.is_object())
                .cloned()
                .ok_or_else(|| {
                    invalid(
                        "'text.format.schema' must be a JSON object",
                        "text.format.schema",
                    )
                })?;
            Ok(ResponseFormat::JsonSchema {
                name: text("name").unwrap_or_else(|| "response".to_owned()),
                description: text("description"),
                schema,
                strict: format.get("strict").and_then(Value::as_bool),
            })
        }
        _ => Err(invalid(
            "'text.format.type' must be 'text', 'json_object' or 'json_schema'",
            "text.format.type",
        )),
    }
}

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param.to_owned()))
}

/// Deserializes a request body, wording failures the way OpenAI does.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    json::parse(body).map_err(|err| match err {
        JsonError::Syntax(err) => GatewayError::invalid(
            format!("We could not parse the JSON body of your request ({err}). The body must be a JSON object."),
            None,
        )
        .with_code("invalid_json"),
        JsonError::UnknownField { path } => GatewayError::invalid(
            format!("Unknown parameter: '{path}'."),
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
