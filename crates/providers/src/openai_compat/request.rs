//! Canonical request -> OpenAI-compatible request body, shaped by the host's quirks.

use switchyard_types::{
    ChatRequest, ContentBlock, EmbeddingInput, EmbeddingRequest, ImageDetail, ImageSource, Message,
    ResponseFormat, Role, ToolChoice,
};
use switchyard_wire_openai as wire;

use super::quirks::{HostQuirks, MaxTokensField};
use crate::error::ProviderError;

/// Builds the upstream body. `stream` says which call this is (the adapter's `chat` or
/// `chat_stream`), whatever the client asked; streams always ask for usage where the host
/// allows, so that the gateway can account for every token.
pub fn chat_body(
    req: &ChatRequest,
    upstream_model: &str,
    stream: bool,
    quirks: &HostQuirks,
    host: &str,
) -> Result<wire::ChatCompletionRequest, ProviderError> {
    let mut messages = Vec::with_capacity(req.messages.len());
    for message in &req.messages {
        push_message(message, quirks, host, &mut messages)?;
    }
    let sampling = &req.sampling;
    let (max_tokens, max_completion_tokens) = match quirks.max_tokens_field {
        MaxTokensField::MaxCompletionTokens => (None, sampling.max_output_tokens),
        MaxTokensField::MaxTokens => (sampling.max_output_tokens, None),
    };
    let wants_logprobs = sampling.logprobs || !sampling.logit_bias.is_empty();
    if wants_logprobs && !quirks.logprobs {
        return Err(unsupported(host, "logprobs and logit_bias"));
    }
    let extension_used = sampling.top_k.is_some()
        || sampling.min_p.is_some()
        || sampling.repetition_penalty.is_some();
    if extension_used && !quirks.sampling_extensions {
        return Err(unsupported(host, "top_k, min_p and repetition_penalty"));
    }
    let tools = (!req.tools.is_empty()).then(|| {
        req.tools
            .iter()
            .map(|t| wire::ToolDef {
                kind: "function".to_owned(),
                function: wire::FunctionDef {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: Some(t.parameters.clone()),
                    strict: t.strict,
                },
            })
            .collect()
    });
    let tool_choice = req.tool_choice.as_ref().map(|c| match c {
        ToolChoice::Auto => wire::ToolChoice::Mode("auto".to_owned()),
        ToolChoice::None => wire::ToolChoice::Mode("none".to_owned()),
        ToolChoice::Required => wire::ToolChoice::Mode("required".to_owned()),
        ToolChoice::Named(name) => wire::ToolChoice::Named(wire::ToolChoiceNamed {
            kind: "function".to_owned(),
            function: wire::NamedFunction { name: name.clone() },
        }),
    });
    let response_format = req
        .response_format
        .as_ref()
        .map(|rf| response_format(rf, quirks));
    let reasoning_effort = match req.reasoning.as_ref().and_then(|r| r.effort.clone()) {
        Some(effort) if quirks.reasoning_effort => Some(effort),
        Some(_) => return Err(unsupported(host, "reasoning_effort")),
        None => None,
    };
    let meta = &req.metadata;
    let extras = quirks.openai_extras;
    Ok(wire::ChatCompletionRequest {
        model: upstream_model.to_owned(),
        messages,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        n: None,
        stream: stream.then_some(true),
        stream_options: (stream && quirks.stream_usage_option).then_some(wire::StreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        }),
        stop: match sampling.stop.len() {
            0 => None,
            _ => Some(wire::Stop::Many(sampling.stop.clone())),
        },
        max_tokens,
        max_completion_tokens,
        presence_penalty: sampling.presence_penalty,
        frequency_penalty: sampling.frequency_penalty,
        logit_bias: (!sampling.logit_bias.is_empty()).then(|| sampling.logit_bias.clone()),
        logprobs: sampling.logprobs.then_some(true),
        top_logprobs: sampling.top_logprobs,
        user: if extras { None } else { meta.user.clone() },
        safety_identifier: if extras { meta.user.clone() } else { None },
        seed: sampling.seed,
        tools,
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format,
        reasoning_effort,
        service_tier: meta.service_tier.clone().filter(|_| extras),
        store: meta.store.filter(|_| extras),
        metadata: (extras && !meta.tags.is_empty()).then(|| meta.tags.clone()),
        prompt_cache_key: meta.prompt_cache_key.clone().filter(|_| extras),
        top_k: sampling.top_k,
        min_p: sampling.min_p,
        repetition_penalty: sampling.repetition_penalty,
    })
}

