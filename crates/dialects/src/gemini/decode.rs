//! Gemini request JSON -> canonical request.
//!
//! Gemini has two roles (`user`, `model`); function responses travel in `user` turns and
//! become canonical `Tool` messages. Function calls may have no id: ids are synthesized in
//! order (`call_0`, `call_1`, ...) and a response without an id answers the earliest
//! unanswered call of the same name. Schemas in Google's OpenAPI subset (`STRING`,
//! `OBJECT`, ...) are turned into JSON Schema.

use serde_json::Value;
use switchyard_types::{
    ChatRequest, ContentBlock, EmbeddingInput, EmbeddingRequest, EncodingFormat, ImageSource,
    Message, ReasoningConfig, ResponseFormat, Role, SamplingParams, Tool, ToolChoice,
};
use switchyard_wire_gemini as wire;

use crate::error::GatewayError;
use crate::json::{self, JsonError};

/// Parses `POST models/{model}:generateContent` (and `:streamGenerateContent`).
pub fn decode_generate_request(
    model: &str,
    body: &[u8],
    stream: bool,
) -> Result<ChatRequest, GatewayError> {
    let req: wire::GenerateContentRequest = parse_json(body)?;
    generate_to_canonical(model, req, stream)
}

/// Parses `POST models/{model}:countTokens` into the request whose prompt is to be counted.
pub fn decode_count_tokens_request(model: &str, body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let req: wire::CountTokensRequest = parse_json(body)?;
    let inner = match req.generate_content_request {
        Some(inner) => inner,
        None => wire::GenerateContentRequest {
            contents: req.contents.unwrap_or_default(),
            system_instruction: req.system_instruction,
            tools: req.tools,
            ..Default::default()
        },
    };
    generate_to_canonical(model, inner, false)
}

/// Parses `:embedContent` (one) or `:batchEmbedContents` (many) into one canonical request.
pub fn decode_embed_request(
    model: &str,
    body: &[u8],
    batch: bool,
) -> Result<EmbeddingRequest, GatewayError> {
    let requests = if batch {
        let req: wire::BatchEmbedRequest = parse_json(body)?;
        req.requests
    } else {
        vec![parse_json::<wire::EmbedRequest>(body)?]
    };
    if requests.is_empty() {
        return Err(invalid("requests must not be empty", "requests"));
    }
    let mut texts = Vec::with_capacity(requests.len());
    let mut dimensions = None;
    for (i, r) in requests.into_iter().enumerate() {
        let text: String = r
            .content
            .parts
            .iter()
            .filter_map(|p| p.text.as_deref())
            .collect::<Vec<_>>()
            .join("\n");
        if text.is_empty() {
            return Err(invalid(
                "content must have at least one non-empty text part",
                &format!("requests[{i}].content"),
            ));
        }
        texts.push(text);
        if r.output_dimensionality.is_some() {
            dimensions = r.output_dimensionality;
        }
    }
    Ok(EmbeddingRequest {
        model: model.to_owned(),
        input: EmbeddingInput::Texts(texts),
        encoding_format: EncodingFormat::Float,
        dimensions,
        user: None,
    })
}

