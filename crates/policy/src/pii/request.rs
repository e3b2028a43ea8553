//! The guard over canonical requests and answers: every text a client sends (messages,
//! tool calls and results, text documents, refusals, reasoning, embedding inputs) is
//! scanned; answers get their placeholders replaced by the originals.

use base64::Engine as _;
use switchyard_types::{
    ChatRequest, ChatResponse, ContentBlock, EmbeddingInput, EmbeddingRequest, ImageSource,
};

use super::{Detector, Mode, Rule, Vault};

/// The outcome of guarding a request: its placeholders (for restoring the answer) and the
/// count of findings per kind.
#[derive(Debug, Default)]
pub struct Guarded {
    pub vault: Vault,
    /// Under `Block`: the kinds found (the request must be refused).
    pub blocked: bool,
}

impl Guarded {
    /// Whether the answer needs restoring.
    pub fn restores(&self) -> bool {
        !self.vault.is_empty()
    }
}

/// Applies `rule` to every text of `request` in place.
pub fn guard_chat(detector: &Detector, rule: Rule, request: &mut ChatRequest) -> Guarded {
    let mut vault = Vault::default();
    if rule.mode == Mode::Off {
        return Guarded::default();
    }
    for message in &mut request.messages {
        for block in &mut message.content {
            guard_block(detector, rule, &mut vault, block);
        }
    }
    finish(rule, vault)
}

/// Applies `rule` to every input text of an embedding request in place.
pub fn guard_embedding(detector: &Detector, rule: Rule, request: &mut EmbeddingRequest) -> Guarded {
    let mut vault = Vault::default();
    if rule.mode == Mode::Off {
        return Guarded::default();
    }
    if let EmbeddingInput::Texts(texts) = &mut request.input {
        for text in texts {
            apply(detector, rule, &mut vault, text);
        }
    }
    finish(rule, vault)
}

fn finish(rule: Rule, vault: Vault) -> Guarded {
    let blocked = rule.mode == Mode::Block && vault.total() > 0;
    Guarded { vault, blocked }
}

fn apply(detector: &Detector, rule: Rule, vault: &mut Vault, text: &mut String) {
    if let Some(masked) = vault.mask(detector, rule, text) {
        if rule.mode != Mode::Block {
            *text = masked;
        }
    }
}

/// [`apply`] to JSON text (tool-call arguments).
fn apply_json(detector: &Detector, rule: Rule, vault: &mut Vault, text: &mut String) {
    if let Some(masked) = vault.mask_json(detector, rule, text) {
        if rule.mode != Mode::Block {
            *text = masked;
        }
    }
}

fn guard_block(detector: &Detector, rule: Rule, vault: &mut Vault, block: &mut ContentBlock) {
    match block {
        ContentBlock::Text { text, .. } | ContentBlock::Refusal { text } => {
            apply(detector, rule, vault, text)
        }
        ContentBlock::ToolUse { arguments, .. } => apply_json(detector, rule, vault, arguments),
        ContentBlock::ToolResult { content, .. } => {
            for inner in content {
                guard_block(detector, rule, vault, inner);
            }
        }
        ContentBlock::Reasoning { text, signature } => {
            let before = vault.total();
            apply(detector, rule, vault, text);
            // A signed thought that was changed no longer matches its signature.
            if vault.total() != before && rule.mode != Mode::Block {
                *signature = None;
            }
        }
        ContentBlock::Document {
            source: ImageSource::Base64 { media_type, data },
            ..
        } if media_type.starts_with("text/") => {
            let engine = base64::engine::general_purpose::STANDARD;
            if let Some(mut text) = engine
                .decode(data.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            {
                let before = vault.total();
                apply(detector, rule, vault, &mut text);
                if vault.total() != before {
                    *data = engine.encode(text.as_bytes());
                }
            }
        }
        // Images, audio, binary documents and encrypted reasoning are not text.
        _ => {}
    }
}

/// Puts the originals back into a complete answer.
pub fn restore_response(vault: &Vault, response: &mut ChatResponse) {
    if vault.is_empty() {
        return;
    }
    for block in &mut response.content {
        restore_block(vault, block);
    }
}

fn restore_block(vault: &Vault, block: &mut ContentBlock) {
    let text = match block {
        ContentBlock::Text { text, .. }
        | ContentBlock::Refusal { text }
        | ContentBlock::Reasoning { text, .. } => text,
        ContentBlock::ToolUse { arguments, .. } => {
            if let std::borrow::Cow::Owned(restored) = vault.restore_json(arguments) {
                *arguments = restored;
            }
            return;
        }
        ContentBlock::ToolResult { content, .. } => {
            for inner in content {
                restore_block(vault, inner);
            }
            return;
        }
        _ => return,
    };
    if let std::borrow::Cow::Owned(restored) = vault.restore(text) {
        *text = restored;
    }
}