pub fn embeddings_body(req: &EmbeddingRequest, upstream_model: &str) -> wire::EmbeddingsRequest {
    wire::EmbeddingsRequest {
        input: match &req.input {
            EmbeddingInput::Texts(t) => wire::EmbeddingInput::Many(t.clone()),
            EmbeddingInput::Tokens(t) => wire::EmbeddingInput::TokenBatches(t.clone()),
        },
        model: upstream_model.to_owned(),
        // The gateway always asks for floats and encodes base64 itself if the client wants it.
        encoding_format: Some("float".to_owned()),
        dimensions: req.dimensions,
        user: req.user.clone(),
    }
}

fn unsupported(host: &str, feature: &str) -> ProviderError {
    ProviderError::unsupported(format!(
        "the upstream `{host}` does not support {feature}; remove it from the request or route to another deployment"
    ))
}

fn response_format(rf: &ResponseFormat, quirks: &HostQuirks) -> wire::ResponseFormat {
    match rf {
        ResponseFormat::Text => wire::ResponseFormat::Text,
        ResponseFormat::JsonObject => wire::ResponseFormat::JsonObject,
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => wire::ResponseFormat::JsonSchema {
            json_schema: wire::JsonSchemaFormat {
                name: name.clone(),
                description: description.clone(),
                schema: Some(schema.clone()),
                strict: *strict,
            },
            // llama.cpp reads the schema from here.
            schema: quirks.schema_at_top_level.then(|| schema.clone()),
        },
    }
}

/// Appends the wire message(s) for one canonical message. Tool results become one `tool`
/// message each; reasoning is not sent back (OpenAI-compatible hosts reject or ignore it).
fn push_message(
    message: &Message,
    quirks: &HostQuirks,
    host: &str,
    out: &mut Vec<wire::ChatMessage>,
) -> Result<(), ProviderError> {
    let mut rest = Vec::new();
    for block in &message.content {
        if let ContentBlock::ToolResult {
            tool_use_id,
            content,
            ..
        } = block
        {
            out.push(wire::ChatMessage::Tool {
                content: tool_result_content(content, host)?,
                tool_call_id: tool_id(tool_use_id, quirks),
            });
        } else {
            rest.push(block);
        }
    }
    if rest.is_empty() {
        return Ok(());
    }
    let name = message.name.clone();
    let message = match message.role {
        Role::System => wire::ChatMessage::System {
            content: text_content(&rest),
            name,
        },
        Role::Developer if quirks.developer_role => wire::ChatMessage::Developer {
            content: text_content(&rest),
            name,
        },
        Role::Developer => wire::ChatMessage::System {
            content: text_content(&rest),
            name,
        },
        Role::User | Role::Tool => wire::ChatMessage::User {
            content: user_content(&rest, quirks, host)?,
            name,
        },
        Role::Assistant => assistant_message(&rest, name, quirks),
    };
    out.push(message);
    Ok(())
}

fn text_content(blocks: &[&ContentBlock]) -> wire::MessageContent {
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    match texts.as_slice() {
        [one] => wire::MessageContent::Text((*one).to_owned()),
        many => wire::MessageContent::Parts(
            many.iter()
                .map(|t| wire::ContentPart::Text {
                    text: (*t).to_owned(),
                })
                .collect(),
        ),
    }
}

