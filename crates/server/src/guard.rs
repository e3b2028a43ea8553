//! The PII guard on the request path: the request's policies decide (strictest mode, every
//! kind any names); a blocked request is a 400 naming the policy and the kinds found (never
//! the values); a masked one has its placeholders replaced by the originals in the answer,
//! whole or delta by delta.

use futures::{stream, StreamExt};
use switchyard_dialects::GatewayError;
use switchyard_policy::pii::{self, Mode, Rule, StreamRestorer, Vault};
use switchyard_policy::Policy;
use switchyard_providers::EventStream;
use switchyard_types::{ChatRequest, ChatResponse, Delta, EmbeddingRequest, StreamEvent};

use switchyard_routing::needs::Needs;

use crate::state::AppState;

/// A request the guard refused: the error, and how much personal data it found.
#[derive(Debug)]
pub struct Blocked {
    pub error: GatewayError,
    pub findings: u32,
}

/// The PII rule of all of a request's policies together.
pub fn rule(policies: &[&Policy]) -> Rule {
    policies
        .iter()
        .fold(Rule::default(), |rule, p| rule.merge(p.pii))
}

/// Guards a chat request in place; `Err` when a policy blocks what was found.
fn chat(
    state: &AppState,
    policies: &[&Policy],
    request: &mut ChatRequest,
) -> Result<Vault, Blocked> {
    let rule = rule(policies);
    if rule.mode == Mode::Off {
        return Ok(Vault::default());
    }
    let guarded = pii::guard_chat(&state.inner.pii, rule, request);
    outcome(state, policies, guarded)
}

/// Requests whose text is larger than this are guarded on the blocking pool, so that a
/// large request cannot stall an async worker (and every request it serves) while it is
/// scanned.
const BLOCKING_TEXT_BYTES: u64 = 256 * 1024;

/// The most findings one request may have: beyond it, a 400 (each finding is kept in the
/// vault until the answer is restored).
pub const MAX_FINDINGS: u32 = 100_000;

/// [`chat`] on a request taken by value, on the blocking pool when its text is large
/// (`needs.prompt_tokens_max` counts every byte of it); the request comes back guarded.
pub async fn chat_request(
    state: &AppState,
    policies: &[&Policy],
    mut request: ChatRequest,
    needs: &Needs,
) -> (ChatRequest, Result<Vault, Blocked>) {
    let rule = rule(policies);
    if rule.mode == Mode::Off {
        return (request, Ok(Vault::default()));
    }
    if needs.prompt_tokens_max <= BLOCKING_TEXT_BYTES {
        let outcome = chat(state, policies, &mut request);
        return (request, outcome);
    }
    let detector = state.clone();
    let scanned = tokio::task::spawn_blocking(move || {
        let guarded = pii::guard_chat(&detector.inner.pii, rule, &mut request);
        (request, guarded)
    })
    .await;
    match scanned {
        Ok((request, guarded)) => {
            let outcome = outcome(state, policies, guarded);
            (request, outcome)
        }
        // The scan panicked: nothing of the request can be trusted to be guarded.
        Err(_) => (
            ChatRequest::default(),
            Err(Blocked {
                error: GatewayError::new(
                    switchyard_dialects::ErrorClass::Internal,
                    "The request could not be checked for personal data.",
                ),
                findings: 0,
            }),
        ),
    }
}

/// Guards an embedding request's inputs in place.
pub fn embedding(
    state: &AppState,
    policies: &[&Policy],
    request: &mut EmbeddingRequest,
) -> Result<Vault, Blocked> {
    let rule = rule(policies);
    if rule.mode == Mode::Off {
        return Ok(Vault::default());
    }
    let guarded = pii::guard_embedding(&state.inner.pii, rule, request);
    outcome(state, policies, guarded)
}

