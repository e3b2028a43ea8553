//! `switchyard models`: the model names clients can use.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::{load, Failure};

#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// List from this config file instead of asking a server.
    #[arg(long, short = 'c', conflicts_with = "url")]
    config: Option<PathBuf>,
    #[command(flatten)]
    server: crate::ServerArgs,
}

pub async fn run(args: ModelsArgs) -> Result<(), Failure> {
    match &args.config {
        Some(path) => {
            let (config, _) = load(path)?;
            for model in &config.models {
                let route: Vec<String> = model
                    .route
                    .iter()
                    .map(|t| format!("{}/{}", config.providers[t.provider].id, t.model))
                    .collect();
                println!("{}\t{}", model.name, route.join(" -> "));
            }
        }
        None => {
            for id in fetch(&args.server.url, args.server.api_key.as_deref()).await? {
                println!("{id}");
            }
        }
    }
    Ok(())
}

/// `GET {url}/v1/models` -> the model ids.
pub async fn fetch(url: &str, api_key: Option<&str>) -> Result<Vec<String>, Failure> {
    let base = url.trim_end_matches('/').trim_end_matches("/v1");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::failed(e.to_string()))?;
    let mut request = client.get(format!("{base}/v1/models"));
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|e| {
        Failure::unreachable(format!(
            "cannot reach {base}: {} (is `switchyard serve` running?)",
            root_cause(&e)
        ))
    })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    if !status.is_success() {
        let message = serde_json::from_slice::<switchyard_wire_openai::ErrorBody>(&body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
        return Err(Failure::failed(format!(
            "server answered HTTP {status}: {message}"
        )));
    }
    let list: switchyard_wire_openai::ModelList = serde_json::from_slice(&body)
        .map_err(|e| Failure::failed(format!("unexpected /v1/models body: {e}")))?;
    Ok(list.data.into_iter().map(|m| m.id).collect())
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
