//! The keys a replica accepts, in memory, following the store: [`KeyCache::refresh`] reads
//! the rows written since the largest change number it has seen (numbers the database hands
//! out in commit order), so a key created or revoked on any replica takes effect on every
//! replica within one refresh interval, whatever the replicas' clocks say.
//!
//! A check is one HMAC and one hash-map lookup, then a constant-time comparison; unknown,
//! revoked, expired and malformed keys all come back as the same `None`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use subtle::ConstantTimeEq;
use switchyard_store::keys::KeyRow;
use switchyard_store::{Store, StoreError};

use crate::keys::{self, Pepper};
use crate::limits::{Limits, ModelLimits};
use crate::tenants::{read_model_limits, TenantCache};

/// A stored key's limits.
fn limits(row: &KeyRow) -> Limits {
    Limits::from_columns(
        row.budget_nano_usd,
        row.budget_period.as_deref(),
        row.rpm,
        row.tpm,
    )
}

/// How often replicas look for changed keys: a revocation reaches every replica within this
/// plus one database round trip.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Who is calling: the key and what it is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
    pub key_name: String,
    pub tenant_id: Option<String>,
    /// Empty: every model.
    pub allowed_models: Vec<String>,
    pub limits: Limits,
    pub model_limits: ModelLimits,
    /// Sovereignty policies (config names) the key's requests are held to.
    pub policies: Vec<String>,
}

impl Caller {
    pub fn may_use(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|m| m == model)
    }
}

struct Entry {
    hash: [u8; 32],
    caller: Arc<Caller>,
    expires_at: Option<i64>,
    revoked: bool,
}

pub struct KeyCache {
    pepper: Option<Pepper>,
    entries: RwLock<HashMap<[u8; 32], Entry>>,
    /// Largest change number seen.
    seen: AtomicI64,
    /// Whether the store holds any key at all (then every request needs one).
    any: AtomicBool,
    /// The tenants above the keys: a key of a disabled tenant is not accepted.
    pub tenants: Arc<TenantCache>,
}

impl KeyCache {
    /// An empty cache; `pepper` is needed as soon as the store holds a key.
    pub fn new(pepper: Option<Pepper>) -> KeyCache {
        KeyCache {
            pepper,
            entries: RwLock::new(HashMap::new()),
            seen: AtomicI64::new(i64::MIN),
            any: AtomicBool::new(false),
            tenants: Arc::new(TenantCache::new()),
        }
    }

    /// Loads every key. Fails when the store holds keys but no pepper was given: the
    /// gateway must not run open, or accept nothing, by accident.
    pub async fn load(pepper: Option<Pepper>, store: &Store) -> Result<KeyCache, StoreError> {
        let cache = KeyCache::new(pepper);
        cache.refresh(store).await?;
        if cache.has_keys() && cache.pepper.is_none() {
            return Err(StoreError::Invalid(
                "the store holds virtual keys but SWITCHYARD_KEY_PEPPER is not set; set it to the pepper the keys were made with".into(),
            ));
        }
        Ok(cache)
    }

    /// The pepper keys are hashed under, if set (to make new keys).
    pub fn pepper(&self) -> Option<&Pepper> {
        self.pepper.as_ref()
    }

    /// Whether any key exists (revoked ones included): once keys are in use, every
    /// request needs one.
    pub fn has_keys(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// Reads the tenants, then the keys, changed since the last refresh (tenants first: a
    /// new key's tenant is always known when the key is).
    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        self.tenants.refresh(store).await?;
        let seen = self.seen.load(Ordering::Relaxed);
        // Change numbers follow commit order: no overlap, no clock.
        let since = seen;
        let rows = store.keys_changed_since(since).await?;
        self.apply(&rows);
        Ok(())
    }

    /// Takes in changed rows (also what an admin call on this replica does at once).
    pub fn apply(&self, rows: &[KeyRow]) {
        if rows.is_empty() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        for row in rows {
            let Some(hash) = keys::from_hex(&row.hash) else {
                tracing::warn!(key_id = %row.id, "a stored key hash is malformed; the key is not accepted");
                continue;
            };
            entries.insert(
                hash,
                Entry {
                    hash,
                    caller: Arc::new(Caller {
                        key_id: row.id.clone(),
                        key_name: row.name.clone(),
                        tenant_id: row.tenant_id.clone(),
                        allowed_models: row.allowed_models.clone(),
                        limits: limits(row),
                        model_limits: read_model_limits(row.model_limits.as_deref(), &row.id),
                        policies: row.policies.clone(),
                    }),
                    expires_at: row.expires_at,
                    revoked: row.revoked_at.is_some(),
                },
            );
            self.seen.fetch_max(row.change_seq, Ordering::Relaxed);
        }
        self.any.store(!entries.is_empty(), Ordering::Relaxed);
    }