fn outcome(
    state: &AppState,
    policies: &[&Policy],
    guarded: pii::Guarded,
) -> Result<Vault, Blocked> {
    let findings = guarded.vault.total();
    if findings > MAX_FINDINGS {
        return Err(Blocked {
            error: GatewayError::invalid(
                format!(
                    "The request contains {findings} pieces of personal data, more than the {MAX_FINDINGS} one request may carry under its policies; send it in smaller parts."
                ),
                None,
            )
            .with_code("too_many_pii_findings"),
            findings,
        });
    }
    if !guarded.blocked {
        return Ok(guarded.vault);
    }
    let detector = &state.inner.pii;
    let kinds: Vec<String> = guarded
        .vault
        .counts
        .iter()
        .map(|(kind, n)| format!("{} x{n}", detector.name(*kind)))
        .collect();
    let policy = policies
        .iter()
        .find(|p| p.pii.mode == Mode::Block)
        .map_or("-", |p| p.name.as_str());
    Err(Blocked {
        error: GatewayError::invalid(
            format!(
                "The request contains personal data ({}) that the policy `{policy}` does not let leave the gateway; remove it and try again.",
                kinds.join(", ")
            ),
            None,
        )
        .with_code("pii_detected"),
        findings: guarded.vault.total(),
    })
}

/// A complete answer with the originals back in place of the placeholders.
pub fn restore(vault: &Vault, response: &mut ChatResponse) {
    pii::restore_response(vault, response);
}

/// Per block: what is held back and which kind of delta it was.
#[derive(Default)]
struct Restorer {
    vault: Vault,
    blocks: Vec<(u32, StreamRestorer, u8)>,
}

const TEXT: u8 = 0;
const ARGS: u8 = 1;
const REASONING: u8 = 2;
const REFUSAL: u8 = 3;

impl Restorer {
    fn event(&mut self, event: StreamEvent) -> Vec<StreamEvent> {
        match event {
            StreamEvent::BlockDelta { index, delta } => {
                let (kind, text) = match delta {
                    Delta::Text(t) => (TEXT, t),
                    Delta::ToolArguments(t) => (ARGS, t),
                    Delta::Reasoning(t) => (REASONING, t),
                    Delta::Refusal(t) => (REFUSAL, t),
                    other => {
                        return vec![StreamEvent::BlockDelta {
                            index,
                            delta: other,
                        }]
                    }
                };
                let slot = match self.blocks.iter().position(|(i, _, _)| *i == index) {
                    Some(slot) => slot,
                    None => {
                        let restorer = if kind == ARGS {
                            StreamRestorer::for_json()
                        } else {
                            StreamRestorer::default()
                        };
                        self.blocks.push((index, restorer, kind));
                        self.blocks.len() - 1
                    }
                };
                let ready = self.blocks[slot].1.push(&self.vault, &text);
                self.blocks[slot].2 = kind;
                if ready.is_empty() {
                    return Vec::new();
                }
                vec![delta_of(index, kind, ready)]
            }
            StreamEvent::BlockStop { index } => {
                let mut out = self.flush(Some(index));
                out.push(StreamEvent::BlockStop { index });
                out
            }
            StreamEvent::MessageStop { .. } => {
                let mut out = self.flush(None);
                out.push(event);
                out
            }
            other => vec![other],
        }
    }

    /// What a block (or every block) still holds, as deltas.
    fn flush(&mut self, index: Option<u32>) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        let vault = &self.vault;
        self.blocks.retain_mut(|(i, restorer, kind)| {
            if index.is_some_and(|x| x != *i) {
                return true;
            }
            let rest = restorer.finish(vault);
            if !rest.is_empty() {
                out.push(delta_of(*i, *kind, rest));
            }
            false
        });
        out
    }
}

fn delta_of(index: u32, kind: u8, text: String) -> StreamEvent {
    let delta = match kind {
        ARGS => Delta::ToolArguments(text),
        REASONING => Delta::Reasoning(text),
        REFUSAL => Delta::Refusal(text),
        _ => Delta::Text(text),
    };
    StreamEvent::BlockDelta { index, delta }
}

/// A stream with the originals back in place of the placeholders; a placeholder split
/// across deltas is held back until it is whole.
pub fn restore_stream(
    vault: Vault,
    first: Vec<StreamEvent>,
    rest: EventStream,
) -> (Vec<StreamEvent>, EventStream) {
    let mut restorer = Restorer {
        vault,
        blocks: Vec::new(),
    };
    let first: Vec<StreamEvent> = first.into_iter().flat_map(|e| restorer.event(e)).collect();
    let rest = rest
        .scan(restorer, |restorer, item| {
            let out: Vec<Result<StreamEvent, _>> = match item {
                Ok(event) => restorer.event(event).into_iter().map(Ok).collect(),
                Err(err) => vec![Err(err)],
            };
            std::future::ready(Some(out))
        })
        .flat_map(stream::iter);
    (first, Box::pin(rest))
}
