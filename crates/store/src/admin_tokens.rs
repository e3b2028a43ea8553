//! Tokens for the admin API's per-tenant roles, stored like keys: only the HMAC of the
//! secret, a display prefix, the tenant it administers and its role.

use sqlx::any::AnyRow;

use crate::{column, now_ms, within, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminTokenRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    /// Hex HMAC-SHA256 of the secret under the pepper.
    pub hash: String,
    pub tenant_id: String,
    /// `tenant-admin`.
    pub role: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, name, prefix, hash, tenant_id, role, created_at, revoked_at";

fn from_row(row: &AnyRow) -> Result<AdminTokenRow, StoreError> {
    Ok(AdminTokenRow {
        id: column(row, "id")?,
        name: column(row, "name")?,
        prefix: column(row, "prefix")?,
        hash: column(row, "hash")?,
        tenant_id: column(row, "tenant_id")?,
        role: column(row, "role")?,
        created_at: column(row, "created_at")?,
        revoked_at: column(row, "revoked_at")?,
    })
}

impl Store {
    pub async fn insert_admin_token(&self, token: &AdminTokenRow) -> Result<(), StoreError> {
        within(
            sqlx::query(&format!(
                "INSERT INTO admin_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(&token.id)
            .bind(&token.name)
            .bind(&token.prefix)
            .bind(&token.hash)
            .bind(&token.tenant_id)
            .bind(&token.role)
            .bind(token.created_at)
            .bind(token.revoked_at)
            .execute(self.pool()),
        )
        .await?;
        Ok(())
    }

    /// The live token with this hash, if any.
    pub async fn admin_token_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<AdminTokenRow>, StoreError> {
        let row = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM admin_tokens WHERE hash = $1 AND revoked_at IS NULL"
            ))
            .bind(hash)
            .fetch_optional(self.pool()),
        )
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The tokens of one tenant, newest first.
    pub async fn admin_tokens_of(&self, tenant_id: &str) -> Result<Vec<AdminTokenRow>, StoreError> {
        let rows = within(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM admin_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, id"
            ))
            .bind(tenant_id)
            .fetch_all(self.pool()),
        )
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Revokes a token; `false` when no such token exists.
    pub async fn revoke_admin_token(&self, id: &str) -> Result<bool, StoreError> {
        let done = within(
            sqlx::query(
                "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
            )
            .bind(now_ms())
            .bind(id)
            .execute(self.pool()),
        )
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
