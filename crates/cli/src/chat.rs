//! `switchyard chat`: one prompt, the answer streamed to the terminal. Talks to a running
//! server (the default) or, with `--config`, runs the pipeline in-process.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use futures::StreamExt;
use switchyard_config::{ProviderConfig, ProviderKind, Secret, Timeouts};
use switchyard_providers::{EventStream, OpenAiCompat, ProviderError, ProviderErrorKind};
use switchyard_types::{ChatRequest, Delta, Hosting, Jurisdiction, Message, Role, StreamEvent};

use crate::{load, logging, Failure};

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// The prompt.
    prompt: String,
    /// Model name (default: the first model the server or config offers).
    #[arg(long, short = 'm')]
    model: Option<String>,
    /// Run in-process from this config instead of calling a server.
    #[arg(long, short = 'c', conflicts_with = "url")]
    config: Option<PathBuf>,
    #[command(flatten)]
    server: crate::ServerArgs,
    /// Optional system prompt.
    #[arg(long)]
    system: Option<String>,
}

pub async fn run(args: ChatArgs) -> Result<(), Failure> {
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(Message::text(Role::System, system.clone()));
    }
    messages.push(Message::text(Role::User, args.prompt.clone()));
    let request = |model: String| ChatRequest {
        model,
        messages: messages.clone(),
        stream: true,
        ..Default::default()
    };
    match &args.config {
        Some(path) => {
            let (config, state) = load(path)?;
            logging::init(&config.log, true);
            let model = match args
                .model
                .clone()
                .or_else(|| config.models.first().map(|m| m.name.clone()))
            {
                Some(m) => m,
                None => return Err(Failure::usage("the config defines no models")),
            };
            let mut ctx = switchyard_server::pipeline::RequestContext::start(&state, "cli");
            let answer = switchyard_server::pipeline::chat(&state, &mut ctx, request(model))
                .await
                .map_err(|e| Failure::failed(e.message))?;
            match answer {
                switchyard_server::pipeline::ChatAnswer::Stream { first, rest, .. } => {
                    print_stream(
                        futures::stream::iter(first.into_iter().map(Ok))
                            .chain(rest)
                            .boxed(),
                    )
                    .await
                }
                switchyard_server::pipeline::ChatAnswer::Complete(response, _) => {
                    println!(
                        "{}",
                        switchyard_types::Message {
                            role: Role::Assistant,
                            content: response.content,
                            name: None
                        }
                        .joined_text()
                    );
                    Ok(())
                }
            }
        }
        None => {
            let client = server_client(&args.server.url, args.server.api_key.as_deref())?;
            let model = match &args.model {
                Some(m) => m.clone(),
                None => first_model(&args.server.url, args.server.api_key.as_deref()).await?,
            };
            let stream = client
                .chat_stream(&request(model.clone()), &model)
                .await
                .map_err(from_provider)?;
            print_stream(stream).await
        }
    }
}

/// The server seen as an OpenAI-compatible upstream: the CLI reuses the adapter.
fn server_client(url: &str, api_key: Option<&str>) -> Result<OpenAiCompat, Failure> {
    let base = format!("{}/v1", url.trim_end_matches('/').trim_end_matches("/v1"));
    OpenAiCompat::new(&ProviderConfig {
        id: "switchyard".to_owned(),
        kind: ProviderKind::OpenAi,
        base_url: Some(base),
        api_key: api_key.map(Secret::new),
        jurisdiction: Jurisdiction("LOCAL".to_owned()),
        jurisdiction_set: false,
        retention: None,
        hosting: Hosting::OnPrem,
        operator: None,
        api_version: None,
        tls_ca_file: None,
        file_uri_prefixes: Vec::new(),
        tenant_file_uri_prefixes: Default::default(),
        headers: Vec::new(),
        local: None,
        aws: None,
        gcp: None,
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(3600),
        },
    })
    .map_err(|e| Failure::usage(e.message))
}

pub async fn first_model(url: &str, api_key: Option<&str>) -> Result<String, Failure> {
    let models = crate::models::fetch(url, api_key).await?;
    models
        .into_iter()
        .next()
        .ok_or_else(|| Failure::failed("the server offers no models; pass --model"))
}

fn from_provider(err: ProviderError) -> Failure {
    let message = err.message.replace("upstream `switchyard`", "server");
    match err.kind {
        ProviderErrorKind::Connect => {
            Failure::unreachable(format!("{message} (is `switchyard serve` running?)"))
        }
        _ => Failure::failed(message),
    }
}

async fn print_stream(mut stream: EventStream) -> Result<(), Failure> {
    let mut stdout = std::io::stdout();
    while let Some(item) = stream.next().await {
        match item {
            Ok(StreamEvent::BlockDelta {
                delta: Delta::Text(text),
                ..
            }) => {
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
            Ok(StreamEvent::BlockStart {
                block: switchyard_types::BlockKind::ToolUse { name, .. },
                ..
            }) => {
                let _ = write!(stdout, "\n[tool call: {name}] ");
            }
            Ok(StreamEvent::BlockDelta {
                delta: Delta::ToolArguments(args),
                ..
            }) => {
                let _ = stdout.write_all(args.as_bytes());
            }
            Ok(_) => {}
            Err(err) => {
                let _ = writeln!(stdout);
                return Err(from_provider(err));
            }
        }
    }
    let _ = writeln!(stdout);
    Ok(())
}
