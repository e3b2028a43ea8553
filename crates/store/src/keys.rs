//! Virtual keys as stored: the HMAC of the secret (never the secret), a display prefix, and
//! what the key may do. Revoking sets `revoked_at`; rows are never deleted, so the ledger's
//! key ids always resolve.

use sqlx::any::AnyRow;

use crate::{column, joined, names, next_change, now_ms, within, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    /// The first characters of the secret, to recognise it in lists.
    pub prefix: String,
    /// Hex HMAC-SHA256 of the secret under the pepper.
    pub hash: String,
    pub tenant_id: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Model names the key may call; empty: all.
    pub allowed_models: Vec<String>,
    /// The creator's own JSON object, kept as given.
    pub metadata: Option<String>,
    /// Changes whenever the row does (creation, revocation): replicas poll for it.
    pub updated_at: i64,
    /// Spending limit in nano-dollars over `budget_period`.
    pub budget_nano_usd: Option<i64>,
    /// `daily`, `monthly` (UTC calendar) or `total`.
    pub budget_period: Option<String>,
    /// Requests per minute.
    pub rpm: Option<i64>,
    /// Tokens (input + output) per minute.
    pub tpm: Option<i64>,
    /// Per-model limits, a JSON object `{"model": {"rpm": N, "tpm": N}}`.
    pub model_limits: Option<String>,
    /// Names of the config's sovereignty policies every request under it is held to.
    pub policies: Vec<String>,
    /// The change number of the row's last write (set by the store): replicas poll for it.
    pub change_seq: i64,
}

const COLUMNS: &str = "id, name, prefix, hash, tenant_id, created_at, expires_at, revoked_at, allowed_models, metadata, updated_at, budget_nano_usd, budget_period, rpm, tpm, model_limits, policies";

fn from_row(row: &AnyRow) -> Result<KeyRow, StoreError> {
    let models: Option<String> = column(row, "allowed_models")?;
    Ok(KeyRow {
        id: column(row, "id")?,
        name: column(row, "name")?,
        prefix: column(row, "prefix")?,
        hash: column(row, "hash")?,
        tenant_id: column(row, "tenant_id")?,
        created_at: column(row, "created_at")?,
        expires_at: column(row, "expires_at")?,
        revoked_at: column(row, "revoked_at")?,
        allowed_models: models
            .map(|m| {
                m.split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        metadata: column(row, "metadata")?,
        updated_at: column(row, "updated_at")?,
        budget_nano_usd: column(row, "budget_nano_usd")?,
        budget_period: column(row, "budget_period")?,
        rpm: column(row, "rpm")?,
        tpm: column(row, "tpm")?,
        model_limits: column(row, "model_limits")?,
        policies: names(column(row, "policies")?),
        change_seq: column(row, "change_seq")?,
    })
}

impl Store {
    pub async fn insert_key(&self, key: &KeyRow) -> Result<(), StoreError> {
        if key.allowed_models.iter().any(|m| m.contains('\n')) {
            return Err(StoreError::Invalid(
                "a model name cannot hold a newline".into(),
            ));
        }
        let models = (!key.allowed_models.is_empty()).then(|| key.allowed_models.join("\n"));
        let mut tx = within(self.pool().begin()).await?;
        let change = next_change(&mut tx).await?;
        within(
            sqlx::query(&format!(
                "INSERT INTO api_keys ({COLUMNS}, change_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
            ))
            .bind(&key.id)
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.hash)
            .bind(&key.tenant_id)
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.revoked_at)
            .bind(models)
            .bind(&key.metadata)
            .bind(key.updated_at)
            .bind(key.budget_nano_usd)
            .bind(&key.budget_period)
            .bind(key.rpm)
            .bind(key.tpm)
            .bind(&key.model_limits)
            .bind(joined(&key.policies))
            .bind(change)
            .execute(&mut *tx),
        )
        .await?;
        within(tx.commit()).await?;
        Ok(())
    }

    /// Rewrites what may change on a key (name, models, metadata, expiry, tenant, limits),
    /// stamping `updated_at`; `false` when no key has this id. Never the secret's hash.
    pub async fn update_key(&self, key: &KeyRow) -> Result<bool, StoreError> {
        if key.allowed_models.iter().any(|m| m.contains('\n')) {
            return Err(StoreError::Invalid(
                "a model name cannot hold a newline".into(),
            ));
        }
        let models = (!key.allowed_models.is_empty()).then(|| key.allowed_models.join("\n"));
        let mut tx = within(self.pool().begin()).await?;
        let change = next_change(&mut tx).await?;
        let done = within(
            sqlx::query(
                "UPDATE api_keys SET name = $1, allowed_models = $2, metadata = $3, expires_at = $4, tenant_id = $5, budget_nano_usd = $6, budget_period = $7, rpm = $8, tpm = $9, model_limits = $10, updated_at = $11, policies = $13, change_seq = $14 WHERE id = $12",
            )
            .bind(&key.name)
            .bind(models)
            .bind(&key.metadata)
            .bind(key.expires_at)
            .bind(&key.tenant_id)
            .bind(key.budget_nano_usd)
            .bind(&key.budget_period)
            .bind(key.rpm)
            .bind(key.tpm)
            .bind(&key.model_limits)
            .bind(now_ms())
            .bind(&key.id)
            .bind(joined(&key.policies))
            .bind(change)
            .execute(&mut *tx),
        )
        .await?;
        within(tx.commit()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every key, newest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS}, change_seq FROM api_keys ORDER BY created_at DESC, id"
            ))
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The key with this id, or the keys with this display prefix.
    pub async fn keys_named(&self, id_or_prefix: &str) -> Result<Vec<KeyRow>, StoreError> {
        let rows = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS}, change_seq FROM api_keys WHERE id = $1 OR prefix = $1 ORDER BY created_at DESC, id"
            ))
            .bind(id_or_prefix)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Keys written after change number `since`, in change order: what a replica's cache
    /// polls for (numbers follow commit order, so nothing is missed and no overlap is needed).
    pub async fn keys_changed_since(&self, since: i64) -> Result<Vec<KeyRow>, StoreError> {
        let rows = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS}, change_seq FROM api_keys WHERE change_seq > $1 ORDER BY change_seq"
            ))
            .bind(since)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Whether any key was ever created (revoked ones included: once keys are in use, the
    /// gateway never falls back to running open).
    pub async fn any_key(&self) -> Result<bool, StoreError> {
        let found: Option<String> = within(
            sqlx::query_scalar("SELECT id FROM api_keys LIMIT 1").fetch_optional(self.pool()),
        )
        .await?;
        Ok(found.is_some())
    }

    /// Revokes a key by id (or by its display prefix); `false` when no such key exists.
    /// Revoking twice keeps the first time.
    pub async fn revoke_key(&self, id_or_prefix: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = within(self.pool().begin()).await?;
        let change = next_change(&mut tx).await?;
        let done = within(
            sqlx::query(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1), updated_at = $2, change_seq = $4 WHERE id = $3 OR prefix = $3",
            )
            .bind(now)
            .bind(now)
            .bind(id_or_prefix)
            .bind(change)
            .execute(&mut *tx),
        )
        .await?;
        within(tx.commit()).await?;
        Ok(done.rows_affected() > 0)
    }
}