fn generate_to_canonical(
    model: &str,
    req: wire::GenerateContentRequest,
    stream: bool,
) -> Result<ChatRequest, GatewayError> {
    if req.contents.is_empty() {
        return Err(invalid("contents is not specified", "contents"));
    }
    if req.cached_content.is_some() {
        return Err(invalid(
            "cachedContent is not supported by Switchyard; send the content inline",
            "cachedContent",
        ));
    }
    let mut messages = Vec::with_capacity(req.contents.len() + 1);
    if let Some(system) = req.system_instruction {
        let text: Vec<ContentBlock> = system
            .parts
            .into_iter()
            .filter_map(|p| p.text)
            .map(ContentBlock::text)
            .collect();
        if !text.is_empty() {
            messages.push(Message {
                role: Role::System,
                content: text,
                name: None,
            });
        }
    }
    let mut calls = CallIds::default();
    for (i, content) in req.contents.into_iter().enumerate() {
        push_content(i, content, &mut calls, &mut messages)?;
    }

    let mut tools = Vec::new();
    for (i, t) in req.tools.unwrap_or_default().into_iter().enumerate() {
        let at = format!("tools[{i}]");
        let server_tool = [
            ("googleSearch", t.google_search.is_some()),
            ("googleSearchRetrieval", t.google_search_retrieval.is_some()),
            ("codeExecution", t.code_execution.is_some()),
            ("urlContext", t.url_context.is_some()),
            ("retrieval", t.retrieval.is_some()),
        ];
        if let Some((name, _)) = server_tool.iter().find(|(_, set)| *set) {
            return Err(invalid(
                format!("{at}.{name}: Google's built-in tools are not supported by Switchyard; declare functions instead"),
                &format!("{at}.{name}"),
            ));
        }
        for (j, f) in t
            .function_declarations
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let parameters = match (f.parameters_json_schema, f.parameters) {
                (Some(schema), None) => schema,
                (None, Some(openapi)) => json_schema_from_openapi(openapi),
                (None, None) => serde_json::json!({"type": "object", "properties": {}}),
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "parameters and parametersJsonSchema are mutually exclusive",
                        &format!("{at}.functionDeclarations[{j}]"),
                    ))
                }
            };
            tools.push(Tool {
                name: f.name,
                description: f.description,
                parameters,
                strict: None,
                cache_control: None,
            });
        }
    }
    let mut tool_choice = None;
    if let Some(config) = req.tool_config.and_then(|c| c.function_calling_config) {
        let allowed = config.allowed_function_names.unwrap_or_default();
        tool_choice = match config.mode.as_deref() {
            None | Some("AUTO") | Some("VALIDATED") | Some("MODE_UNSPECIFIED") => {
                Some(ToolChoice::Auto)
            }
            Some("NONE") => Some(ToolChoice::None),
            Some("ANY") if allowed.len() == 1 => Some(ToolChoice::Named(allowed[0].clone())),
            Some("ANY") => Some(ToolChoice::Required),
            Some(other) => {
                return Err(invalid(
                    format!(
                        "Invalid value at 'tool_config.function_calling_config.mode' ({other})"
                    ),
                    "toolConfig.functionCallingConfig.mode",
                ))
            }
        };
        if !allowed.is_empty() {
            if let Some(name) = allowed
                .iter()
                .find(|n| !tools.iter().any(|t| &t.name == *n))
            {
                return Err(invalid(
                    format!("allowedFunctionNames names `{name}`, which is not declared"),
                    "toolConfig.functionCallingConfig.allowedFunctionNames",
                ));
            }
            tools.retain(|t| allowed.contains(&t.name));
        }
    }

    let g = req.generation_config.unwrap_or_default();
    if g.candidate_count.is_some_and(|n| n > 1) {
        return Err(invalid(
            "Switchyard serves exactly one candidate per request; candidateCount must be 1",
            "generationConfig.candidateCount",
        ));
    }
    if g.response_modalities
        .as_ref()
        .is_some_and(|m| m.iter().any(|m| m != "TEXT"))
    {
        return Err(invalid(
            "only TEXT responseModalities are supported by Switchyard",
            "generationConfig.responseModalities",
        ));
    }
    if g.speech_config.is_some() {
        return Err(invalid(
            "speechConfig is not supported by Switchyard",
            "generationConfig.speechConfig",
        ));
    }
    let response_format = match (
        g.response_mime_type.as_deref(),
        g.response_json_schema,
        g.response_schema,
    ) {
        (_, Some(schema), _) => Some(json_schema_format(schema)),
        (_, None, Some(openapi)) => Some(json_schema_format(json_schema_from_openapi(openapi))),
        (Some("application/json"), None, None) => Some(ResponseFormat::JsonObject),
        (None | Some("text/plain"), None, None) => None,
        (Some(other), None, None) => {
            return Err(invalid(
                format!(
                "responseMimeType `{other}` is not supported; use text/plain or application/json"
            ),
                "generationConfig.responseMimeType",
            ))
        }
    };
    let reasoning = g.thinking_config.map(|t| ReasoningConfig {
        enabled: Some(t.thinking_budget != Some(0)),
        budget_tokens: t.thinking_budget.filter(|b| *b > 0).map(|b| b as u32),
        effort: t.thinking_level.map(|l| l.to_ascii_lowercase()),
        summary: None,
    });
    if g.top_k.is_some_and(|k| k < 0.0) {
        return Err(invalid("topK must be positive", "generationConfig.topK"));
    }
    let mut provider_options = std::collections::BTreeMap::new();
    if let Some(safety) = req.safety_settings {
        // Gemini's own safety thresholds: forwarded to Gemini upstreams only.
        provider_options.insert(
            "gemini".to_owned(),
            serde_json::json!({"safetySettings": safety}),
        );
    }
    Ok(ChatRequest {
        model: model.to_owned(),
        messages,
        sampling: SamplingParams {
            temperature: g.temperature,
            top_p: g.top_p,
            top_k: g.top_k.map(|k| k as u32),
            max_output_tokens: g.max_output_tokens,
            stop: g.stop_sequences.unwrap_or_default(),
            seed: g.seed,
            frequency_penalty: g.frequency_penalty,
            presence_penalty: g.presence_penalty,
            logprobs: g.response_logprobs.unwrap_or(false),
            top_logprobs: g.logprobs.map(|n| n.min(20) as u8),
            ..SamplingParams::default()
        },
        tools,
        tool_choice,
        response_format,
        reasoning,
        stream,
        stream_include_usage: true,
        provider_options,
        ..ChatRequest::default()
    })
}

