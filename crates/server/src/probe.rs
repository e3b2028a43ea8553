//! Active health checks (`[routing] health_check_interval_s`): every interval, each distinct
//! remote deployment is sent a one-token chat request. An answer (or a client error, which
//! only a live deployment sends) closes an open breaker at once; a connect error, timeout or
//! 5xx counts as a failure, and enough of them eject the deployment before any client request
//! meets it; a 429 cools it down for its `Retry-After`. The embedded engine runs in-process
//! and is never probed. Checks read the live state each round, so a reload that turns them
//! on, off or to another interval takes effect at the next round.

use std::time::Duration;

use switchyard_providers::{Provider, ProviderErrorKind};
use switchyard_types::{ChatRequest, Message, Role};

use crate::live::Live;
use crate::state::AppState;

/// How often a state without active checks is looked at again (a reload may turn them on).
const IDLE: Duration = Duration::from_secs(1);

/// Runs until the task is dropped.
pub async fn run(live: Live) {
    loop {
        let Some(interval) = live.current().inner.health_check else {
            tokio::time::sleep(IDLE).await;
            continue;
        };
        tokio::time::sleep(interval).await;
        // The state current after the wait: checks go to the deployments now configured.
        check_all(&live.current()).await;
    }
}

/// One round: every remote deployment checked at once; returns when all have answered or
/// timed out (each provider's own timeouts apply).
pub async fn check_all(state: &AppState) {
    let inner = &state.inner;
    let checks = inner
        .health_deployments
        .iter()
        .enumerate()
        .filter_map(|(slot, deployment)| {
            let provider = inner.providers.get(deployment.provider_index)?;
            (!matches!(provider, Provider::Local(_))).then_some((slot, deployment, provider))
        })
        .map(|(slot, deployment, provider)| async move {
            let request = ChatRequest {
                model: deployment.upstream_model.clone(),
                messages: vec![Message::text(Role::User, "ping")],
                sampling: switchyard_types::SamplingParams {
                    max_output_tokens: Some(1),
                    ..Default::default()
                },
                ..Default::default()
            };
            let outcome = match provider.chat(&request, &deployment.upstream_model).await {
                Ok(_) => Ok(()),
                Err(err) if err.kind == ProviderErrorKind::Unsupported => return,
                Err(err) if !err.is_retryable() => Ok(()),
                Err(err) => {
                    tracing::warn!(
                        target: "switchyard::health",
                        deployment = %deployment.id,
                        error = %err.message,
                        "health check failed"
                    );
                    Err(match err.kind {
                        ProviderErrorKind::Status(429) => {
                            Some(err.retry_after.map_or(1_000, |d| {
                                u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
                            }))
                        }
                        _ => None,
                    })
                }
            };
            let now = inner.now_ms();
            let breaker = inner.breaker;
            inner.with_health_slot(slot, |h| h.on_check(now, outcome, &breaker));
        });
    futures::future::join_all(checks).await;
}
