//! `switchyard route explain MODEL`: asks a running server which deployments a request for
//! MODEL would try now, in order, and which it would skip, with each one's reason (its
//! `GET /v1/route/explain`, which sees the live health of every deployment).

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::Failure;

#[derive(Subcommand, Debug)]
pub enum RouteCommand {
    /// The deployments a request would try, in order, and the skipped ones, with reasons.
    Explain(ExplainArgs),
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A model name clients send.
    model: String,
    /// The request offers tools.
    #[arg(long)]
    tools: bool,
    /// The request holds images.
    #[arg(long)]
    vision: bool,
    /// The request asks for JSON schema output.
    #[arg(long)]
    json_schema: bool,
    /// The request asks for reasoning.
    #[arg(long)]
    reasoning: bool,
    /// The prompt's size in tokens.
    #[arg(long, default_value_t = 0)]
    prompt_tokens: u32,
    /// The output asked for at most, in tokens.
    #[arg(long, default_value_t = 0)]
    max_output: u32,
    #[command(flatten)]
    server: crate::ServerArgs,
}

pub async fn run(command: RouteCommand) -> Result<(), Failure> {
    let RouteCommand::Explain(args) = command;
    let base = args
        .server
        .url
        .trim_end_matches('/')
        .trim_end_matches("/v1");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::failed(e.to_string()))?;
    let mut request = client.get(format!("{base}/v1/route/explain")).query(&[
        ("model", args.model.clone()),
        ("tools", args.tools.to_string()),
        ("vision", args.vision.to_string()),
        ("json_schema", args.json_schema.to_string()),
        ("reasoning", args.reasoning.to_string()),
        ("prompt_tokens", args.prompt_tokens.to_string()),
        ("max_output", args.max_output.to_string()),
    ]);
    if let Some(key) = &args.server.api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|e| {
        Failure::unreachable(format!(
            "cannot reach {base}: {e} (is `switchyard serve` running?)"
        ))
    })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure::failed(format!("unexpected answer from {base}: {e}")))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::failed(format!("unexpected answer from {base}: {e}")))?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no message");
        return Err(Failure::failed(format!(
            "server answered HTTP {status}: {message}"
        )));
    }
    println!(
        "model {} (strategy {})",
        args.model,
        body["strategy"].as_str().unwrap_or("?")
    );
    println!(
        "{:<6} {:<48} {:<16} REASON",
        "ORDER", "DEPLOYMENT", "PROVIDER"
    );
    for c in body["candidates"].as_array().into_iter().flatten() {
        let order = c["order"]
            .as_u64()
            .map_or("-".to_owned(), |o| (o + 1).to_string());
        println!(
            "{:<6} {:<48} {:<16} {}",
            order,
            c["deployment"].as_str().unwrap_or(""),
            c["provider"].as_str().unwrap_or(""),
            c["reason"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
