//! Admission of a request made with a virtual key, before any upstream call: the key's
//! rate limits (requests and tokens per minute), then a reservation of the most the request
//! could cost against the key's budget. The reservation is settled to the real cost when the
//! request ends ([`crate::pipeline::RequestContext::finish`]), or released if it never does.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_governance::budget::BudgetError;
use switchyard_governance::rate::Window;
use switchyard_routing::needs::Needs;

use crate::pipeline::{nano_usd, RequestContext};
use crate::state::AppState;

/// Output tokens assumed when neither the request nor the catalog caps them.
const DEFAULT_MAX_OUTPUT: u32 = 4_096;

/// Nanoseconds on a process-wide monotonic clock (rate windows outlive config reloads).
pub fn now_ns() -> i64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

/// The request and token windows after admission, for `x-ratelimit-*` headers.
pub type Windows = (Option<Window>, Option<Window>);

pub async fn admit(
    state: &AppState,
    ctx: &mut RequestContext,
    model_index: usize,
    needs: &Needs,
) -> Result<(), GatewayError> {
    let (Some(governance), Some(caller)) = (&state.inner.governance, ctx.caller.clone()) else {
        return Ok(());
    };
    let limits = caller.limits;
    match governance
        .rates
        .admit(&caller.key_id, limits.rpm, limits.tpm, now_ns())
    {
        Ok(windows) => ctx.rate = windows,
        Err(refused) => {
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
            let mut err = GatewayError::new(
                ErrorClass::RateLimited,
                format!(
                    "Rate limit reached for key `{}`: {what} per minute. Try again in {:.1} s.",
                    caller.key_name,
                    wait.as_secs_f64()
                ),
            )
            .with_code("rate_limit_exceeded");
            err.retry_after = Some(wait);
            return Err(err);
        }
    }
    let Some((limit, period)) = limits.budget else {
        return Ok(());
    };
    let now = switchyard_store::now_ms();
    let amount = max_cost_nano(state, model_index, needs);
    match governance
        .budgets
        .reserve(&caller.key_id, limit, period, amount, now)
        .await
    {
        Ok(reservation) => {
            ctx.reservation = Some(reservation);
            Ok(())
        }
        Err(BudgetError::Exceeded(e)) => {
            let mut err = GatewayError::new(
                ErrorClass::RateLimited,
                format!(
                    "The key `{}` has reached its {} budget of ${:.2} (spent ${:.4}, and this request could cost up to ${:.4}).",
                    caller.key_name,
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
            tracing::error!(error = %store, "cannot read a key's spend; refusing the request");
            Err(GatewayError::new(
                ErrorClass::UpstreamUnavailable,
                "The key's budget cannot be checked right now; try again shortly.",
            ))
        }
    }
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
            let output = match (needs.max_output, info.capabilities.max_output) {
                (0, 0) => DEFAULT_MAX_OUTPUT,
                (0, cap) => cap,
                (asked, _) => asked,
            };
            Some(nano_usd(price.cost(prompt, 0, u64::from(output))))
        })
        .max()
        .unwrap_or(0)
}