/// Ids for function calls that came without one, and the calls still waiting for a response.
#[derive(Default)]
struct CallIds {
    next: u32,
    open: Vec<(String, String)>,
}

impl CallIds {
    fn call(&mut self, id: Option<String>, name: &str) -> String {
        let id = id.unwrap_or_else(|| {
            let id = format!("call_{}", self.next);
            self.next += 1;
            id
        });
        self.open.push((name.to_owned(), id.clone()));
        id
    }

    fn response(&mut self, id: Option<String>, name: &str) -> String {
        if let Some(id) = id {
            self.open.retain(|(_, open)| *open != id);
            return id;
        }
        match self.open.iter().position(|(n, _)| n == name) {
            Some(i) => self.open.remove(i).1,
            None => format!("call_{name}"),
        }
    }
}

fn push_content(
    i: usize,
    content: wire::Content,
    calls: &mut CallIds,
    out: &mut Vec<Message>,
) -> Result<(), GatewayError> {
    let model_turn = match content.role.as_deref() {
        None | Some("user") => false,
        Some("model") => true,
        Some(other) => {
            return Err(invalid(
                format!("Please use a valid role: user, model (got `{other}`)"),
                &format!("contents[{i}].role"),
            ))
        }
    };
    let mut opened_here = false;
    for (j, part) in content.parts.into_iter().enumerate() {
        let at = format!("contents[{i}].parts[{j}]");
        let (role, block) = if model_turn {
            (Role::Assistant, model_part(part, calls, &at)?)
        } else {
            user_part(part, calls, &at)?
        };
        let Some(block) = block else { continue };
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

fn model_part(
    part: wire::Part,
    calls: &mut CallIds,
    at: &str,
) -> Result<Option<ContentBlock>, GatewayError> {
    unsupported_part(&part, at)?;
    let signature = part.thought_signature;
    if let Some(call) = part.function_call {
        let id = calls.call(call.id, &call.name);
        let arguments = call
            .args
            .unwrap_or_else(|| Value::Object(Default::default()))
            .to_string();
        return Ok(Some(ContentBlock::ToolUse {
            id,
            name: call.name,
            arguments,
            signature,
        }));
    }
    if let Some(text) = part.text {
        if part.thought == Some(true) {
            return Ok(Some(ContentBlock::Reasoning { text, signature }));
        }
        return Ok(Some(ContentBlock::text(text)));
    }
    if part.inline_data.is_some() || part.file_data.is_some() {
        return Err(invalid(
            "model turns may contain only text and function calls",
            at,
        ));
    }
    Ok(None)
}

fn user_part(
    part: wire::Part,
    calls: &mut CallIds,
    at: &str,
) -> Result<(Role, Option<ContentBlock>), GatewayError> {
    unsupported_part(&part, at)?;
    if let Some(response) = part.function_response {
        let id = calls.response(response.id, &response.name);
        let (content, is_error) = tool_output(response.response);
        return Ok((
            Role::Tool,
            Some(ContentBlock::ToolResult {
                tool_use_id: id,
                content: vec![ContentBlock::text(content)],
                is_error,
            }),
        ));
    }
    if let Some(text) = part.text {
        return Ok((Role::User, Some(ContentBlock::text(text))));
    }
    if let Some(blob) = part.inline_data {
        return Ok((
            Role::User,
            Some(media(
                ImageSource::Base64 {
                    media_type: blob.mime_type.clone(),
                    data: blob.data,
                },
                &blob.mime_type,
                at,
            )?),
        ));
    }
    if let Some(file) = part.file_data {
        let mime = file.mime_type.clone().unwrap_or_default();
        return Ok((
            Role::User,
            Some(media(
                ImageSource::FileRef {
                    uri: file.file_uri,
                    media_type: file.mime_type,
                },
                &mime,
                at,
            )?),
        ));
    }
    if part.function_call.is_some() {
        return Err(invalid("function calls belong in model turns", at));
    }
    Ok((Role::User, None))
}

fn unsupported_part(part: &wire::Part, at: &str) -> Result<(), GatewayError> {
    if part.executable_code.is_some() || part.code_execution_result.is_some() {
        return Err(invalid(
            "code execution parts are not supported by Switchyard",
            at,
        ));
    }
    let known = part.text.is_some()
        || part.inline_data.is_some()
        || part.file_data.is_some()
        || part.function_call.is_some()
        || part.function_response.is_some()
        || part.thought_signature.is_some();
    if !known {
        return Err(invalid(
            "a part needs one of text, inlineData, fileData, functionCall, functionResponse",
            at,
        ));
    }
    Ok(())
}

/// Images by MIME type; audio as audio; anything else (PDF, text) as a document.
fn media(source: ImageSource, mime: &str, at: &str) -> Result<ContentBlock, GatewayError> {
    if mime.starts_with("image/") {
        return Ok(ContentBlock::Image {
            source,
            detail: None,
            cache_control: None,
        });
    }
    if let Some(format) = mime.strip_prefix("audio/") {
        let ImageSource::Base64 { data, .. } = source else {
            return Err(invalid("audio must be sent inline (inlineData)", at));
        };
        let format = match format {
            "mpeg" | "mp3" => "mp3",
            other => other,
        };
        return Ok(ContentBlock::Audio {
            data,
            format: format.to_owned(),
        });
    }
    if mime.starts_with("video/") {
        return Err(invalid("video parts are not supported by Switchyard", at));
    }
    Ok(ContentBlock::Document {
        source,
        name: None,
        cache_control: None,
    })
}

/// A function response object as text: `{"output": "..."}` is its string, `{"error": ...}`
/// marks a failed call; any other object is passed on as JSON.
fn tool_output(response: Value) -> (String, bool) {
    if let Value::Object(map) = &response {
        if map.len() == 1 {
            match (map.get("output"), map.get("error")) {
                (Some(Value::String(s)), _) => return (s.clone(), false),
                (Some(other), _) => return (other.to_string(), false),
                (_, Some(Value::String(s))) => return (s.clone(), true),
                (_, Some(other)) => return (other.to_string(), true),
                _ => {}
            }
        }
    }
    (response.to_string(), false)
}

fn json_schema_format(schema: Value) -> ResponseFormat {
    ResponseFormat::JsonSchema {
        name: "response".to_owned(),
        description: None,
        schema,
        strict: None,
    }
}

/// Google's OpenAPI subset -> JSON Schema: upper-case type names become lower-case
/// (`"STRING"` -> `"string"`), recursively; `nullable: true` becomes a type union.
pub fn json_schema_from_openapi(schema: Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
            for (key, value) in map {
                match key.as_str() {
                    "type" => {
                        let t = match value {
                            Value::String(s) => Value::String(s.to_ascii_lowercase()),
                            other => other,
                        };
                        let t = if nullable {
                            serde_json::json!([t, "null"])
                        } else {
                            t
                        };
                        out.insert(key, t);
                    }
                    "nullable" => {}
                    _ => {
                        out.insert(key, json_schema_from_openapi(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(json_schema_from_openapi).collect())
        }
        other => other,
    }
}

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param.to_owned()))
}

/// Deserializes a request body, wording failures the way Google APIs do.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    json::parse(body).map_err(|err| match err {
        JsonError::Syntax(err) => {
            GatewayError::invalid(format!("Invalid JSON payload received. {err}"), None)
        }
        JsonError::UnknownField { path } => GatewayError::invalid(
            format!("Invalid JSON payload received. Unknown name \"{path}\": Cannot find field."),
            Some(path),
        ),
        JsonError::MissingField { path } => GatewayError::invalid(
            format!("Invalid JSON payload received. Required field \"{path}\" is missing."),
            Some(path),
        ),
        JsonError::Invalid { path, message } => {
            let text = match &path {
                Some(p) => format!("Invalid value at '{p}': {message}"),
                None => format!("Invalid JSON payload received. {message}"),
            };
            GatewayError::invalid(text, path)
        }
    })
}