fn user_content(
    blocks: &[&ContentBlock],
    quirks: &HostQuirks,
    host: &str,
) -> Result<wire::MessageContent, ProviderError> {
    if let [ContentBlock::Text { text, .. }] = blocks {
        return Ok(wire::MessageContent::Text(text.clone()));
    }
    let mut parts = Vec::with_capacity(blocks.len());
    for block in blocks {
        match block {
            ContentBlock::Text { text, .. } => {
                parts.push(wire::ContentPart::Text { text: text.clone() })
            }
            ContentBlock::Image { source, detail, .. } => {
                let url = match source {
                    ImageSource::Url { url } if quirks.image_urls => url.clone(),
                    ImageSource::Url { .. } => {
                        return Err(unsupported(
                            host,
                            "image URLs (send the image as a base64 data URI)",
                        ))
                    }
                    ImageSource::Base64 { media_type, data } => {
                        format!("data:{media_type};base64,{data}")
                    }
                    ImageSource::FileRef { .. } => {
                        return Err(unsupported(host, "image file references"))
                    }
                };
                parts.push(wire::ContentPart::ImageUrl {
                    image_url: wire::ImageUrl {
                        url,
                        detail: detail.map(|d| {
                            match d {
                                ImageDetail::Auto => "auto",
                                ImageDetail::Low => "low",
                                ImageDetail::High => "high",
                            }
                            .to_owned()
                        }),
                    },
                });
            }
            ContentBlock::Audio { data, format } if quirks.audio_and_files => {
                parts.push(wire::ContentPart::InputAudio {
                    input_audio: wire::InputAudio {
                        data: data.clone(),
                        format: format.clone(),
                    },
                })
            }
            ContentBlock::Document { source, name, .. } if quirks.audio_and_files => {
                let file = match source {
                    ImageSource::Base64 { media_type, data } => wire::FileRef {
                        file_id: None,
                        file_data: Some(format!("data:{media_type};base64,{data}")),
                        filename: name.clone(),
                    },
                    ImageSource::FileRef { uri, .. } => wire::FileRef {
                        file_id: Some(uri.clone()),
                        file_data: None,
                        filename: name.clone(),
                    },
                    ImageSource::Url { .. } => return Err(unsupported(host, "document URLs")),
                };
                parts.push(wire::ContentPart::File { file });
            }
            ContentBlock::Audio { .. } => return Err(unsupported(host, "audio input")),
            ContentBlock::Document { .. } => {
                return Err(unsupported(host, "file and document input"))
            }
            ContentBlock::Refusal { text } => {
                parts.push(wire::ContentPart::Text { text: text.clone() })
            }
            // Assistant-only blocks in a user turn carry nothing a user message can say.
            ContentBlock::ToolUse { .. }
            | ContentBlock::ToolResult { .. }
            | ContentBlock::Reasoning { .. }
            | ContentBlock::RedactedReasoning { .. } => {}
        }
    }
    Ok(wire::MessageContent::Parts(parts))
}

fn assistant_message(
    blocks: &[&ContentBlock],
    name: Option<String>,
    quirks: &HostQuirks,
) -> wire::ChatMessage {
    let mut text: Option<String> = None;
    let mut refusal: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block {
            ContentBlock::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(t),
            ContentBlock::Refusal { text: t } => {
                refusal.get_or_insert_with(String::new).push_str(t)
            }
            ContentBlock::ToolUse {
                id,
                name,
                arguments,
                ..
            } => tool_calls.push(wire::ToolCall {
                id: tool_id(id, quirks),
                kind: "function".to_owned(),
                function: wire::FunctionCall {
                    name: name.clone(),
                    arguments: arguments.clone(),
                },
            }),
            _ => {}
        }
    }
    wire::ChatMessage::Assistant {
        content: text.map(wire::MessageContent::Text),
        refusal,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        name,
        reasoning_content: None,
        annotations: None,
        audio: None,
        function_call: None,
    }
}

fn tool_result_content(
    content: &[ContentBlock],
    host: &str,
) -> Result<wire::MessageContent, ProviderError> {
    let mut text = String::new();
    for block in content {
        match block {
            ContentBlock::Text { text: t, .. } => text.push_str(t),
            _ => return Err(unsupported(host, "non-text tool results")),
        }
    }
    Ok(wire::MessageContent::Text(text))
}

/// Tool-call ids as the host accepts them. For Mistral (exactly 9 letters or digits) other ids
/// are mapped deterministically, so a call and its result keep matching.
pub fn tool_id(id: &str, quirks: &HostQuirks) -> String {
    if !quirks.tool_ids_alnum9 || (id.len() == 9 && id.chars().all(|c| c.is_ascii_alphanumeric())) {
        return id.to_owned();
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // FNV-1a, 64 bits: stable across runs and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..9)
        .map(|_| {
            let c = ALPHABET[(hash % 62) as usize];
            hash /= 62;
            char::from(c)
        })
        .collect()
}
