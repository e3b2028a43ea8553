//! Admission of a request made with a virtual key, before any upstream call: the rate limits
//! (requests and tokens per minute) of the key, its team and its organisation (and their
//! per-model limits for the model asked for), all counted at once or not at all, then one
//! reservation of the most the request could cost against every budget among them. The reservation is settled to the real cost when the
//! request ends ([`crate::pipeline::RequestContext::finish`]), or released if it never does.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;
use std::sync::Arc;
use switchyard_dialects::{ErrorClass, GatewayError};

use switchyard_governance::budget::{BudgetError, BudgetScope};
use switchyard_governance::limits::Period;
use switchyard_governance::rate::{RateScope, Refused, Window};
use switchyard_governance::shared::SharedError;
use switchyard_governance::tenants::Scope;
use switchyard_governance::Governance;
use switchyard_routing::needs::Needs;

use crate::pipeline::{nano_usd, RequestContext};
use crate::state::AppState;

/// Output tokens assumed when neither the request nor the catalog caps them (an answer that
/// runs longer is still settled to its real cost).
const DEFAULT_MAX_OUTPUT: u32 = 4_096;

/// Nanoseconds on a process-wide monotonic clock (rate windows outlive config reloads).
pub fn now_ns() -> i64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

/// The request and token windows after admission, for `x-ratelimit-*` headers.
pub type Windows = (Option<Window>, Option<Window>);

/// Admits an inference request: rate limits, then the budget reservation.
pub async fn admit(
    state: &AppState,
    ctx: &mut RequestContext,
    model_index: usize,
    model: &str,
    needs: &Needs,
) -> Result<(), GatewayError> {
    admit_with(state, ctx, model_index, model, Some(needs)).await
}

/// Admits a token-counting request: the same rate limits as any request (it reaches an
/// upstream, or the tokenizer), no budget charge (counting is free).
pub async fn admit_count(
    state: &AppState,
    ctx: &mut RequestContext,
    model_index: usize,
    model: &str,
) -> Result<(), GatewayError> {
    admit_with(state, ctx, model_index, model, None).await
}

/// Rate limits, then, when `budgeted` gives the request's needs, one reservation of the most
/// it could cost.
async fn admit_with(
    state: &AppState,
    ctx: &mut RequestContext,
    model_index: usize,
    model: &str,
    budgeted: Option<&Needs>,
) -> Result<(), GatewayError> {
    let (Some(governance), Some(caller)) = (&state.inner.governance, ctx.caller.clone()) else {
        return Ok(());
    };
    // The key, its team and its organisation, and their per-model limits for this model.
    let Some(scopes) = governance.keys.tenants.scopes(&caller, model) else {
        return Err(GatewayError::new(
            ErrorClass::PermissionDenied,
            "The tenant this key belongs to is disabled.",
        )
        .with_code("tenant_disabled"));
    };
    if scopes.is_empty() {
        return Ok(());
    }
    let rate_scopes: Vec<RateScope> = scopes
        .iter()
        .map(|s| RateScope {
            id: &s.id,
            rpm: s.limits.rpm,
            tpm: s.limits.tpm,
        })
        .collect();
    match rates(governance, &rate_scopes, &ctx.id).await {
        Ok(windows) => ctx.rate = windows,
        Err((index, refused)) => return Err(rate_refusal(&scopes, index, refused, ctx)),
    }
    let Some(needs) = budgeted else {
        return Ok(());
    };
    ctx.token_scopes = scopes
        .iter()
        .filter(|s| s.limits.tpm.is_some())
        .map(|s| s.id.clone())
        .collect();
    let budgeted: Vec<(&Scope, i64, Period)> = scopes
        .iter()
        .filter_map(|s| s.limits.budget.map(|(limit, period)| (s, limit, period)))
        .collect();
    if budgeted.is_empty() {
        return Ok(());
    }
    let budget_scopes: Vec<BudgetScope> = budgeted
        .iter()
        .map(|(s, limit, period)| BudgetScope {
            id: &s.id,
            limit: *limit,
            period: *period,
            spend: &s.spend,
        })
        .collect();
    let now = switchyard_store::now_ms();
    let amount = max_cost_nano(state, model_index, needs);
    match governance
        .budgets
        .reserve(&budget_scopes, amount, now, &ctx.id)
        .await
    {
        Ok(reservation) => {
            ctx.reservation = Some(reservation);
            Ok(())
        }
        Err(BudgetError::Exceeded(e)) => {
            let (scope, limit, period) = budgeted
                .get(e.index)
                .map_or(("this key", e.limit, Period::Total), |(s, l, p)| {
                    (s.label.as_str(), *l, *p)
                });
            let mut err = GatewayError::new(
                ErrorClass::RateLimited,
                format!(
                    "The {scope} has reached its {} budget of ${:.2} (spent ${:.4}, and this request could cost up to ${:.4}).",
                    period.as_str(),
                    limit as f64 / 1e9,
                    e.spent as f64 / 1e9,
                    amount as f64 / 1e9,
                ),
            )
            .with_code("budget_exceeded");
            err.retry_after = e
                .resets_at
                .map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0)));
            Err(err)
        }
        // Spend cannot be read: fail closed.
        Err(BudgetError::Store(store)) => {
            tracing::error!(error = %store, "cannot read a budget's spend; refusing the request");
            Err(GatewayError::new(
                ErrorClass::UpstreamUnavailable,
                "The budget cannot be checked right now; try again shortly.",
            ))
        }
    }
}

