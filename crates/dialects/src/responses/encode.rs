//! Canonical answers -> the Responses API `response` object.

use bytes::Bytes;
use serde_json::{json, Value};
use switchyard_types::{ChatResponse, ContentBlock, StopReason, Usage};

/// What a response object echoes of the request, fixed for one exchange.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pub model: String,
    pub tools: Value,
    pub tool_choice: Value,
    pub parallel_tool_calls: bool,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
}

/// The body of a non-streamed answer.
pub fn encode_response(response: &ChatResponse, echo: &Echo) -> Bytes {
    let id = response_id(&response.id);
    let mut output = Vec::new();
    // Adjacent text blocks make one message item; items keep the order the model produced
    // them in, as the streamed encoding does.
    let mut message: Option<(usize, Vec<Value>)> = None;
    let flush = |message: &mut Option<(usize, Vec<Value>)>, output: &mut Vec<Value>| {
        if let Some((first, parts)) = message.take() {
            output.push(message_item(
                &item_id("msg", &id, first),
                parts,
                "completed",
            ));
        }
    };
    for (i, block) in response.content.iter().enumerate() {
        let part = match block {
            ContentBlock::Text {
                text, citations, ..
            } => Some(output_text(
                text,
                citations.iter().filter_map(|c| c.source.clone()).collect(),
            )),
            ContentBlock::Refusal { text } => Some(json!({"type": "refusal", "refusal": text})),
            _ => None,
        };
        if let Some(part) = part {
            message.get_or_insert_with(|| (i, Vec::new())).1.push(part);
            continue;
        }
        let item = match block {
            ContentBlock::ToolUse {
                id: call_id,
                name,
                arguments,
                ..
            } => function_call_item(
                &item_id("fc", &id, i),
                call_id,
                name,
                arguments,
                "completed",
            ),
            ContentBlock::Reasoning { text, .. } => {
                reasoning_item(&item_id("rs", &id, i), text, None)
            }
            ContentBlock::RedactedReasoning { data } => {
                reasoning_item(&item_id("rs", &id, i), "", Some(data))
            }
            _ => continue,
        };
        flush(&mut message, &mut output);
        output.push(item);
    }
    flush(&mut message, &mut output);
    let body = response_object(
        &id,
        response.created,
        echo,
        status_of(&response.stop_reason),
        output,
        Some(&response.usage),
    );
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}

/// `resp_` ids; other providers' ids are kept behind the prefix.
pub(crate) fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_owned()
    } else {
        format!(
            "resp_{}",
            id.trim_start_matches("chatcmpl-")
                .trim_start_matches("msg_")
        )
    }
}

/// Item ids derived from the response id: unique within it, stable across encodes.
pub(crate) fn item_id(kind: &str, response_id: &str, index: usize) -> String {
    format!("{kind}_{}_{index}", response_id.trim_start_matches("resp_"))
}

/// `completed`, or `incomplete` with its reason.
pub(crate) fn status_of(reason: &StopReason) -> (&'static str, Option<&'static str>) {
    match reason {
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => {
            ("incomplete", Some("max_output_tokens"))
        }
        StopReason::ContentFilter => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

pub(crate) fn response_object(
    id: &str,
    created: u64,
    echo: &Echo,
    (status, incomplete): (&str, Option<&str>),
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": incomplete.map(|r| json!({"reason": r})),
        "instructions": null,
        "max_output_tokens": echo.max_output_tokens,
        "model": echo.model,
        "output": output,
        "parallel_tool_calls": echo.parallel_tool_calls,
        "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null},
        "store": false,
        "temperature": echo.temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": echo.tool_choice,
        "tools": echo.tools,
        "top_p": echo.top_p,
        "truncation": "disabled",
        "usage": usage.map(usage_json),
        "metadata": {},
    })
}

pub(crate) fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

pub(crate) fn output_text(text: &str, urls: Vec<String>) -> Value {
    let annotations: Vec<Value> = urls
        .into_iter()
        .map(|url| json!({"type": "url_citation", "url": url, "title": "", "start_index": 0, "end_index": 0}))
        .collect();
    json!({"type": "output_text", "text": text, "annotations": annotations, "logprobs": []})
}

pub(crate) fn message_item(id: &str, content: Vec<Value>, status: &str) -> Value {
    json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
}

pub(crate) fn function_call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({"id": id, "type": "function_call", "status": status, "call_id": call_id,
           "name": name, "arguments": arguments})
}

pub(crate) fn reasoning_item(id: &str, summary: &str, encrypted: Option<&str>) -> Value {
    let summary: Vec<Value> = if summary.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "summary_text", "text": summary})]
    };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(data) = encrypted {
        item["encrypted_content"] = Value::String(data.to_owned());
    }
    item
}

impl Echo {
    /// What the response object repeats of the client's request.
    pub fn from_request(req: &switchyard_types::ChatRequest) -> Echo {
        use switchyard_types::ToolChoice;
        let tools = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "name": t.name, "description": t.description,
                       "parameters": t.parameters, "strict": t.strict.unwrap_or(false)})
            })
            .collect();
        let tool_choice = match &req.tool_choice {
            None | Some(ToolChoice::Auto) => json!("auto"),
            Some(ToolChoice::None) => json!("none"),
            Some(ToolChoice::Required) => json!("required"),
            Some(ToolChoice::Named(name)) => json!({"type": "function", "name": name}),
        };
        Echo {
            model: req.model.clone(),
            tools: Value::Array(tools),
            tool_choice,
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            max_output_tokens: req.sampling.max_output_tokens,
            temperature: req.sampling.temperature,
            top_p: req.sampling.top_p,
        }
    }
}
