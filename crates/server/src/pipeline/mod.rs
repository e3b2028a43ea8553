//! The request pipeline, dialect-independent: a canonical request in, a canonical answer out.
//!
//! ```text
//! (dialect decode and authentication happen at the edge, in `routes`)
//!   -> plan route: the model's deployments in order
//!   -> for each candidate until one commits: provider encode, send, decode
//!        (a stream commits when its first event arrives; before that a retryable
//!         failure moves on to the next candidate)
//!   -> canonical response, or the first events plus the rest of the stream
//! (dialect encode, metrics and the log line happen at the edge, in `routes`)
//! ```

use std::time::{Duration, Instant};

use futures::StreamExt;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_providers::{EventStream, Operation, Provider, ProviderError, ProviderErrorKind};
use switchyard_routing::health::Admission;
use switchyard_routing::needs::Needs;
use switchyard_routing::{Ranking, Why};
use switchyard_types::{
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, StreamEvent, Usage,
};

use switchyard_governance::Caller;
use switchyard_providers::media::MediaHold;
use tokio::sync::OnceCell;

use crate::errors;
use crate::state::AppState;

mod context;

pub use context::{nano_usd, RequestContext};

/// Which deployment served, for response headers.
#[derive(Debug, Clone)]
pub struct Served {
    pub deployment_id: String,
    pub provider_id: String,
    pub attempts: u32,
    /// The deployment's place in its model's route (for its price).
    pub position: usize,
    /// What the answer cost at the deployment's price, when both are known (not for
    /// streams: their usage arrives after the headers, and their cost in the stream's end).
    pub cost_usd: Option<f64>,
}

pub enum ChatAnswer {
    Complete(ChatResponse, Served),
    /// `first` holds the events already read from the upstream (the stream is committed to
    /// this deployment); `rest` yields the remainder.
    Stream {
        first: Vec<StreamEvent>,
        rest: EventStream,
        served: Served,
    },
}

/// A short, stable name for an error class: metrics label and log field.
pub fn error_kind(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest => "invalid_request",
        ErrorClass::Authentication => "authentication",
        ErrorClass::PermissionDenied => "permission_denied",
        ErrorClass::NotFound => "not_found",
        ErrorClass::MethodNotAllowed => "method_not_allowed",
        ErrorClass::PayloadTooLarge => "payload_too_large",
        ErrorClass::RateLimited => "rate_limited",
        ErrorClass::UpstreamError => "upstream_error",
        ErrorClass::UpstreamUnavailable => "upstream_unavailable",
        ErrorClass::UpstreamTimeout => "upstream_timeout",
        ErrorClass::Internal => "internal",
    }
}

fn unknown_model(name: &str) -> GatewayError {
    GatewayError::new(
        ErrorClass::NotFound,
        format!("The model `{name}` does not exist or you do not have access to it."),
    )
    .with_param("model")
    .with_code("model_not_found")
}

