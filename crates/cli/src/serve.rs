//! `switchyard serve` and `switchyard config check`.

use std::path::{Path, PathBuf};

use clap::Args;
use switchyard_config::{Config, LogConfig, LogFormat};
use switchyard_governance::Governance;
use switchyard_server::AppState;

use crate::{load, logging, Failure};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Config file (TOML). Without one, Switchyard serves its built-in local models
    /// (`default` and `default-embedding`), pulling them into $SWITCHYARD_HOME first if needed.
    #[arg(long, short = 'c', env = "SWITCHYARD_CONFIG")]
    config: Option<PathBuf>,
    /// Forbid every outbound connection, like `offline = true` in the config: never download
    /// models, no upstream but the embedded engine and loopback or private addresses, no
    /// URL fetching.
    #[arg(long)]
    offline: bool,
    /// Address to listen on; overrides the config's `listen`.
    #[arg(long, short = 'l')]
    listen: Option<String>,
}

pub async fn run(args: ServeArgs) -> Result<(), Failure> {
    let mut config = match &args.config {
        Some(path) => switchyard_config::load_file(path, &switchyard_config::process_env),
        None => switchyard_config::load_str("", &switchyard_config::process_env),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(listen) = &args.listen {
        config.listen = listen.parse().map_err(|_| {
            Failure::usage(format!(
                "--listen: `{listen}` is not a socket address such as 127.0.0.1:4000"
            ))
        })?;
    }
    logging::init(&config.log, false);
    let store = crate::governed::open_store(&config).await?;
    let spool = crate::governed::spool_dir();
    let shared = crate::governed::shared(&config).await?;
    let signer = switchyard_governance::audit::signer_from_env().map_err(Failure::usage)?;
    match &signer {
        Some(signer) => tracing::info!(public_key = %signer.public_key(), "audit log signed"),
        None => tracing::warn!(
            "audit log unsigned: set SWITCHYARD_AUDIT_KEY (make one with `switchyard audit keygen`) for signed checkpoints"
        ),
    }
    let governance = Governance::start(
        store,
        crate::governed::pepper()?,
        Some(&spool),
        shared,
        signer,
    )
    .await
    .map_err(|e| Failure::usage(e.to_string()))?;
    if config.api_keys.is_empty()
        && !governance.keys.has_keys()
        && !config.listen.ip().is_loopback()
    {
        return Err(Failure::usage(format!(
            "refusing to serve without API keys on the non-loopback address {}: create a key (`switchyard keys create`), set `api_keys` in the config, or listen on 127.0.0.1",
            config.listen
        )));
    }
    // `--offline` is `offline = true` for this run.
    if args.offline && !config.offline {
        config.offline = true;
        config.media.offline = true;
        if let Some(why) = config
            .providers
            .iter()
            .find_map(switchyard_config::offline_refusal)
        {
            return Err(Failure::usage(format!("--offline: {why}")));
        }
    }
    let file = args.config.as_deref().and_then(|p| std::fs::read(p).ok());
    switchyard_server::audit::config_loaded(&governance, "start", file.as_deref(), config.offline);
    if args.config.is_none() {
        let store = switchyard_models::Store::from_env();
        let offline = config.offline;
        config = crate::local::default_config(config, &store, offline).await?;
    }
    if config.providers.iter().any(|p| p.local.is_some()) {
        tracing::info!("loading the local models");
    }
    // Loading local models reads hundreds of megabytes: keep it off the async workers.
    let state =
        tokio::task::block_in_place(|| AppState::build_governed(&config, Some(governance.clone())))
            .map_err(|e| Failure::usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Failure::failed(format!("cannot listen on {}: {e}", config.listen)))?;
    announce(&config, args.config.as_deref(), &governance);
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = start_admin(&config, &governance, admin_stopped).await?;
    let live = switchyard_server::Live::new(state);
    if let Some(path) = &args.config {
        tokio::spawn(crate::reload::watch(
            path.clone(),
            live.clone(),
            config.listen,
        ));
    }
    let served = switchyard_server::serve_live(
        live,
        listener,
        Box::pin(shutdown_signal()),
        config.drain_timeout,
        config.server,
    )
    .await
    .map_err(|e| Failure::failed(format!("server error: {e}")));
    let _ = admin_stop.send(());
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    // Every answered request's usage row reaches the store before the process ends.
    governance.shutdown(LEDGER_DRAIN).await;
    tracing::info!(
        ledger_rows = governance.ledger.written(),
        "shutdown complete"
    );
    served
}

/// The admin API on its own listener, when `SWITCHYARD_ADMIN_TOKEN` is set.
async fn start_admin(
    config: &Config,
    governance: &std::sync::Arc<Governance>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>, Failure> {
    let Some(token) = std::env::var("SWITCHYARD_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    else {
        tracing::info!("admin API off: set SWITCHYARD_ADMIN_TOKEN to turn it on");
        return Ok(None);
    };
    let viewer = std::env::var("SWITCHYARD_VIEWER_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let state =
        switchyard_server::admin::AdminState::new(governance.clone(), &token, viewer.as_deref())
            .map_err(Failure::usage)?;
    let listener = tokio::net::TcpListener::bind(config.admin_listen)
        .await
        .map_err(|e| {
            Failure::failed(format!(
                "cannot listen on {} for the admin API: {e} (set [admin] listen)",
                config.admin_listen
            ))
        })?;
    if !config.admin_listen.ip().is_loopback() {
        tracing::warn!(listen = %config.admin_listen, "the admin API listens beyond loopback");
    }
    tracing::info!(listen = %config.admin_listen, "admin API on http://{}/admin", config.admin_listen);
    Ok(Some(tokio::spawn(switchyard_server::admin::serve(
        state,
        listener,
        Box::pin(async move {
            let _ = stop.await;
        }),
    ))))
}

/// How long shutdown waits for the usage ledger to be written.
const LEDGER_DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

fn announce(config: &Config, path: Option<&Path>, governance: &Governance) {
    tracing::info!(
        listen = %config.listen,
        config = %path.map(|p| p.display().to_string()).unwrap_or_else(|| "(none)".to_owned()),
        providers = config.providers.len(),
        models = config.models.len(),
        "switchyard listening on http://{}/v1",
        config.listen
    );
    tracing::info!(
        store = %switchyard_store::redact(&crate::governed::store_url(config)),
        virtual_keys = governance.keys.has_keys(),
        "store open"
    );
    if config.api_keys.is_empty() && !governance.keys.has_keys() {
        tracing::warn!(
            "no API keys (none in the config, none created with `switchyard keys create`): open to any client on loopback only"
        );
    }
    if config.models.is_empty() {
        tracing::warn!(
            "no models configured: add [[providers]] and [[models]] to a config file (see README)"
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

pub fn check(path: &Path) -> Result<(), Failure> {
    logging::init(
        &LogConfig {
            format: LogFormat::Text,
            level: "warn".to_owned(),
        },
        true,
    );
    let (config, _) = load(path)?;
    println!(
        "{}: ok ({} provider(s), {} model(s), listen {})",
        path.display(),
        config.providers.len(),
        config.models.len(),
        config.listen
    );
    Ok(())
}
