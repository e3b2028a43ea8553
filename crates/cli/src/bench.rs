//! `switchyard bench engine`: the embedded engine's speed and memory, measured in-process on
//! real models: prompt evaluation and decode throughput, time to first token, aggregate decode
//! with concurrent chats, resident memory after a run of requests, and embedding throughput.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::json;
use switchyard_engine::embed::{BertEmbedder, BATCH};
use switchyard_models::catalog::{DEFAULT_CHAT, DEFAULT_EMBEDDING};
use switchyard_models::{find, Store};

use crate::Failure;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Benchmark the embedded engine on catalog models (pulled if missing).
    Engine(EngineArgs),
}

#[derive(Args, Debug)]
pub struct EngineArgs {
    /// Chat model: a catalog name, or a path to a GGUF file.
    #[arg(long, default_value = DEFAULT_CHAT)]
    model: String,
    /// Embedding model: a catalog name, or a path to a sentence-transformers folder.
    #[arg(long, default_value = DEFAULT_EMBEDDING)]
    embedding_model: String,
    /// CPU threads (default: all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// Concurrent chats for the aggregate-decode and memory runs.
    #[arg(long, default_value_t = 4)]
    concurrency: u32,
    /// Requests in the memory run.
    #[arg(long, default_value_t = 100)]
    requests: u32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: BenchCommand) -> Result<(), Failure> {
    let BenchCommand::Engine(args) = command;
    let store = Store::from_env();
    let chat_path = resolve(&args.model, &store).await?;
    let embed_path = resolve(&args.embedding_model, &store).await?;
    let file_bytes = du(&chat_path) + du(&embed_path);

    let mut report = serde_json::Map::new();
    report.insert("chat_model".into(), json!(chat_path.display().to_string()));
    report.insert(
        "embedding_model".into(),
        json!(embed_path.display().to_string()),
    );
    report.insert(
        "threads".into(),
        json!(args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() as u32))),
    );
    report.insert("model_files_mib".into(), json!(mib(file_bytes)));

    let embedder = BertEmbedder::load(&embed_path).map_err(|e| Failure::failed(e.to_string()))?;
    chat::run(&args, &chat_path, &mut report).await?;
    report.insert(
        "embeddings_per_s".into(),
        json!(round(embeddings_per_second(&embedder)?)),
    );
    let (rss, hwm) = memory();
    report.insert("rss_mib".into(), json!(mib(rss)));
    report.insert("peak_rss_mib".into(), json!(mib(hwm)));
    report.insert(
        "rss_over_model_files".into(),
        json!(round(rss as f64 / file_bytes.max(1) as f64)),
    );

    if args.json {
        println!("{}", serde_json::Value::Object(report));
    } else {
        for (key, value) in &report {
            println!("{key:<28} {value}");
        }
    }
    Ok(())
}

/// A catalog name (pulled if missing) or a path.
async fn resolve(name: &str, store: &Store) -> Result<PathBuf, Failure> {
    if let Some(entry) = find(name) {
        crate::pull::ensure(&entry, store).await?;
        return Ok(store.load_path(&entry));
    }
    let path = PathBuf::from(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(Failure::usage(format!(
            "`{name}` is neither a catalog model nor an existing path"
        )))
    }
}

fn embeddings_per_second(embedder: &BertEmbedder) -> Result<f64, Failure> {
    let sentences: Vec<String> = (0..BATCH * 8)
        .map(|i| {
            format!("Sentence number {i} is about trains, borders and where data may travel today.")
        })
        .collect();
    embedder
        .embed(&sentences[..BATCH])
        .map_err(|e| Failure::failed(e.to_string()))?;
    let t = Instant::now();
    embedder
        .embed(&sentences)
        .map_err(|e| Failure::failed(e.to_string()))?;
    Ok(sentences.len() as f64 / t.elapsed().as_secs_f64())
}

/// Resident and peak resident memory of this process, in bytes (Linux; 0 elsewhere).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn du(path: &std::path::Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| du(&e.path())).sum())
            .unwrap_or(0)
    } else {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }
}

fn mib(bytes: u64) -> f64 {
    round(bytes as f64 / (1024.0 * 1024.0))
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(feature = "llama")]
mod chat {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Instant;

    use serde_json::json;
    use switchyard_engine::chat::llama::{LlamaChat, LlamaOptions};
    use switchyard_engine::chat::LocalChat;
    use switchyard_types::{ChatRequest, Message, Role, StreamEvent};

