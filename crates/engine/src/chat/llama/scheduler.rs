//! The engine thread: continuous batching over a fixed set of slots.
//!
//! Each slot is one KV-cache sequence. Every step builds one batch holding the next token of
//! every generating slot plus as much pending prompt as fits, decodes it once, and samples
//! each slot from its own logits. New requests join between steps; a slot whose client is
//! gone (receiver dropped) is freed at the next step. A slot keeps the tokens of its last
//! request in the cache, and a new request goes to the free slot sharing the longest prefix
//! with it, so a repeated system prompt or conversation history is not evaluated again.

use std::num::NonZeroU32;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::utf8::Utf8Stream;
use super::{sampler, LlamaOptions};
use crate::chat::{BackendInfo, Finish, GenEvent, GenerateJob};
use crate::EngineError;

type Events = tokio::sync::mpsc::UnboundedSender<GenEvent>;

/// A request being served by a slot.
struct Active {
    events: Events,
    /// `None` for plain greedy decoding: the argmax of the logits, without building a
    /// candidate array over the whole vocabulary.
    sampler: Option<LlamaSampler>,
    /// Prompt tokens not yet evaluated.
    pending: Vec<LlamaToken>,
    /// The sampled token that goes into the next batch.
    next: Option<LlamaToken>,
    generated: u32,
    max_tokens: u32,
    text: Utf8Stream,
}

struct Slot {
    seq: i32,
    /// Tokens whose KV state is in this slot's sequence, in order.
    cached: Vec<LlamaToken>,
    active: Option<Active>,
    /// Where this slot's logits are in the current batch.
    logits_at: Option<i32>,
}

pub(super) fn run(
    backend: &'static LlamaBackend,
    options: LlamaOptions,
    ready: Sender<Result<BackendInfo, EngineError>>,
    jobs: Receiver<GenerateJob>,
) {
    let model =
        match LlamaModel::load_from_file(backend, &options.path, &LlamaModelParams::default()) {
            Ok(m) => m,
            Err(e) => {
                let _ = ready.send(Err(EngineError::Load(format!(
                    "could not load {}: {e}",
                    options.path.display()
                ))));
                return;
            }
        };
    let parallel = options.parallel.max(1);
    let per_seq = options
        .context_per_sequence
        .clamp(256, model.n_ctx_train().max(256));
    let threads = options.threads.clamp(1, 512) as i32;
    let batch_size = options.batch.max(parallel).max(32);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(per_seq * parallel))
        .with_n_batch(batch_size)
        .with_n_ubatch(batch_size)
        .with_n_seq_max(parallel)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(EngineError::Load(format!(
                "could not create a context: {e}"
            ))));
            return;
        }
    };
    let vocab = model.vocab();
    let special_text =
        |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
    let info = BackendInfo {
        chat_template: model.meta_val_str("tokenizer.chat_template").ok(),
        bos_token: special_text(vocab.bos()),
        eos_token: special_text(vocab.eos()),
    };
    if ready.send(Ok(info)).is_err() {
        return;
    }

    let mut slots: Vec<Slot> = (0..parallel as i32)
        .map(|seq| Slot {
            seq,
            cached: Vec::new(),
            active: None,
            logits_at: None,
        })
        .collect();
    let mut batch = LlamaBatch::new(batch_size as usize, parallel as i32);

    loop {
        // Admit queued jobs into free slots; block only when there is nothing to do.
        while slots.iter().any(|s| s.active.is_none()) {
            let busy = slots.iter().any(|s| s.active.is_some());
            let job = if busy {
                match jobs.try_recv() {
                    Ok(job) => job,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            };
            admit(&model, &mut ctx, &mut slots, per_seq, job);
        }

        // Drop requests whose client has gone away.
        for slot in &mut slots {
            if slot.active.as_ref().is_some_and(|a| a.events.is_closed()) {
                slot.active = None;
            }
        }

        batch.clear();
        let mut room = batch_size as usize;
        for slot in &mut slots {
            slot.logits_at = None;
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            if let Some(token) = active.next.take() {
                let pos = slot.cached.len() as i32;
                if batch.add(token, pos, &[slot.seq], true).is_err() {
                    active.next = Some(token);
                    continue;
                }
                slot.cached.push(token);
                slot.logits_at = Some(batch.n_tokens() - 1);
                room -= 1;
            }
        }
        for slot in &mut slots {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            if active.pending.is_empty() || room == 0 {
                continue;
            }
            let take = active.pending.len().min(room);
            let chunk: Vec<LlamaToken> = active.pending.drain(..take).collect();
            let last_of_prompt = active.pending.is_empty();
            for (i, token) in chunk.iter().enumerate() {
                let pos = slot.cached.len() as i32;
                let logits = last_of_prompt && i + 1 == chunk.len();
                if batch.add(*token, pos, &[slot.seq], logits).is_err() {
                    break;
                }
                slot.cached.push(*token);
            }
            if last_of_prompt {
                slot.logits_at = Some(batch.n_tokens() - 1);
            }
            room -= take;
        }
        if batch.n_tokens() == 0 {
            continue;
        }

        if let Err(e) = ctx.decode(&mut batch) {
            // The whole step failed: fail every request in it and forget their cache state.
            for slot in &mut slots {
                if let Some(active) = slot.active.take() {
                    let _ = active
                        .events
                        .send(GenEvent::Failed(EngineError::Internal(format!(
                            "decoding failed: {e}"
                        ))));
                }
                slot.cached.clear();
                let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
            }
            continue;
        }

        for slot in &mut slots {
            let Some(at) = slot.logits_at else { continue };
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            let token = match active.sampler.as_mut() {
                Some(sampler) => sampler.sample(&ctx, at),
                None => argmax(ctx.get_logits_ith(at)),
            };
            if model.vocab().is_eog(token) {
                finish(slot, Finish::EndOfGeneration);
                continue;
            }
            active.generated += 1;
            let piece = active.text.push(&token_bytes(&model, token));
            if send(&active.events, GenEvent::Token(piece)).is_err() {
                slot.active = None;
                continue;
            }
            let context_full = slot.cached.len() + 1 >= per_seq as usize;
            if active.generated >= active.max_tokens || context_full {
                finish(slot, Finish::Length);
                continue;
            }
            active.next = Some(token);
        }
    }
}

