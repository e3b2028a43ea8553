//! Schema migrations: numbered SQL files, applied in order, each in its own transaction,
//! recorded in `schema_migrations`. The SQL is portable between SQLite and PostgreSQL.

use crate::{within, Store, StoreError};

/// `(version, SQL)`, in order. Append only: a released migration never changes.
const MIGRATIONS: [(i64, &str); 2] = [
    (1, include_str!("../migrations/0001_governance.sql")),
    (2, include_str!("../migrations/0002_key_limits.sql")),
];

pub async fn run(store: &Store) -> Result<(), StoreError> {
    let pool = store.pool();
    within(sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool))
    .await?;
    for (version, sql) in MIGRATIONS {
        let mut tx = within(pool.begin()).await?;
        let applied: Option<i64> = within(
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx),
        )
        .await?;
        if applied.is_some() {
            continue;
        }
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            within(sqlx::query(statement).execute(&mut *tx))
                .await
                .map_err(|e| StoreError::Database(format!("migration {version} failed: {e}")))?;
        }
        within(
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(crate::now_ms())
                .execute(&mut *tx),
        )
        .await?;
        within(tx.commit()).await?;
        tracing::info!(version, "store migration applied");
    }
    Ok(())
}
