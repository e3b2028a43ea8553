//! `switchyard route explain MODEL`: asks a running server which deployments a request for
//! MODEL would try now, in order, and which it would skip, with each one's reason (its
//! `GET /v1/route/explain`, which sees the live health of every deployment).
//! `switchyard route health`: every deployment's health (its `GET /v1/route/health`).

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::Failure;

#[derive(Subcommand, Debug)]
pub enum RouteCommand {
    /// The deployments a request would try, in order, and the skipped ones, with reasons.
    Explain(ExplainArgs),
    /// Every deployment's health: breaker, cool-down, in-flight requests, last check.
    Health {
        #[command(flatten)]
        server: crate::ServerArgs,
    },
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
    match command {
        RouteCommand::Explain(args) => explain(args).await,
        RouteCommand::Health { server } => health(&server).await,
    }
}

async fn explain(args: ExplainArgs) -> Result<(), Failure> {
    let body = get(
        &args.server,
        "/v1/route/explain",
        &[
            ("model", args.model.clone()),
            ("tools", args.tools.to_string()),
            ("vision", args.vision.to_string()),
            ("json_schema", args.json_schema.to_string()),
            ("reasoning", args.reasoning.to_string()),
            ("prompt_tokens", args.prompt_tokens.to_string()),
            ("max_output", args.max_output.to_string()),
        ],
    )
    .await?;
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

async fn health(server: &crate::ServerArgs) -> Result<(), Failure> {
    let body = get(server, "/v1/route/health", &[]).await?;
    println!(
        "{:<48} {:<13} {:>8} {:>9} {:>9}  LAST CHECK",
        "DEPLOYMENT", "STATUS", "FAILURES", "IN FLIGHT", "RETRY IN"
    );
    for d in body["deployments"].as_array().into_iter().flatten() {
        let retry = d["retry_in_s"]
            .as_f64()
            .map_or("-".to_owned(), |s| format!("{s:.1} s"));
        let check = match (
            d["last_check"]["ok"].as_bool(),
            d["last_check"]["seconds_ago"].as_f64(),
        ) {
            (Some(ok), Some(ago)) => format!("{} {ago:.0} s ago", if ok { "ok" } else { "failed" }),
            _ => "-".to_owned(),
        };
        println!(
            "{:<48} {:<13} {:>8} {:>9} {:>9}  {}",
            d["deployment"].as_str().unwrap_or(""),
            d["status"].as_str().unwrap_or(""),
            d["consecutive_failures"].as_u64().unwrap_or(0),
            d["in_flight"].as_u64().unwrap_or(0),
            retry,
            check
        );
    }
    Ok(())
}

/// A GET to the running server's `path`; its JSON body, or its error message as a failure.
async fn get(
    server: &crate::ServerArgs,
    path: &str,
    query: &[(&str, String)],
) -> Result<Value, Failure> {
    let base = server.url.trim_end_matches('/').trim_end_matches("/v1");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::failed(e.to_string()))?;
    let mut request = client.get(format!("{base}{path}")).query(query);
    if let Some(key) = &server.api_key {
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
    Ok(body)
}