/// Sends an event; fails when the client is gone.
fn send(events: &Events, event: GenEvent) -> Result<(), ()> {
    events.send(event).map_err(|_| ())
}

fn finish(slot: &mut Slot, finish: Finish) {
    if let Some(active) = slot.active.take() {
        let _ = send(&active.events, GenEvent::Done(finish));
    }
}

/// Tokenizes the prompt, checks it fits, and places it in the free slot whose cache shares
/// the longest prefix with it.
fn admit(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    slots: &mut [Slot],
    per_seq: u32,
    job: GenerateJob,
) {
    let fail = |job: &GenerateJob, e: EngineError| {
        let _ = job.events.send(GenEvent::Failed(e));
    };
    if job.events.is_closed() {
        return;
    }
    let prompt = tokenize_prompt(model, &job.prompt);
    let n_prompt = prompt.len() as u32;
    if n_prompt == 0 {
        return fail(
            &job,
            EngineError::InvalidRequest("the prompt is empty".into()),
        );
    }
    if n_prompt >= per_seq {
        return fail(
            &job,
            EngineError::ContextLength(format!(
                "This model's maximum context length is {per_seq} tokens. However, your messages resulted in {n_prompt} tokens. Please reduce the length of the messages."
            )),
        );
    }
    if job.max_tokens != u32::MAX && n_prompt.saturating_add(job.max_tokens) > per_seq {
        return fail(
            &job,
            EngineError::ContextLength(format!(
                "This model's maximum context length is {per_seq} tokens. However, you requested {} tokens ({n_prompt} in the messages, {} in the completion). Please reduce the length of the messages or completion.",
                n_prompt + job.max_tokens,
                job.max_tokens
            )),
        );
    }
    let sampler = match sampler::build(model, &job.sampling, job.constraint.as_ref()) {
        Ok(s) => s,
        Err(e) => return fail(&job, e),
    };

    let Some(slot) = slots
        .iter_mut()
        .filter(|s| s.active.is_none())
        .max_by_key(|s| common_prefix(&s.cached, &prompt))
    else {
        return fail(&job, EngineError::Internal("no free slot".into()));
    };
    // At least the last prompt token is evaluated again: its logits start the answer.
    let mut keep = common_prefix(&slot.cached, &prompt).min(prompt.len() - 1);
    if keep < slot.cached.len() {
        let removed = ctx
            .clear_kv_cache_seq(Some(slot.seq as u32), Some(keep as u32), None)
            .unwrap_or(false);
        if !removed {
            // Some caches (sliding-window attention) cannot drop a tail: start over.
            let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
            keep = 0;
        }
        slot.cached.truncate(keep);
    }
    if send(
        &job.events,
        GenEvent::Started {
            prompt_tokens: n_prompt,
            cached_tokens: keep as u32,
        },
    )
    .is_err()
    {
        return;
    }
    slot.active = Some(Active {
        events: job.events,
        sampler,
        pending: prompt[keep..].to_vec(),
        next: None,
        generated: 0,
        max_tokens: job.max_tokens,
        text: Utf8Stream::default(),
    });
}

/// Control tokens whose text the answer needs (the tool-call tags are special tokens in
/// some vocabularies); every other control token is not shown.
const SHOWN_CONTROL_TOKENS: [&str; 2] = ["<tool_call>", "</tool_call>"];

/// The text bytes of a generated token.
fn token_bytes(model: &LlamaModel, token: LlamaToken) -> Vec<u8> {
    let vocab = model.vocab();
    let plain = vocab.token_to_piece(token, false, None);
    if !plain.is_empty() {
        return plain;
    }
    let special = vocab.token_to_piece(token, true, None);
    if SHOWN_CONTROL_TOKENS
        .iter()
        .any(|t| t.as_bytes() == special.as_slice())
    {
        special
    } else {
        plain
    }
}

/// A rendered prompt → tokens: special tokens parsed, BOS added where the model wants one
/// (but never twice: templates that print `bos_token` themselves would otherwise start
/// with two).
pub(super) fn tokenize_prompt(model: &LlamaModel, prompt: &str) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let mut tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    if tokens.len() >= 2 && tokens[0] == vocab.bos() && tokens[1] == vocab.bos() {
        tokens.remove(0);
    }
    tokens
}

fn argmax(logits: &[f32]) -> LlamaToken {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_value {
            best_value = v;
            best = i;
        }
    }
    LlamaToken::new(best as i32)
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