/// Serves a chat request.
pub async fn chat(
    state: &AppState,
    ctx: &mut RequestContext,
    request: ChatRequest,
) -> Result<ChatAnswer, GatewayError> {
    let policies = request_policies(state, ctx)?;
    // The key is of the request as sent, before the PII guard changes it.
    let cache = state
        .inner
        .cache
        .as_ref()
        .and_then(|cache| Some((cache, crate::cache::key(ctx, &request)?)));
    // Admitted (rate limits, budget) before the guard spends time on the request's text.
    let needs = Needs::of(&request);
    let model_index = admitted(state, ctx, &request.model, &needs).await?;
    crate::files::check(state, model_index, &request, ctx.caller.as_deref())?;
    let (request, outcome) = crate::guard::chat_request(state, &policies, request, &needs).await;
    let vault = guarded(ctx, outcome)?;
    if let Some((kept, key)) = &cache {
        if ctx.cache == crate::cache::Use::ReadWrite {
            if let Some(answer) =
                crate::cache::answer(state, ctx, &policies, kept, key, &vault, &request).await?
            {
                return Ok(answer);
            }
        }
    }
    let request = &request;
    let inlined = Inlined::new();
    let inlined = &inlined;
    let (answer, served) = try_in_order(
        state,
        ctx,
        &policies,
        model_index,
        &request.model,
        Operation::Chat,
        &needs,
        |provider, model| async move {
            let request = for_provider(state, &provider, request, inlined).await?;
            if request.stream {
                let stream = provider.chat_stream(request, &model).await?;
                commit(stream).await.map(Answer::Stream)
            } else {
                provider.chat(request, &model).await.map(Answer::Complete)
            }
        },
    )
    .await?;
    Ok(match answer {
        Answer::Complete(mut response) => {
            if let Some((kept, key)) = cache {
                // Kept as the upstream gave it: placeholders, never the originals.
                kept.put(
                    key,
                    crate::cache::Hit {
                        response: response.clone(),
                        deployment_id: served.deployment_id.clone(),
                        position: served.position,
                    },
                );
            }
            crate::guard::restore(&vault, &mut response);
            let served = Served {
                cost_usd: ctx.cost(&response.usage),
                ..served
            };
            ChatAnswer::Complete(response, served)
        }
        Answer::Stream((first, rest)) if !vault.is_empty() => {
            let (first, rest) = crate::guard::restore_stream(vault, first, rest);
            ChatAnswer::Stream {
                first,
                rest,
                served,
            }
        }
        Answer::Stream((first, rest)) => ChatAnswer::Stream {
            first,
            rest,
            served,
        },
    })
}

/// Every policy the request is held to: the default, its key's and tenants', its header's.
fn request_policies<'s>(
    state: &'s AppState,
    ctx: &mut RequestContext,
) -> Result<Vec<&'s switchyard_policy::Policy>, GatewayError> {
    let attached = crate::sovereignty::attached(state, ctx.caller.as_deref());
    let policies =
        crate::sovereignty::policies(state, &attached, &ctx.policies).inspect_err(|_| {
            ctx.decision = "refused";
        })?;
    ctx.policy_marks = policies
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    ctx.exporters = state.inner.exporters.admitted(&policies);
    Ok(policies)
}

/// The PII guard's outcome on the context: findings counted, a block marked.
fn guarded(
    ctx: &mut RequestContext,
    outcome: Result<switchyard_policy::pii::Vault, crate::guard::Blocked>,
) -> Result<switchyard_policy::pii::Vault, GatewayError> {
    match outcome {
        Ok(vault) => {
            ctx.pii_findings = vault.total();
            Ok(vault)
        }
        Err(blocked) => {
            ctx.decision = "blocked";
            ctx.pii_findings = blocked.findings;
            Err(blocked.error)
        }
    }
}

enum Answer {
    Complete(ChatResponse),
    Stream((Vec<StreamEvent>, EventStream)),
}

/// Serves an embeddings request.
pub async fn embed(
    state: &AppState,
    ctx: &mut RequestContext,
    mut request: EmbeddingRequest,
) -> Result<(EmbeddingResponse, Served), GatewayError> {
    let policies = request_policies(state, ctx)?;
    let needs = Needs::default();
    let model_index = admitted(state, ctx, &request.model, &needs).await?;
    guarded(ctx, crate::guard::embedding(state, &policies, &mut request))?;
    let request = &request;
    let (response, served) = try_in_order(
        state,
        ctx,
        &policies,
        model_index,
        &request.model,
        Operation::Embed,
        &needs,
        |provider, model| async move { provider.embed(request, &model).await },
    )
    .await?;
    let usage = Usage {
        input_tokens: response.input_tokens,
        ..Usage::default()
    };
    let served = Served {
        cost_usd: ctx.cost(&usage),
        ..served
    };
    Ok((response, served))
}

