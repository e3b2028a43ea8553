//! `switchyard`: the command line. Each subcommand lives in its own module; this file parses
//! arguments and maps outcomes to exit codes.
//!
//! Exit codes: 0 success; 1 the operation failed (upstream or server error); 2 bad usage or
//! invalid configuration; 3 the server could not be reached.

mod admin_client;
mod audit;
mod bench;
mod chat;
mod governed;
mod keys;
mod local;
mod logging;
mod models;
mod pull;
mod reload;
mod route;
mod serve;
mod tenants;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the proxy allocates and frees many small buffers per request; glibc's malloc
/// showed up at ~8 % of gateway CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "switchyard", version, about = "Self-hosted, model-neutral AI gateway", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve(serve::ServeArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Send one prompt and stream the answer to the terminal.
    Chat(chat::ChatArgs),
    /// List the models clients can use; `list` and `pull` manage local model files.
    Models(models::ModelsArgs),
    /// Ask a running server how it routes a model's requests.
    Route {
        #[command(subcommand)]
        command: route::RouteCommand,
    },
    /// Create, list and revoke virtual keys (on the store the config names).
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Organisations and their teams, with budgets and rate limits of their own.
    Tenants {
        #[command(subcommand)]
        command: tenants::TenantsCommand,
    },
    /// Usage totals from the ledger, or every row as CSV.
    Usage(keys::UsageArgs),
    /// The tamper-evident audit log: verify it, or make its signing key.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Check a response's `x-switchyard-receipt` against the audit log.
    Receipt {
        #[command(subcommand)]
        command: audit::ReceiptCommand,
    },
    /// Measure the embedded engine (prompt and decode speed, TTFT, concurrency, memory).
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate a config file (parse, resolve `${ENV}` references, build providers) and exit.
    Check {
        /// The TOML file to check.
        file: PathBuf,
    },
}

/// How to reach a running server (shared by `chat` and `models`).
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Base URL of a running Switchyard.
    #[arg(long, env = "SWITCHYARD_URL", default_value = "http://127.0.0.1:4000")]
    pub url: String,
    /// API key for the server, if it requires one.
    #[arg(long, env = "SWITCHYARD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        Failure {
            code: 3,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("switchyard: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Config {
                command: ConfigCommand::Check { file },
            } => serve::check(&file),
            Command::Chat(args) => chat::run(args).await,
            Command::Models(args) => models::run(args).await,
            Command::Route { command } => route::run(command).await,
            Command::Bench { command } => bench::run(command).await,
            Command::Keys { command } => keys::run(command).await,
            Command::Tenants { command } => tenants::run(command).await,
            Command::Usage(args) => keys::usage(args).await,
            Command::Audit { command } => audit::run(command).await,
            Command::Receipt { command } => audit::receipt(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("switchyard: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Loads and validates a config file, and builds the server state from it.
pub fn load(
    path: &std::path::Path,
) -> Result<(switchyard_config::Config, switchyard_server::AppState), Failure> {
    let config = switchyard_config::load_file(path, &switchyard_config::process_env)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let state =
        switchyard_server::AppState::build(&config).map_err(|e| Failure::usage(e.to_string()))?;
    Ok((config, state))
}

#[cfg(test)]
mod tests {
    /// Every subcommand's flags are well-formed (clap checks names, clashes and defaults).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
