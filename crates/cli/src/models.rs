//! `switchyard models`: the model names clients can use (from a server or a config), and the
//! local model store (`list`, `pull`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use switchyard_models::catalog::{DEFAULT_CHAT, DEFAULT_EMBEDDING};
use switchyard_models::{catalog, find, ModelRole, Store};

use crate::pull::human;
use crate::{load, Failure};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: Option<ModelsCommand>,
    /// List from this config file instead of asking a server.
    #[arg(long, short = 'c', conflicts_with = "url")]
    config: Option<PathBuf>,
    #[command(flatten)]
    server: crate::ServerArgs,
}

#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// The built-in catalog of local models and which are present in $SWITCHYARD_HOME.
    List,
    /// Download catalog models (default: the default chat and embedding models), verifying
    /// each file's SHA-256. Interrupted downloads resume.
    Pull {
        /// Catalog names or aliases (`default`, `default-embedding`).
        names: Vec<String>,
    },
}

pub async fn run(args: ModelsArgs) -> Result<(), Failure> {
    match args.command {
        Some(ModelsCommand::List) => return list(&Store::from_env()),
        Some(ModelsCommand::Pull { names }) => {
            return pull_models(&names, &Store::from_env()).await
        }
        None => {}
    }
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

fn list(store: &Store) -> Result<(), Failure> {
    println!("models in {}", store.home().join("models").display());
    println!(
        "{:<30} {:<10} {:<10} {:>10}  {:<9} LICENCE",
        "NAME", "ROLE", "ARCH", "SIZE", "STATUS"
    );
    for entry in catalog() {
        let role = match entry.role {
            ModelRole::Chat => "chat",
            ModelRole::Embedding => "embedding",
        };
        let status = if store.is_present(&entry) {
            "present".to_owned()
        } else {
            let have = store.bytes_present(&entry);
            if have > 0 {
                format!("partial {}%", have * 100 / entry.total_size().max(1))
            } else {
                "missing".to_owned()
            }
        };
        let mut name = entry.name.clone();
        if !entry.aliases.is_empty() {
            name = format!("{name} ({})", entry.aliases.join(", "));
        }
        println!(
            "{name:<30} {role:<10} {:<10} {:>10}  {status:<9} {}",
            entry.architecture,
            human(entry.total_size()),
            entry.licence
        );
    }
    Ok(())
}

async fn pull_models(names: &[String], store: &Store) -> Result<(), Failure> {
    let defaults = [DEFAULT_CHAT.to_owned(), DEFAULT_EMBEDDING.to_owned()];
    let names = if names.is_empty() {
        &defaults[..]
    } else {
        names
    };
    for name in names {
        let entry = find(name).ok_or_else(|| {
            let known: Vec<String> = catalog().into_iter().map(|e| e.name).collect();
            Failure::usage(format!(
                "no model `{name}` in the catalog; known: {}",
                known.join(", ")
            ))
        })?;
        if store.is_present(&entry) {
            println!(
                "{}: already present in {}",
                entry.name,
                store.model_dir(&entry).display()
            );
            continue;
        }
        crate::pull::ensure(&entry, store).await?;
        println!("{}: {}", entry.name, store.load_path(&entry).display());
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