/// Counts a request's prompt tokens at the deployment that would serve it, the first in
/// ranked order that can count exactly (a deployment whose provider has no counting API is
/// skipped, never guessed for), under the same policies, health and retry rules as a request.
pub async fn count_tokens(
    state: &AppState,
    ctx: &mut RequestContext,
    request: &ChatRequest,
) -> Result<(u64, Served), GatewayError> {
    let inner = &state.inner;
    let plan = inner
        .routes
        .plan(&request.model)
        .map_err(|_| unknown_model(&request.model))?;
    ctx.model = plan.model_index as u32;
    allowed(ctx, &request.model)?;
    audit_room(state).inspect_err(|_| ctx.decision = UNRECORDED)?;
    // Counting costs an upstream call (or the tokenizer's time): rate-limited like any
    // request, not charged to a budget.
    crate::admission::admit_count(state, ctx, plan.model_index, &request.model).await?;
    // Counting sends the prompt upstream too: the same policies and guard apply.
    let policies = request_policies(state, ctx)?;
    let (guarded_request, outcome) =
        crate::guard::chat_request(state, &policies, request.clone(), &Needs::of(request)).await;
    guarded(ctx, outcome)?;
    let request = &guarded_request;
    crate::files::check(state, plan.model_index, request, ctx.caller.as_deref())?;
    let inlined = Inlined::new();
    let inlined = &inlined;
    // Any deployment can be asked to count (one without a counting API says so and is
    // skipped): no capability is needed.
    try_in_order(
        state,
        ctx,
        &policies,
        plan.model_index,
        &request.model,
        Operation::CountTokens,
        &Needs::default(),
        |provider, model| async move {
            let request = for_provider(state, &provider, request, inlined).await?;
            provider.count_tokens(request, &model).await
        },
    )
    .await
}

/// The request as `provider` can take it: with image and document URLs fetched and inlined
/// when the provider only takes inline data (fetched once per request, whichever deployment
/// needs it first).
async fn for_provider<'a>(
    state: &AppState,
    provider: &Provider,
    request: &'a ChatRequest,
    inlined: &'a Inlined,
) -> Result<&'a ChatRequest, ProviderError> {
    if !provider.needs_inline_media() || !switchyard_providers::media::has_remote_media(request) {
        return Ok(request);
    }
    let (request, _hold) = inlined
        .get_or_try_init(|| async {
            let fetched = state.inner.media.inline(request).await?;
            Ok::<_, ProviderError>(
                fetched.unwrap_or_else(|| (request.clone(), MediaHold::default())),
            )
        })
        .await?;
    Ok(request)
}

/// A request with its media URLs fetched, once per request, and what its fetched bytes hold
/// of the process-wide limit (given back when the request is done with them).
type Inlined = OnceCell<(ChatRequest, MediaHold)>;

/// The model's index once the request may use it and is admitted: the key's model
/// allow-list, then its rate limits and one budget reservation. From here on the request goes
/// into the usage ledger.
async fn admitted(
    state: &AppState,
    ctx: &mut RequestContext,
    model: &str,
    needs: &Needs,
) -> Result<usize, GatewayError> {
    ctx.billable = true;
    let model_index = state
        .inner
        .routes
        .index_of(model)
        .ok_or_else(|| unknown_model(model))?;
    ctx.model = model_index as u32;
    ctx.prompt_tokens = u64::from(needs.prompt_tokens);
    allowed(ctx, model)?;
    audit_room(state).inspect_err(|_| ctx.decision = UNRECORDED)?;
    crate::admission::admit(state, ctx, model_index, model, needs).await?;
    Ok(model_index)
}

/// The decision of a request refused because the audit log is full: it gets no record.
pub(crate) const UNRECORDED: &str = "unrecorded";

/// A 503 while the audit queue is full and the policy is to refuse (`[audit] when_full`):
/// a request served now could not be recorded, and the log is a compliance record.
pub(crate) fn audit_room(state: &AppState) -> Result<(), GatewayError> {
    match &state.inner.governance {
        Some(governance) if governance.audit.refuses() => {
            let mut err = GatewayError::new(
                ErrorClass::UpstreamUnavailable,
                format!(
                    "The audit log cannot keep up ({} records waiting to be written); requests are refused until it does, so that none is served unrecorded.",
                    governance.audit.pending()
                ),
            )
            .with_code("audit_unavailable");
            err.retry_after = Some(Duration::from_secs(1));
            Err(err)
        }
        _ => Ok(()),
    }
}