    /// The caller a presented secret belongs to, if it is a live key.
    pub fn check(&self, presented: &str, now_ms: i64) -> Option<Arc<Caller>> {
        let pepper = self.pepper.as_ref()?;
        if !keys::well_formed(presented) {
            return None;
        }
        let hash = pepper.hash(presented);
        let entries = self.entries.read().ok()?;
        let entry = entries.get(&hash)?;
        let same: bool = entry.hash.ct_eq(&hash).into();
        let live = !entry.revoked
            && entry.expires_at.is_none_or(|at| now_ms < at)
            && self.tenants.live(entry.caller.tenant_id.as_deref());
        (same && live).then(|| entry.caller.clone())
    }

    /// Refreshes every [`REFRESH`] until the task is dropped; a failing store is logged and
    /// the cache keeps what it has (revocations wait for the store to come back).
    pub async fn follow(self: Arc<Self>, store: Store) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = self.refresh(&store).await {
                tracing::warn!(error = %err, "cannot refresh virtual keys from the store");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySecret;

    fn pepper() -> Pepper {
        Pepper::new("pepper-for-tests-0123456789abcdef").unwrap()
    }

    fn row(id: &str, secret: &KeySecret, updated_at: i64) -> KeyRow {
        KeyRow {
            id: id.into(),
            name: id.into(),
            prefix: secret.display_prefix().into(),
            hash: keys::to_hex(&pepper().hash(secret.expose())),
            tenant_id: None,
            created_at: updated_at,
            expires_at: None,
            revoked_at: None,
            allowed_models: vec![],
            metadata: None,
            updated_at,
            ..KeyRow::default()
        }
    }

    #[test]
    fn live_keys_pass_and_every_other_kind_fails_alike() {
        let cache = KeyCache::new(Some(pepper()));
        assert!(!cache.has_keys());
        let (live, revoked, expired) = (
            KeySecret::generate().unwrap(),
            KeySecret::generate().unwrap(),
            KeySecret::generate().unwrap(),
        );
        let mut r = row("r", &revoked, 2);
        r.revoked_at = Some(2);
        let mut e = row("e", &expired, 3);
        e.expires_at = Some(1_000);
        cache.apply(&[row("l", &live, 1), r, e]);
        assert!(cache.has_keys());
        assert_eq!(cache.check(live.expose(), 0).unwrap().key_id, "l");
        assert!(cache.check(revoked.expose(), 0).is_none());
        assert!(cache.check(expired.expose(), 999).is_some());
        assert!(cache.check(expired.expose(), 1_000).is_none());
        assert!(cache
            .check(KeySecret::generate().unwrap().expose(), 0)
            .is_none());
        assert!(cache.check("sk-not-ours", 0).is_none());
        // A later change (revocation) replaces the entry.
        let mut gone = row("l", &live, 9);
        gone.revoked_at = Some(9);
        cache.apply(&[gone]);
        assert!(cache.check(live.expose(), 0).is_none());
    }

    /// A writer whose clock runs an hour ahead stamps a key; a revocation stamped later by a
    /// correct clock (so with an earlier `updated_at`) must still reach every replica.
    #[tokio::test]
    async fn a_skewed_writer_cannot_hide_a_later_revocation() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let (victim, skewed) = (
            KeySecret::generate().unwrap(),
            KeySecret::generate().unwrap(),
        );
        let now = switchyard_store::now_ms();
        store
            .insert_key(&row("victim", &victim, now))
            .await
            .unwrap();
        store
            .insert_key(&row("skewed", &skewed, now + 3_600_000))
            .await
            .unwrap();
        let replica = KeyCache::load(Some(pepper()), &store).await.unwrap();
        assert!(replica.check(victim.expose(), now).is_some());
        assert!(store.revoke_key("victim").await.unwrap());
        replica.refresh(&store).await.unwrap();
        assert!(
            replica.check(victim.expose(), now).is_none(),
            "the revocation was hidden by the skewed clock"
        );
        // And a change written with a timestamp from long ago is seen too.
        let late = KeySecret::generate().unwrap();
        store.insert_key(&row("late", &late, 1)).await.unwrap();
        replica.refresh(&store).await.unwrap();
        assert!(replica.check(late.expose(), now).is_some());
    }

    #[test]
    fn without_a_pepper_nothing_passes() {
        let cache = KeyCache::new(None);
        let key = KeySecret::generate().unwrap();
        cache.apply(&[row("l", &key, 1)]);
        assert!(cache.check(key.expose(), 0).is_none());
    }

    #[test]
    fn allowed_models() {
        let caller = Caller {
            key_id: "k".into(),
            key_name: "k".into(),
            tenant_id: None,
            allowed_models: vec!["chat".into()],
            limits: Limits::default(),
            model_limits: ModelLimits::new(),
            policies: Vec::new(),
        };
        assert!(caller.may_use("chat"));
        assert!(!caller.may_use("auto"));
    }
}
