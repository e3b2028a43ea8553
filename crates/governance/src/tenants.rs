//! The tenants a replica knows, in memory, following the store like the key cache: an
//! organisation's and its teams' limits and whether they are disabled. From a caller and a
//! model it builds the [`Scope`]s a request is counted against: the key, the key's team, the
//! team's organisation, and each of those again for the model when a per-model limit is set.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use switchyard_store::tenants::TenantRow;
use switchyard_store::{Store, StoreError};

use crate::key_cache::Caller;
use crate::limits::{parse_model_limits, Limits, ModelLimits};

/// Organisations hold teams; nothing deeper. A longer chain (a damaged store) is cut here.
const MAX_DEPTH: usize = 4;

/// A tenant as the hot path needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub disabled: bool,
    pub limits: Limits,
    pub model_limits: ModelLimits,
    /// Sovereignty policies (config names) every request under it is held to.
    pub policies: Vec<String>,
}

impl Tenant {
    fn from_row(row: &TenantRow) -> Tenant {
        Tenant {
            id: row.id.clone(),
            name: row.name.clone(),
            parent_id: row.parent_id.clone(),
            disabled: row.disabled_at.is_some(),
            limits: Limits::from_columns(
                row.budget_nano_usd,
                row.budget_period.as_deref(),
                row.rpm,
                row.tpm,
            ),
            model_limits: read_model_limits(row.model_limits.as_deref(), &row.id),
            policies: row.policies.clone(),
        }
    }

    /// `organisation` or `team`, for messages.
    pub fn kind(&self) -> &'static str {
        if self.parent_id.is_some() {
            "team"
        } else {
            "organisation"
        }
    }
}

/// Stored per-model limits; unreadable ones are logged and dropped (the row's own limits
/// still hold).
pub(crate) fn read_model_limits(text: Option<&str>, id: &str) -> ModelLimits {
    match text.map(parse_model_limits) {
        None => ModelLimits::new(),
        Some(Ok(limits)) => limits,
        Some(Err(err)) => {
            tracing::warn!(id, error = %err, "unreadable per-model limits are ignored");
            ModelLimits::new()
        }
    }
}

/// Whose ledger rows make up a budget's spend (to seed it the first time it is needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendOf {
    Key(String),
    /// A tenant and its teams.
    Tenants(Vec<String>),
}

/// One counter a request is checked and charged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The counter's id: the key id, or `t:` + tenant id; `|m:` + model for a per-model
    /// limit.
    pub id: String,
    /// What the caller is told: "key `x`", "team `y`", "organisation `z`" (with "for model
    /// `m`" for a per-model limit).
    pub label: String,
    pub limits: Limits,
    pub spend: SpendOf,
}

#[derive(Default)]
pub struct TenantCache {
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    seen: AtomicI64,
}

impl TenantCache {
    pub fn new() -> TenantCache {
        TenantCache {
            tenants: RwLock::new(HashMap::new()),
            seen: AtomicI64::new(i64::MIN),
        }
    }

    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let seen = self.seen.load(Ordering::Relaxed);
        // Change numbers follow commit order: no overlap, no clock.
        let since = seen;
        let rows = store.tenants_changed_since(since).await?;
        self.apply(&rows);
        Ok(())
    }

    /// Takes in changed rows (also what an admin call on this replica does at once).
    pub fn apply(&self, rows: &[TenantRow]) {
        if rows.is_empty() {
            return;
        }
        let Ok(mut tenants) = self.tenants.write() else {
            return;
        };
        for row in rows {
            tenants.insert(row.id.clone(), Arc::new(Tenant::from_row(row)));
            self.seen.fetch_max(row.change_seq, Ordering::Relaxed);
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.tenants.read().ok()?.get(id).cloned()
    }

    /// The tenant and the ones above it, nearest first; `None` if any is unknown or
    /// disabled (the key must not be used).
    pub fn chain(&self, tenant_id: Option<&str>) -> Option<Vec<Arc<Tenant>>> {
        let mut chain = Vec::new();
        let mut next = tenant_id.map(str::to_owned);
        let tenants = self.tenants.read().ok()?;
        while let Some(id) = next {
            if chain.len() == MAX_DEPTH {
                break;
            }
            let tenant = tenants.get(&id)?;
            if tenant.disabled {
                return None;
            }
            next = tenant.parent_id.clone();
            chain.push(tenant.clone());
        }
        Some(chain)
    }

    /// Whether every tenant above a key is known and enabled.
    pub fn live(&self, tenant_id: Option<&str>) -> bool {
        tenant_id.is_none() || self.chain(tenant_id).is_some()
    }

    /// The tenant and its teams (what a tenant's spend and reports cover).
    pub fn family(&self, id: &str) -> Vec<String> {
        let mut ids = vec![id.to_owned()];
        if let Ok(tenants) = self.tenants.read() {
            let mut children: Vec<String> = tenants
                .values()
                .filter(|t| t.parent_id.as_deref() == Some(id))
                .map(|t| t.id.clone())
                .collect();
            children.sort();
            ids.extend(children);
        }
        ids
    }

    /// Every counter a request by `caller` for `model` is checked against, the key's first.
    /// `None` when a tenant above the key is unknown or disabled.
    pub fn scopes(&self, caller: &Caller, model: &str) -> Option<Vec<Scope>> {
        let chain = match &caller.tenant_id {
            None => Vec::new(),
            Some(id) => self.chain(Some(id))?,
        };
        let mut scopes = Vec::new();
        let key_label = format!("key `{}`", caller.key_name);
        if !caller.limits.is_empty() {
            scopes.push(Scope {
                id: caller.key_id.clone(),
                label: key_label.clone(),
                limits: caller.limits,
                spend: SpendOf::Key(caller.key_id.clone()),
            });
        }
        push_model(
            &mut scopes,
            &caller.model_limits,
            &caller.key_id,
            &key_label,
            model,
        );
        for tenant in chain {
            let id = format!("t:{}", tenant.id);
            let label = format!("{} `{}`", tenant.kind(), tenant.name);
            if !tenant.limits.is_empty() {
                scopes.push(Scope {
                    id: id.clone(),
                    label: label.clone(),
                    limits: tenant.limits,
                    spend: SpendOf::Tenants(self.family(&tenant.id)),
                });
            }
            push_model(&mut scopes, &tenant.model_limits, &id, &label, model);
        }
        Some(scopes)
    }

    /// The sovereignty policies a key's requests are held to: its own and those of every
    /// tenant above it.
    pub fn policies(&self, caller: &Caller) -> Vec<String> {
        let mut names = caller.policies.clone();
        for tenant in self.chain(caller.tenant_id.as_deref()).unwrap_or_default() {
            names.extend(tenant.policies.iter().cloned());
        }
        names
    }
}