/// The 429 for a rate limit, naming the scope that refused.
fn rate_refusal(
    scopes: &[Scope],
    index: usize,
    refused: Refused,
    ctx: &mut RequestContext,
) -> GatewayError {
    let what = if refused.tokens {
        format!("{} tokens", refused.window.limit)
    } else {
        format!("{} requests", refused.window.limit)
    };
    ctx.rate = if refused.tokens {
        (None, Some(refused.window))
    } else {
        (Some(refused.window), None)
    };
    let wait = Duration::from_nanos(refused.retry_after_ns);
    let scope = scopes.get(index).map_or("this key", |s| s.label.as_str());
    let mut err = GatewayError::new(
        ErrorClass::RateLimited,
        format!(
            "Rate limit reached for {scope}: {what} per minute. Try again in {:.1} s.",
            wait.as_secs_f64()
        ),
    )
    .with_code("rate_limit_exceeded");
    err.retry_after = Some(wait);
    err
}

/// The request and token windows of every scope: shared through Redis when configured
/// (falling back to this replica's share, limit / replicas, when Redis cannot be reached),
/// else local.
async fn rates(
    governance: &Governance,
    scopes: &[RateScope<'_>],
    request_id: &str,
) -> Result<Windows, (usize, Refused)> {
    if scopes.iter().all(|s| s.rpm.is_none() && s.tpm.is_none()) {
        return Ok((None, None));
    }
    let local = |replicas: u32| {
        let share = |limit: u32| limit.div_ceil(replicas.max(1)).max(1);
        let shares: Vec<RateScope> = scopes
            .iter()
            .map(|s| RateScope {
                id: s.id,
                rpm: s.rpm.map(share),
                tpm: s.tpm.map(share),
            })
            .collect();
        governance.rates.admit_all(&shares, now_ns())
    };
    let Some(shared) = &governance.shared else {
        return local(1);
    };
    let now = switchyard_store::now_ms();
    match shared.admit_all(scopes, now, request_id).await {
        Ok(outcome) => outcome,
        Err(err) => fallback(governance, &err, || local(governance.replicas)),
    }
}

/// A shared counter could not be reached: say so (loudly, counted in `/metrics`) and let
/// this replica's share decide.
fn fallback<T>(governance: &Governance, err: &SharedError, local: impl FnOnce() -> T) -> T {
    let n = governance.fallbacks.fetch_add(1, Ordering::Relaxed);
    if n == 0 || n.is_power_of_two() {
        tracing::warn!(
            error = %err,
            fallbacks = n + 1,
            replicas = governance.replicas,
            "shared rate limits unreachable: this replica enforces limit / replicas"
        );
    }
    local()
}

/// Charges a finished request's tokens to every scope with a token limit (shared or local).
pub fn charge_tokens(
    governance: &Arc<Governance>,
    scopes: Vec<String>,
    tokens: u64,
    request_id: &str,
) {
    if tokens == 0 || scopes.is_empty() {
        return;
    }
    let Some(shared) = governance.shared.clone() else {
        for id in &scopes {
            governance.rates.charge_tokens(id, tokens, now_ns());
        }
        return;
    };
    let (governance, member) = (governance.clone(), request_id.to_owned());
    tokio::spawn(async move {
        let now = switchyard_store::now_ms();
        if let Err(err) = shared.charge_tokens(&scopes, tokens, now, &member).await {
            fallback(&governance, &err, || {
                for id in &scopes {
                    governance.rates.charge_tokens(id, tokens, now_ns());
                }
            });
        }
    });
}

/// The most a request could cost at the dearest priced deployment of its route: its prompt's
/// most tokens ([`Needs::prompt_tokens_max`]) and the output cap it asked for (else the
/// deployment's, else 4,096 tokens). Zero when no deployment has a price.
fn max_cost_nano(state: &AppState, model_index: usize, needs: &Needs) -> i64 {
    let routes = &state.inner.routes;
    let count = routes
        .models()
        .get(model_index)
        .map_or(0, |m| m.deployments.len());
    let prompt = needs.prompt_tokens_max;
    (0..count)
        .filter_map(|position| routes.info(model_index, position))
        .filter_map(|info| {
            let price = info.price?;
            let caps = &info.capabilities;
            let output = match (needs.max_output, caps.max_output.min(caps.context_window)) {
                // No cap known (an uncatalogued model): assume the default.
                (0, 0 | u32::MAX) => DEFAULT_MAX_OUTPUT,
                (0, cap) => cap,
                (asked, _) => asked,
            };
            Some(nano_usd(price.cost(prompt, 0, u64::from(output))))
        })
        .max()
        .unwrap_or(0)
}
