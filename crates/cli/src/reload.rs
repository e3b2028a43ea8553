//! Config reload while serving: on SIGHUP, or when the config file's modification time
//! changes (checked every 2 s), the file goes through the same load, validation and build as
//! at start. A file that fails any step is rejected with the reason in the log, and the
//! running config stays; a good one serves every request that starts after it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use switchyard_server::{AppState, Live};
use tokio::signal::unix::{signal, SignalKind};

/// How often the file's modification time is checked.
const POLL: Duration = Duration::from_secs(2);

/// Runs until the process ends.
pub async fn watch(path: PathBuf, live: Live, listen: SocketAddr) {
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGHUP; the config file is still watched");
            None
        }
    };
    let mut seen = modified(&path);
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let by_signal = tokio::select! {
            () = async {
                match hangup.as_mut() {
                    Some(h) => { h.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => true,
            _ = tick.tick() => false,
        };
        let now = modified(&path);
        if !by_signal && now == seen {
            continue;
        }
        seen = now;
        reload(&path, &live, listen);
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn reload(path: &Path, live: &Live, listen: SocketAddr) {
    let config = match switchyard_config::load_file(path, &switchyard_config::process_env) {
        Ok(config) => config,
        Err(err) => {
            tracing::error!(error = %err, "config reload rejected; the running config stays");
            return;
        }
    };
    if config.listen != listen {
        tracing::warn!(
            %listen,
            requested = %config.listen,
            "the listen address changes only with a restart; still listening on the running one"
        );
    }
    let virtual_keys = live
        .current()
        .inner
        .governance
        .as_ref()
        .is_some_and(|g| g.keys.has_keys());
    if config.api_keys.is_empty() && !virtual_keys && !listen.ip().is_loopback() {
        tracing::error!(
            %listen,
            "config reload rejected: it has no api_keys, no virtual key exists, and this server listens on a non-loopback address; the running config stays"
        );
        return;
    }
    // Loading local models reads hundreds of megabytes: keep it off the async workers.
    match tokio::task::block_in_place(|| AppState::rebuild(&config, &live.current())) {
        Ok(state) => {
            if live.replace(state) {
                if let Some(governance) = &live.current().inner.governance {
                    let file = std::fs::read(path).ok();
                    switchyard_server::audit::config_loaded(
                        governance,
                        "reload",
                        file.as_deref(),
                        config.offline,
                    );
                }
                tracing::info!(
                    models = config.models.len(),
                    providers = config.providers.len(),
                    "config reloaded"
                );
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "config reload rejected; the running config stays");
        }
    }
}
