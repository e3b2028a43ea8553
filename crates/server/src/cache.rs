//! The response cache (`[cache]`): whole chat answers kept in memory for identical requests,
//! exact match, per replica. Streams are neither served from it nor stored.
//!
//! Keyed and scoped for sovereignty: the key is the SHA-256 of the canonical request as the
//! caller sent it (before the PII guard), the model, the caller's scope (tenant, else key,
//! else the open gateway) and every policy the request is held to, by name and version. So
//! an answer is only ever served to the same scope under the same policies; on top of that a
//! hit is served only if the deployment that made it is still in the model's route and every
//! policy of the request still admits it (fail closed). An answer made under
//! `mask-and-restore` is kept with its placeholders, never the originals, and restored for
//! the caller as a fresh answer would be. A config reload starts an empty cache.
//!
//! Callers opt out per request with `Cache-Control: no-cache` (do not read, still store) or
//! `no-store` (neither).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};
use switchyard_config::CacheConfig;
use switchyard_types::{ChatRequest, ChatResponse};

use crate::pipeline::{ChatAnswer, RequestContext, Served};
use crate::state::AppState;

/// What a request lets the cache do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Use {
    #[default]
    ReadWrite,
    /// `Cache-Control: no-cache`.
    WriteOnly,
    /// `Cache-Control: no-store`.
    Off,
}

impl Use {
    pub fn from_headers(headers: &http::HeaderMap) -> Use {
        let mut mode = Use::ReadWrite;
        for value in headers.get_all(http::header::CACHE_CONTROL) {
            let Ok(text) = value.to_str() else { continue };
            for directive in text.split(',').map(|d| d.trim().to_ascii_lowercase()) {
                match directive.as_str() {
                    "no-store" => mode = Use::Off,
                    "no-cache" if mode != Use::Off => mode = Use::WriteOnly,
                    _ => {}
                }
            }
        }
        mode
    }
}

/// A kept answer: the response as the upstream gave it (placeholders, if any, still in)
/// and the deployment that made it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub response: ChatResponse,
    pub deployment_id: String,
    pub position: usize,
}

struct Entry {
    hit: Hit,
    stored: Instant,
    bytes: usize,
    /// Which store this is (a key stored again is a new one).
    generation: u64,
}

#[derive(Default)]
struct Shelf {
    map: HashMap<[u8; 32], Entry>,
    /// Keys in the order stored, with the store's generation: the oldest leave first; a
    /// key whose entry was replaced or has gone is skipped.
    order: VecDeque<([u8; 32], u64)>,
    bytes: usize,
    generation: u64,
}

pub struct Cache {
    config: CacheConfig,
    shelf: Mutex<Shelf>,
    pub hits: std::sync::atomic::AtomicU64,
    pub misses: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.config)
            .finish()
    }
}

