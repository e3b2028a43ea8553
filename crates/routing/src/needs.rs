//! What a request needs from a deployment, read from the canonical request.

use switchyard_types::{ChatRequest, ContentBlock, ImageSource, ResponseFormat};

use crate::catalog::Capabilities;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    pub tools: bool,
    pub vision: bool,
    pub json_schema: bool,
    pub reasoning: bool,
    /// A cheap estimate of the prompt's tokens (bytes / 4, a typical ratio for prose:
    /// generous enough that a prompt that fits is not turned away on a guess).
    pub prompt_tokens: u32,
    /// The output the client asked for at most (0: not said).
    pub max_output: u32,
    /// The lowest quality tier acceptable (0: any; set by the `auto` route).
    pub min_tier: u8,
    /// The most tokens the prompt can be: every byte a token, plus framing per message and
    /// a generous allowance per image (for budget reservations, which must not fall short).
    pub prompt_tokens_max: u64,
}

/// Tokens assumed for a document the gateway has not seen the bytes of.
const DOCUMENT_TOKENS_UNSEEN: u64 = 100_000;

/// A document's most tokens: its inline bytes (base64, so more than the file's bytes) plus
/// an image allowance for scanned pages; a generous allowance when only a reference is given.
fn unknown_size(source: &ImageSource) -> u64 {
    match source {
        ImageSource::Base64 { data, .. } => data.len() as u64 + IMAGE_TOKENS_MAX,
        ImageSource::Url { .. } | ImageSource::FileRef { .. } => DOCUMENT_TOKENS_UNSEEN,
    }
}

/// Tokens a provider may add around each message (role markers, separators).
const MESSAGE_FRAMING: u64 = 16;
/// The most tokens an image costs at any provider (Anthropic ~1,600, OpenAI high detail
/// ~1,100 per 512-px tile, Gemini 258 per tile), with room to spare.
const IMAGE_TOKENS_MAX: u64 = 8_000;

impl Needs {
    pub fn of(request: &ChatRequest) -> Needs {
        let mut bytes = 0usize;
        let mut vision = false;
        let mut images = 0u64;
        // Tokens of documents and audio, bounded by their size where it is known.
        let mut extra = 0u64;
        for message in &request.messages {
            for block in &message.content {
                match block {
                    ContentBlock::Text { text, .. } | ContentBlock::Refusal { text } => {
                        bytes += text.len()
                    }
                    ContentBlock::Image { .. } => {
                        vision = true;
                        images += 1;
                    }
                    ContentBlock::Document { source, .. } => extra += unknown_size(source),
                    ContentBlock::Audio { data, .. } => extra += data.len() as u64,
                    ContentBlock::ToolUse { arguments, .. } => bytes += arguments.len(),
                    ContentBlock::ToolResult { content, .. } => {
                        for inner in content {
                            match inner {
                                ContentBlock::Text { text, .. } => bytes += text.len(),
                                ContentBlock::Image { .. } => {
                                    vision = true;
                                    images += 1;
                                }
                                _ => {}
                            }
                        }
                    }
                    ContentBlock::Reasoning { text, .. } => bytes += text.len(),
                    _ => {}
                }
            }
        }
        for tool in &request.tools {
            bytes += tool.name.len() + tool.parameters.to_string().len();
        }
        let reasoning = request.reasoning.as_ref().is_some_and(|r| {
            r.enabled == Some(true)
                || r.budget_tokens.is_some()
                || r.effort.as_deref().is_some_and(|e| e != "none")
        });
        Needs {
            tools: !request.tools.is_empty(),
            vision,
            json_schema: matches!(
                request.response_format,
                Some(ResponseFormat::JsonSchema { .. })
            ),
            reasoning,
            prompt_tokens: u32::try_from(bytes / 4).unwrap_or(u32::MAX),
            max_output: request.sampling.max_output_tokens.unwrap_or(0),
            min_tier: 0,
            prompt_tokens_max: bytes as u64
                + MESSAGE_FRAMING * (request.messages.len() as u64 + 1)
                + IMAGE_TOKENS_MAX * images
                + extra,
        }
    }

    /// The first capability `caps` lacks, named for an explanation.
    pub fn unmet(&self, caps: &Capabilities) -> Option<&'static str> {
        if self.tools && !caps.tools {
            return Some("no tool calling");
        }
        if self.vision && !caps.vision {
            return Some("no image input");
        }
        if self.json_schema && !caps.json_schema {
            return Some("no JSON schema output");
        }
        if self.reasoning && !caps.reasoning {
            return Some("no reasoning");
        }
        if self.max_output > caps.max_output {
            return Some("max output too small");
        }
        let total = u64::from(self.prompt_tokens) + u64::from(self.max_output);
        if total > u64::from(caps.context_window) {
            return Some("context window too small");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use switchyard_types::{ImageSource, Message, ReasoningConfig, Role, SamplingParams, Tool};

    use super::*;

    #[test]
    fn needs_are_read_from_the_request() {
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![
                Message::text(Role::User, "x".repeat(4_000)),
                Message {
                    role: Role::Tool,
                    content: vec![ContentBlock::ToolResult {
                        tool_use_id: "t".into(),
                        content: vec![ContentBlock::Image {
                            source: ImageSource::Url {
                                url: "https://x/y.png".into(),
                            },
                            detail: None,
                            cache_control: None,
                        }],
                        is_error: false,
                    }],
                    name: None,
                },
            ],
            tools: vec![Tool {
                name: "f".into(),
                description: None,
                parameters: serde_json::json!({}),
                strict: None,
                cache_control: None,
            }],
            reasoning: Some(ReasoningConfig {
                effort: Some("high".into()),
                ..Default::default()
            }),
            sampling: SamplingParams {
                max_output_tokens: Some(300),
                ..Default::default()
            },
            ..Default::default()
        };
        let needs = Needs::of(&request);
        assert!(needs.tools && needs.vision && needs.reasoning && !needs.json_schema);
        assert_eq!(needs.max_output, 300);
        assert!(
            (1_000..1_010).contains(&needs.prompt_tokens),
            "{}",
            needs.prompt_tokens
        );
        let caps = Capabilities {
            tools: true,
            vision: true,
            json_schema: true,
            reasoning: true,
            context_window: 1_200,
            max_output: 4_096,
        };
        assert_eq!(needs.unmet(&caps), Some("context window too small"));
        assert_eq!(
            needs.unmet(&Capabilities {
                context_window: 8_192,
                ..caps
            }),
            None
        );
    }
}