    use super::{round, EngineArgs};
    use crate::Failure;

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }

    fn ms(d: std::time::Duration) -> f64 {
        round(d.as_secs_f64() * 1000.0)
    }

    fn request(text: String, max_tokens: u32) -> ChatRequest {
        let mut r = ChatRequest {
            model: "bench".into(),
            messages: vec![Message::text(Role::User, text)],
            ..ChatRequest::default()
        };
        r.sampling.temperature = Some(0.0);
        r.sampling.max_output_tokens = Some(max_tokens);
        r
    }

    /// One generation: (time to first token, time of last token, tokens, prompt tokens
    /// evaluated).
    struct Run {
        ttft: std::time::Duration,
        first: Instant,
        last: Instant,
        tokens: u64,
        evaluated: u64,
    }

    async fn generate(chat: &LocalChat, req: &ChatRequest) -> Result<Run, Failure> {
        let start = Instant::now();
        let mut g = chat
            .start(req)
            .await
            .map_err(|e| Failure::failed(e.to_string()))?;
        let mut first = None;
        let mut last = start;
        let mut tokens = 0;
        let mut evaluated = 0;
        while let Some(event) = g.next().await {
            match event.map_err(|e| Failure::failed(e.to_string()))? {
                StreamEvent::BlockDelta { .. } => {
                    last = Instant::now();
                    first.get_or_insert(last);
                }
                StreamEvent::Usage { usage } => {
                    tokens = usage.output_tokens;
                    evaluated = usage.input_tokens - usage.cache_read_tokens;
                }
                _ => {}
            }
        }
        let first = first.unwrap_or(last);
        Ok(Run {
            ttft: first - start,
            first,
            last,
            tokens,
            evaluated,
        })
    }

    /// Distinct text per call, so no run is served from another's cached prefix.
    fn filler(seed: usize, words: usize) -> String {
        const WORDS: [&str; 16] = [
            "river", "signal", "granite", "lantern", "orbit", "meadow", "copper", "harbor",
            "violet", "engine", "summit", "canyon", "pepper", "falcon", "marble", "tunnel",
        ];
        (0..words)
            .map(|i| WORDS[(i * 7 + seed * 13 + i / 3) % WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub async fn run(
        args: &EngineArgs,
        path: &Path,
        report: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Failure> {
        let mut options = LlamaOptions::new(path);
        if let Some(t) = args.threads {
            options.threads = t;
        }
        // Otherwise the settings `serve` uses (4096-token context per slot, 512-token batches).
        options.parallel = args.concurrency.max(1);
        let t = Instant::now();
        let backend = LlamaChat::load(options).map_err(|e| Failure::failed(e.to_string()))?;
        report.insert("load_ms".into(), json!(ms(t.elapsed())));
        let chat = Arc::new(
            LocalChat::new(Arc::new(backend), "bench")
                .map_err(|e| Failure::failed(e.to_string()))?,
        );
        generate(&chat, &request("Hello".into(), 4)).await?; // warm-up

        // Prompt evaluation: ~500-token prompts, one token generated.
        let mut prompt_tps = Vec::new();
        for rep in 0..3 {
            let run = generate(&chat, &request(format!("{rep} {}", filler(rep, 420)), 1)).await?;
            prompt_tps.push(run.evaluated as f64 / run.ttft.as_secs_f64());
        }
        report.insert(
            "prompt_tokens_per_s".into(),
            json!(round(median(prompt_tps))),
        );

        // Time to first token on a short chat prompt.
        let mut ttfts = Vec::new();
        let mut prompt_tokens = 0;
        for rep in 0..5 {
            let run = generate(
                &chat,
                &request(format!("Question {rep}: {}?", filler(rep, 18)), 1),
            )
            .await?;
            prompt_tokens = run.evaluated;
            ttfts.push(run.ttft.as_secs_f64() * 1000.0);
        }
        report.insert("short_prompt_tokens".into(), json!(prompt_tokens));
        report.insert("ttft_ms".into(), json!(round(median(ttfts))));

        // Decode: one chat alone, then `concurrency` at once.
        let long = |i: usize| {
            request(
                format!("Count from {} to 1000, one number per line.", i * 100),
                128,
            )
        };
        let single = generate(&chat, &long(0)).await?;
        let single_tps =
            (single.tokens.saturating_sub(1)) as f64 / (single.last - single.first).as_secs_f64();
        report.insert("decode_tokens_per_s".into(), json!(round(single_tps)));
        let mut handles = Vec::new();
        for i in 0..args.concurrency as usize {
            let chat = chat.clone();
            let req = long(i + 1);
            handles.push(tokio::spawn(async move { generate(&chat, &req).await }));
        }
        let mut runs = Vec::new();
        for h in handles {
            runs.push(h.await.map_err(|e| Failure::failed(e.to_string()))??);
        }
        let start = runs
            .iter()
            .map(|r| r.first)
            .min()
            .unwrap_or_else(Instant::now);
        let end = runs
            .iter()
            .map(|r| r.last)
            .max()
            .unwrap_or_else(Instant::now);
        let tokens: u64 = runs.iter().map(|r| r.tokens.saturating_sub(1)).sum();
        let aggregate = tokens as f64 / (end - start).as_secs_f64();
        report.insert(
            format!("decode_tokens_per_s_x{}", args.concurrency),
            json!(round(aggregate)),
        );
        report.insert(
            "concurrency_speedup".into(),
            json!(round(aggregate / single_tps)),
        );

        // Memory after a run of requests.
        let t = Instant::now();
        let mut done = 0;
        while done < args.requests {
            let wave = (args.requests - done).min(args.concurrency.max(1));
            let mut handles = Vec::new();
            for i in 0..wave {
                let chat = chat.clone();
                let req = request(
                    format!("Request {}: {}", done + i, filler((done + i) as usize, 12)),
                    16,
                );
                handles.push(tokio::spawn(async move { generate(&chat, &req).await }));
            }
            for h in handles {
                h.await.map_err(|e| Failure::failed(e.to_string()))??;
            }
            done += wave;
        }
        report.insert("requests_run".into(), json!(args.requests));
        report.insert(
            "requests_per_s".into(),
            json!(round(f64::from(args.requests) / t.elapsed().as_secs_f64())),
        );
        Ok(())
    }
}

#[cfg(not(feature = "llama"))]
mod chat {
    use super::EngineArgs;
    use crate::Failure;

    pub async fn run(
        _: &EngineArgs,
        _: &std::path::Path,
        report: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Failure> {
        report.insert(
            "chat".into(),
            serde_json::json!("skipped: built without the `llama` feature"),
        );
        Ok(())
    }
}