/// Ranks the model's deployments for this request (capabilities, health, strategy) and
/// calls `attempt` on each admitted one in order until one succeeds. A failure moves on to
/// the next only when a retry is safe; otherwise, or after the last, it becomes the client's
/// error. Every attempt's outcome updates the deployment's health (breaker, cool-down after a
/// 429, in-flight count, latency average).
#[allow(clippy::too_many_arguments)] // the request's parts; a typed context (issue 17) will carry them
async fn try_in_order<T, F, Fut>(
    state: &AppState,
    ctx: &mut RequestContext,
    policies: &[&switchyard_policy::Policy],
    model_index: usize,
    model: &str,
    operation: Operation,
    needs: &Needs,
    mut attempt: F,
) -> Result<(T, Served), GatewayError>
where
    F: FnMut(Provider, String) -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let inner = &state.inner;
    let snapshot = inner.health_snapshot(model_index);
    let now_ms = inner.now_ms();
    let mut ranking = inner
        .routes
        .rank(model_index, needs, &snapshot, now_ms, fastrand::u64(..));
    // Fail closed: deployments the request's policies refuse are never tried, first or on
    // any retry or fallback.
    crate::sovereignty::apply(state, policies, model_index, model, &mut ranking);
    able(state, operation, &mut ranking);
    if let Some(refused) = crate::sovereignty::refused(model, &ranking) {
        ctx.decision = "refused";
        return Err(refused);
    }
    if ranking.admitted.is_empty() {
        return Err(no_deployment(model, &ranking, now_ms));
    }
    inner.retry_budget.record_request();
    let max_attempts = 1 + inner.max_retries as usize;
    // Deployments this request must not try again (timed out, rate-limited, refused).
    let mut excluded: Vec<usize> = Vec::new();
    let mut next = 0usize;
    let mut previous: Option<usize> = None;
    let mut same_retries = 0u32;
    let mut attempts = 0usize;
    let mut last_error: Option<ProviderError> = None;
    // Deployments that cannot take this request (their adapter's check refused it before
    // anything was sent): skipped, never counted as attempts, named if none can.
    let mut incapable: Vec<(String, ProviderError)> = Vec::new();
    while attempts < max_attempts {
        // The next admitted deployment, in ranked order and round again, that is still
        // taking traffic: the ranking is current for the first attempt; after a failure,
        // health is read again.
        let live = (attempts > 0).then(|| (inner.now_ms(), inner.health_snapshot(model_index)));
        let count = ranking.admitted.len();
        let Some(index) = (0..count).map(|k| (next + k) % count).find(|&i| {
            let c = &ranking.admitted[i];
            !excluded.contains(&c.position)
                && live.as_ref().is_none_or(|(now, health)| {
                    health.get(c.position).is_none_or(|h| {
                        matches!(h.admission(*now), Admission::Yes | Admission::Probe)
                    })
                })
        }) else {
            break;
        };
        next = index + 1;
        let candidate = &ranking.admitted[index];
        if attempts > 0 {
            if !inner.retry_budget.try_retry() {
                tracing::warn!(
                    target: "switchyard::upstream",
                    request_id = %ctx.id,
                    "retry budget spent; not retrying"
                );
                break;
            }
            if previous == Some(candidate.position) {
                same_retries += 1;
                tokio::time::sleep(crate::retry::backoff(inner.retry_backoff, same_retries)).await;
            }
        }
        attempts += 1;
        let before = previous.replace(candidate.position);
        let deployment = candidate.deployment;
        let Some(provider) = inner.providers.get(deployment.provider_index) else {
            excluded.push(candidate.position);
            continue;
        };
        ctx.provider = deployment.provider_index as u32;
        ctx.position = candidate.position as u32;
        let mut guard = HealthGuard::start(state, model_index, candidate.position);
        let started = Instant::now();
        match attempt(provider.clone(), deployment.upstream_model.clone()).await {
            Ok(value) => {
                guard.success(started.elapsed());
                ctx.price = inner
                    .routes
                    .info(model_index, candidate.position)
                    .and_then(|info| info.price);
                let served = Served {
                    deployment_id: deployment.id.clone(),
                    provider_id: deployment.provider_id.clone(),
                    attempts: attempts as u32,
                    position: candidate.position,
                    cost_usd: None,
                };
                return Ok((value, served));
            }
            Err(err) if never_sent(&err) => {
                guard.failure(&err);
                attempts -= 1;
                previous = before;
                excluded.push(candidate.position);
                incapable.push((deployment.id.clone(), err));
            }
            Err(err) => {
                guard.failure(&err);
                let retry = err.is_retryable() && attempts < max_attempts;
                tracing::warn!(
                    target: "switchyard::upstream",
                    request_id = %ctx.id,
                    deployment = %deployment.id,
                    error = %err.message,
                    retry,
                    "upstream attempt failed"
                );
                if !err.is_retryable() {
                    return Err(errors::from_provider(&err));
                }
                // A timeout is not waited out twice, and a 429 cools the deployment down:
                // neither is tried again by this request.
                if matches!(
                    err.kind,
                    ProviderErrorKind::Timeout(_) | ProviderErrorKind::Status(429)
                ) {
                    excluded.push(candidate.position);
                }
                last_error = Some(err);
            }
        }
    }
    if let Some(err) = &last_error {
        return Err(errors::from_provider(err));
    }
    Err(match incapable.as_slice() {
        [] => GatewayError::new(
            ErrorClass::UpstreamUnavailable,
            "no deployment could serve the request",
        ),
        [(_, only)] => errors::from_provider(only),
        several => GatewayError::invalid(
            format!(
                "no deployment of `{model}` can take this request ({})",
                several
                    .iter()
                    .map(|(id, err)| format!("{id}: {}", err.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            None,
        ),
    })
}

/// Moves every deployment whose provider cannot do `operation` at all to the skipped ones,
/// with the provider's reason (replacing a health reason: it could not serve even when well).
pub(crate) fn able(state: &AppState, operation: Operation, ranking: &mut Ranking<'_>) {
    ranking.skip_where(|r| {
        let provider = state.inner.providers.get(r.deployment.provider_index)?;
        let err = provider
            .can(operation, &r.deployment.upstream_model)
            .err()?;
        Some(Why::Unable(err.message))
    });
}

/// Whether an attempt failed in the adapter's own check of the request, before anything was
/// sent: the deployment cannot take this request (a feature it lacks), so the next one is
/// tried without counting an attempt or touching the retry budget. The media fetcher's
/// "gateway busy" is not such a refusal.
fn never_sent(err: &ProviderError) -> bool {
    err.kind == ProviderErrorKind::Unsupported
        && err.code.as_deref() != Some(switchyard_providers::media::GATEWAY_BUSY)
}

/// A virtual key limited to some models may call only those.
pub(crate) fn allowed(ctx: &RequestContext, model: &str) -> Result<(), GatewayError> {
    may_use(ctx.caller.as_deref(), model)
}

/// Whether `caller`'s key may use `model` (its allow-list; no key, no list: every model).
pub(crate) fn may_use(caller: Option<&Caller>, model: &str) -> Result<(), GatewayError> {
    match caller.filter(|c| !c.may_use(model)) {
        Some(caller) => Err(GatewayError::new(
            ErrorClass::PermissionDenied,
            format!(
                "The key `{}` may not use the model `{model}`.",
                caller.key_name
            ),
        )
        .with_param("model")
        .with_code("model_not_allowed")),
        None => Ok(()),
    }
}

/// The models `caller` may use, in the configured order: what the model lists show it.
pub(crate) fn listed_models<'s, 'c>(
    state: &'s AppState,
    caller: Option<&'c Caller>,
) -> impl Iterator<Item = &'s switchyard_routing::ModelRoute> + use<'s, 'c> {
    state
        .inner
        .routes
        .models()
        .iter()
        .filter(move |m| caller.is_none_or(|c| c.may_use(&m.name)))
}

/// Nothing admitted: a 400 when no deployment can take this kind of request; a 429 with
/// `Retry-After` when the able ones are all cooling down after an upstream 429; a 503 when
/// some are ejected. Each deployment's reason is named.
fn no_deployment(model: &str, ranking: &Ranking<'_>, now_ms: u64) -> GatewayError {
    let reasons: Vec<String> = ranking
        .skipped
        .iter()
        .map(|r| format!("{}: {}", r.deployment.id, r.why))
        .collect();
    let reasons = reasons.join("; ");
    let able: Vec<&Why> = ranking
        .skipped
        .iter()
        .map(|r| &r.why)
        .filter(|why| !matches!(why, Why::Incapable(_) | Why::Unable(_)))
        .collect();
    if able.is_empty() {
        return GatewayError::invalid(
            format!("no deployment of `{model}` can take this request ({reasons})"),
            None,
        );
    }
    let cooling: Option<u64> = able
        .iter()
        .map(|why| match why {
            Why::CoolingDown { until_ms } => Some(*until_ms),
            _ => None,
        })
        .collect::<Option<Vec<u64>>>()
        .and_then(|untils| untils.into_iter().min());
    match cooling {
        Some(until_ms) => {
            let mut err = GatewayError::new(
                ErrorClass::RateLimited,
                format!("every deployment of `{model}` is rate-limited upstream ({reasons})"),
            );
            err.retry_after = Some(Duration::from_millis(
                until_ms.saturating_sub(now_ms).max(1),
            ));
            err
        }
        None => GatewayError::new(
            ErrorClass::UpstreamUnavailable,
            format!("no deployment of `{model}` is available now ({reasons})"),
        ),
    }
}

/// One attempt's effect on its deployment's health; released as neutral if the attempt is
/// dropped half-way (the client went away), so that in-flight counts and probes never leak.
struct HealthGuard<'a> {
    state: &'a AppState,
    model: usize,
    position: usize,
    done: bool,
}

