//! Tenants: organisations (no parent) and the teams under them (`parent_id` names the
//! organisation), each with optional limits of its own. Disabling sets `disabled_at`; rows are
//! never deleted, so keys and ledger rows always resolve.

use sqlx::any::AnyRow;

use crate::{column, joined, names, next_change, now_ms, within, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    /// The organisation a team belongs to; `None` for an organisation.
    pub parent_id: Option<String>,
    pub created_at: i64,
    /// Changes whenever the row does: replicas poll for it.
    pub updated_at: i64,
    /// Set once the tenant is disabled: its keys (and its teams' keys) stop working.
    pub disabled_at: Option<i64>,
    /// Spending limit in nano-dollars over `budget_period`, for every key under the tenant.
    pub budget_nano_usd: Option<i64>,
    pub budget_period: Option<String>,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    /// Per-model limits, a JSON object `{"model": {"rpm": N, "tpm": N}}`.
    pub model_limits: Option<String>,
    /// Names of the config's sovereignty policies every request under it is held to.
    pub policies: Vec<String>,
    /// The creator's own JSON object, kept as given.
    pub metadata: Option<String>,
    /// The change number of the row's last write (set by the store): replicas poll for it.
    pub change_seq: i64,
}

const COLUMNS: &str = "id, name, parent_id, created_at, updated_at, disabled_at, budget_nano_usd, budget_period, rpm, tpm, model_limits, metadata, policies";

fn from_row(row: &AnyRow) -> Result<TenantRow, StoreError> {
    Ok(TenantRow {
        id: column(row, "id")?,
        name: column(row, "name")?,
        parent_id: column(row, "parent_id")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
        disabled_at: column(row, "disabled_at")?,
        budget_nano_usd: column(row, "budget_nano_usd")?,
        budget_period: column(row, "budget_period")?,
        rpm: column(row, "rpm")?,
        tpm: column(row, "tpm")?,
        model_limits: column(row, "model_limits")?,
        metadata: column(row, "metadata")?,
        policies: names(column(row, "policies")?),
        change_seq: column(row, "change_seq")?,
    })
}

impl Store {
    pub async fn insert_tenant(&self, tenant: &TenantRow) -> Result<(), StoreError> {
        let mut tx = within(self.pool().begin()).await?;
        let change = next_change(&mut tx).await?;
        within(
            sqlx::query(&format!(
                "INSERT INTO tenants ({COLUMNS}, change_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ))
            .bind(&tenant.id)
            .bind(&tenant.name)
            .bind(&tenant.parent_id)
            .bind(tenant.created_at)
            .bind(tenant.updated_at)
            .bind(tenant.disabled_at)
            .bind(tenant.budget_nano_usd)
            .bind(&tenant.budget_period)
            .bind(tenant.rpm)
            .bind(tenant.tpm)
            .bind(&tenant.model_limits)
            .bind(&tenant.metadata)
            .bind(joined(&tenant.policies))
            .bind(change)
            .execute(&mut *tx),
        )
        .await?;
        within(tx.commit()).await?;
        Ok(())
    }

    /// Rewrites a tenant's name, limits and metadata, stamping `updated_at`; `false` when
    /// no tenant has this id. The parent and the disabled time are not changed here.
    pub async fn update_tenant(&self, tenant: &TenantRow) -> Result<bool, StoreError> {
        let mut tx = within(self.pool().begin()).await?;
        let change = next_change(&mut tx).await?;
        let done = within(
            sqlx::query(
                "UPDATE tenants SET name = $1, budget_nano_usd = $2, budget_period = $3, rpm = $4, tpm = $5, model_limits = $6, metadata = $7, updated_at = $8, policies = $10, change_seq = $11 WHERE id = $9",
            )
            .bind(&tenant.name)
            .bind(tenant.budget_nano_usd)
            .bind(&tenant.budget_period)
            .bind(tenant.rpm)
            .bind(tenant.tpm)
            .bind(&tenant.model_limits)
            .bind(&tenant.metadata)
            .bind(now_ms())
            .bind(&tenant.id)
            .bind(joined(&tenant.policies))
            .bind(change)
            .execute(&mut *tx),
        )
        .await?;
        within(tx.commit()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Disables a tenant (keeping the first time); `false` when no such tenant exists.
    pub async fn disable_tenant(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = within(self.pool().begin()).await?;
        let change = next_change(&mut tx).await?;
        let done = within(
            sqlx::query(
                "UPDATE tenants SET disabled_at = COALESCE(disabled_at, $1), updated_at = $2, change_seq = $4 WHERE id = $3",
            )
            .bind(now)
            .bind(now)
            .bind(id)
            .bind(change)
            .execute(&mut *tx),
        )
        .await?;
        within(tx.commit()).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>, StoreError> {
        let row = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS}, change_seq FROM tenants WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(self.pool()),
        )
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every tenant, organisations and teams, oldest first.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        let rows = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS}, change_seq FROM tenants ORDER BY created_at, id"
            ))
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Tenants written after change number `since`, in change order (see
    /// [`Store::keys_changed_since`]).
    pub async fn tenants_changed_since(&self, since: i64) -> Result<Vec<TenantRow>, StoreError> {
        let rows = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS}, change_seq FROM tenants WHERE change_seq > $1 ORDER BY change_seq"
            ))
            .bind(since)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(from_row).collect()
    }
}