/// The cache key of `request` for `ctx`'s caller and policies; `None` when the request may
/// not use the cache (a stream, or `no-store`).
pub fn key(ctx: &RequestContext, request: &ChatRequest) -> Option<[u8; 32]> {
    if request.stream || ctx.cache == Use::Off {
        return None;
    }
    let body = serde_json::to_vec(request).ok()?;
    let mut hasher = Sha256::new();
    let scope = match &ctx.caller {
        Some(caller) => match &caller.tenant_id {
            Some(tenant) => format!("tenant:{tenant}"),
            None => format!("key:{}", caller.key_id),
        },
        None => "open".to_owned(),
    };
    for part in [b"switchyard-cache-v1".as_slice(), scope.as_bytes()] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    for (name, version) in &ctx.policy_marks {
        for part in [name.as_bytes(), version.as_bytes()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
    }
    hasher.update((body.len() as u64).to_be_bytes());
    hasher.update(&body);
    Some(hasher.finalize().into())
}

impl Cache {
    pub fn new(config: CacheConfig) -> Cache {
        Cache {
            config,
            shelf: Mutex::new(Shelf::default()),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    fn shelf(&self) -> std::sync::MutexGuard<'_, Shelf> {
        match self.shelf.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The answer kept under `key`, if still fresh.
    pub fn get(&self, key: &[u8; 32]) -> Option<Hit> {
        let mut shelf = self.shelf();
        let fresh = match shelf.map.get(key) {
            Some(entry) if entry.stored.elapsed() < self.config.ttl => Some(entry.hit.clone()),
            Some(_) => None,
            None => {
                drop(shelf);
                self.misses
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return None;
            }
        };
        if fresh.is_none() {
            if let Some(old) = shelf.map.remove(key) {
                shelf.bytes -= old.bytes;
            }
        }
        drop(shelf);
        let counter = if fresh.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        fresh
    }

    /// Keeps `hit` under `key`, making room by dropping the oldest answers.
    pub fn put(&self, key: [u8; 32], hit: Hit) {
        let bytes = serde_json::to_vec(&hit.response).map_or(usize::MAX, |b| b.len() + 256);
        if bytes > self.config.max_bytes / 4 {
            return; // one answer may not crowd out the rest
        }
        let mut shelf = self.shelf();
        if let Some(old) = shelf.map.remove(&key) {
            shelf.bytes -= old.bytes;
        }
        while shelf.map.len() >= self.config.max_entries
            || shelf.bytes + bytes > self.config.max_bytes
        {
            let Some((oldest, generation)) = shelf.order.pop_front() else {
                break;
            };
            if shelf
                .map
                .get(&oldest)
                .is_some_and(|e| e.generation == generation)
            {
                if let Some(old) = shelf.map.remove(&oldest) {
                    shelf.bytes -= old.bytes;
                }
            }
        }
        shelf.generation += 1;
        let generation = shelf.generation;
        shelf.bytes += bytes;
        shelf.order.push_back((key, generation));
        shelf.map.insert(
            key,
            Entry {
                hit,
                stored: Instant::now(),
                bytes,
                generation,
            },
        );
        // Keys whose entry left (replaced or expired) linger in `order`: trim them when
        // they are most of it.
        if shelf.order.len() > 2 * shelf.map.len() + 64 {
            let Shelf { map, order, .. } = &mut *shelf;
            order.retain(|(k, g)| map.get(k).is_some_and(|e| e.generation == *g));
        }
    }

    /// Answers kept and their bytes (for `/metrics`).
    pub fn size(&self) -> (usize, usize) {
        let shelf = self.shelf();
        (shelf.map.len(), shelf.bytes)
    }
}

/// The kept answer for `key`, when there is one and the deployment that made it is still the
/// model's and admitted by every policy of the request; admitted like any request (rate
/// limits, budgets), it costs nothing.
pub async fn answer(
    state: &AppState,
    ctx: &mut RequestContext,
    policies: &[&switchyard_policy::Policy],
    cache: &Cache,
    key: &[u8; 32],
    vault: &switchyard_policy::pii::Vault,
    request: &ChatRequest,
) -> Result<Option<ChatAnswer>, switchyard_dialects::GatewayError> {
    let Some(hit) = cache.get(key) else {
        return Ok(None);
    };
    let inner = &state.inner;
    let Some(model_index) = inner.routes.index_of(&request.model) else {
        return Ok(None);
    };
    let Some(deployment) = inner
        .routes
        .models()
        .get(model_index)
        .and_then(|m| m.deployments.get(hit.position))
        .filter(|d| d.id == hit.deployment_id)
    else {
        return Ok(None);
    };
    let admitted =
        crate::sovereignty::refusal(state, policies, model_index, hit.position, &request.model)
            .is_none();
    if !admitted {
        return Ok(None);
    }
    ctx.billable = true;
    ctx.model = model_index as u32;
    crate::pipeline::allowed(ctx, &request.model)?;
    crate::admission::admit(
        state,
        ctx,
        model_index,
        &request.model,
        &switchyard_routing::needs::Needs::of(request),
    )
    .await?;
    ctx.provider = deployment.provider_index as u32;
    ctx.position = hit.position as u32;
    ctx.price = None;
    ctx.cache_hit = true;
    let mut response = hit.response;
    crate::guard::restore(vault, &mut response);
    Ok(Some(ChatAnswer::Complete(
        response,
        Served {
            deployment_id: deployment.id.clone(),
            provider_id: deployment.provider_id.clone(),
            attempts: 0,
            position: hit.position,
            cost_usd: Some(0.0),
        },
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn state() -> crate::state::AppState {
        let config = switchyard_config::load_str("", &|_| None).unwrap();
        crate::state::AppState::build(&config).unwrap()
    }

    fn caller(key: &str, tenant: Option<&str>) -> Arc<switchyard_governance::Caller> {
        Arc::new(switchyard_governance::Caller {
            key_id: key.into(),
            key_name: key.into(),
            tenant_id: tenant.map(str::to_owned),
            allowed_models: Vec::new(),
            limits: Default::default(),
            model_limits: Default::default(),
            policies: Vec::new(),
        })
    }

    fn request(text: &str, stream: bool) -> ChatRequest {
        serde_json::from_value(serde_json::json!({
            "model": "m",
            "stream": stream,
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        }))
        .unwrap()
    }

    #[test]
    fn keys_separate_scopes_policies_and_requests() {
        let state = state();
        let mut ctx = RequestContext::start(&state, "openai");
        let base = key(&ctx, &request("hi", false)).unwrap();
        assert_eq!(key(&ctx, &request("hi", false)), Some(base));
        assert_ne!(key(&ctx, &request("hi!", false)), Some(base));
        assert_eq!(
            key(&ctx, &request("hi", true)),
            None,
            "streams are not kept"
        );
        // Another tenant, or a key of no tenant, is another scope; two keys of one tenant
        // share their tenant's.
        ctx.caller = Some(caller("k1", Some("t1")));
        let t1 = key(&ctx, &request("hi", false)).unwrap();
        assert_ne!(t1, base);
        ctx.caller = Some(caller("k2", Some("t1")));
        assert_eq!(key(&ctx, &request("hi", false)), Some(t1));
        ctx.caller = Some(caller("k2", Some("t2")));
        assert_ne!(key(&ctx, &request("hi", false)), Some(t1));
        ctx.caller = Some(caller("k3", None));
        let k3 = key(&ctx, &request("hi", false)).unwrap();
        assert_ne!(k3, base);
        // Policies, and their versions, are part of the key.
        ctx.policy_marks = vec![("eu-only".into(), "0001".into())];
        let eu = key(&ctx, &request("hi", false)).unwrap();
        assert_ne!(eu, k3);
        ctx.policy_marks = vec![("eu-only".into(), "0002".into())];
        assert_ne!(key(&ctx, &request("hi", false)), Some(eu));
        ctx.cache = Use::Off;
        assert_eq!(key(&ctx, &request("hi", false)), None);
    }

    fn hit(text: &str) -> Hit {
        let response: ChatResponse = serde_json::from_value(serde_json::json!({
            "id": "r", "model": "m", "created": 0,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }))
        .unwrap();
        Hit {
            response,
            deployment_id: "d".into(),
            position: 0,
        }
    }

    fn text_of(hit: &Hit) -> String {
        serde_json::to_value(&hit.response).unwrap()["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn oldest_answers_leave_first_and_stale_ones_are_not_served() {
        let cache = Cache::new(CacheConfig {
            ttl: Duration::from_millis(300),
            max_entries: 2,
            max_bytes: 1 << 20,
        });
        cache.put([1; 32], hit("one"));
        cache.put([2; 32], hit("two"));
        // Stored again: now the newest, so the next store evicts [2], not [1].
        cache.put([1; 32], hit("one again"));
        cache.put([3; 32], hit("three"));
        assert!(cache.get(&[2; 32]).is_none());
        assert_eq!(text_of(&cache.get(&[1; 32]).unwrap()), "one again");
        assert_eq!(text_of(&cache.get(&[3; 32]).unwrap()), "three");
        assert_eq!(cache.size().0, 2);
        std::thread::sleep(Duration::from_millis(350));
        assert!(cache.get(&[3; 32]).is_none(), "expired");
        // Bytes bound too: an answer over a quarter of the room is not kept.
        let small = Cache::new(CacheConfig {
            ttl: Duration::from_secs(60),
            max_entries: 100,
            max_bytes: 4096,
        });
        small.put([9; 32], hit(&"x".repeat(2000)));
        assert!(small.get(&[9; 32]).is_none());
        for i in 0..20u8 {
            small.put([i; 32], hit("short"));
        }
        assert!(small.size().1 <= 4096, "{:?}", small.size());
        assert!(small.get(&[19; 32]).is_some() && small.get(&[0; 32]).is_none());
    }
}