impl<'a> HealthGuard<'a> {
    fn start(state: &'a AppState, model: usize, position: usize) -> Self {
        let now = state.inner.now_ms();
        state
            .inner
            .with_health(model, position, |h| h.on_start(now));
        HealthGuard {
            state,
            model,
            position,
            done: false,
        }
    }

    fn success(&mut self, took: Duration) {
        self.done = true;
        let ms = took.as_secs_f64() * 1000.0;
        self.state
            .inner
            .with_health(self.model, self.position, |h| h.on_success(Some(ms)));
    }

    fn failure(&mut self, err: &ProviderError) {
        self.done = true;
        let inner = &self.state.inner;
        let now = inner.now_ms();
        let breaker = inner.breaker;
        inner.with_health(self.model, self.position, |h| match err.kind {
            // Never sent: says nothing of the deployment.
            ProviderErrorKind::Unsupported => h.on_release(now),
            ProviderErrorKind::Status(429) => {
                let wait = err.retry_after.unwrap_or(Duration::from_secs(1));
                h.on_failure(
                    now,
                    Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
                    &breaker,
                )
            }
            // Failed, or answered with something that cannot be understood.
            _ if err.is_retryable() || err.kind == ProviderErrorKind::Protocol => {
                h.on_failure(now, None, &breaker)
            }
            // A client error answered by a live deployment.
            _ => h.on_success(None),
        });
    }
}

impl Drop for HealthGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let now = self.state.inner.now_ms();
            self.state
                .inner
                .with_health(self.model, self.position, |h| h.on_release(now));
        }
    }
}

/// Reads a stream up to its first content-bearing event. An error before that point is
/// returned as a plain error: nothing has reached the client, so it may fall back.
async fn commit(mut stream: EventStream) -> Result<(Vec<StreamEvent>, EventStream), ProviderError> {
    let mut first = Vec::new();
    while let Some(item) = stream.next().await {
        let event = item?;
        let content = !matches!(
            event,
            StreamEvent::MessageStart { .. } | StreamEvent::Usage { .. }
        );
        first.push(event);
        if content {
            break;
        }
    }
    Ok((first, stream))
}