fn push_model(scopes: &mut Vec<Scope>, limits: &ModelLimits, id: &str, label: &str, model: &str) {
    if let Some(limit) = limits.get(model) {
        scopes.push(Scope {
            id: format!("{id}|m:{model}"),
            label: format!("{label} for model `{model}`"),
            limits: Limits {
                budget: None,
                rpm: limit.rpm,
                tpm: limit.tpm,
            },
            spend: SpendOf::Tenants(Vec::new()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str, parent: Option<&str>, rpm: Option<i64>) -> TenantRow {
        TenantRow {
            id: id.into(),
            name: id.into(),
            parent_id: parent.map(str::to_owned),
            updated_at: 1,
            rpm,
            ..TenantRow::default()
        }
    }

    fn caller(tenant: Option<&str>) -> Caller {
        Caller {
            key_id: "k".into(),
            key_name: "app".into(),
            tenant_id: tenant.map(str::to_owned),
            allowed_models: vec![],
            limits: Limits {
                rpm: Some(5),
                ..Limits::default()
            },
            model_limits: ModelLimits::new(),
            policies: vec!["key-policy".into()],
        }
    }

    #[test]
    fn a_team_key_counts_against_key_team_and_organisation() {
        let cache = TenantCache::new();
        let mut org = tenant("org", None, Some(100));
        org.model_limits = Some(r#"{"big": {"tpm": 1000}}"#.into());
        cache.apply(&[org, tenant("team", Some("org"), Some(10))]);
        let scopes = cache.scopes(&caller(Some("team")), "small").unwrap();
        let ids: Vec<&str> = scopes.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["k", "t:team", "t:org"]);
        assert_eq!(scopes[1].label, "team `team`");
        assert_eq!(scopes[2].label, "organisation `org`");
        assert_eq!(
            scopes[2].spend,
            SpendOf::Tenants(vec!["org".into(), "team".into()])
        );
        let scopes = cache.scopes(&caller(Some("team")), "big").unwrap();
        assert_eq!(scopes.last().unwrap().id, "t:org|m:big");
        assert_eq!(scopes.last().unwrap().limits.tpm, Some(1000));
        let mut team = tenant("team", Some("org"), Some(10));
        team.policies = vec!["eu-only".into()];
        team.updated_at = 3;
        cache.apply(&[team]);
        assert_eq!(
            cache.policies(&caller(Some("team"))),
            ["key-policy", "eu-only"]
        );
        // A disabled organisation stops its teams' keys; an unknown tenant stops them too.
        let mut off = tenant("org", None, None);
        off.disabled_at = Some(2);
        off.updated_at = 2;
        cache.apply(&[off]);
        assert!(cache.scopes(&caller(Some("team")), "small").is_none());
        assert!(!cache.live(Some("team")));
        assert!(!cache.live(Some("nobody")));
        assert!(cache.live(None));
    }
}
