//! Schema migrations: numbered SQL files, applied in order, each in its own transaction,
//! recorded in `schema_migrations`. The SQL is portable between SQLite and PostgreSQL.
//!
//! Several processes may start against a fresh database at once (replicas): on PostgreSQL
//! they queue on an advisory lock, on SQLite on an immediate (write) transaction, so each
//! migration runs exactly once.

use sqlx::pool::PoolConnection;
use sqlx::Any;

use crate::{within, Backend, Store, StoreError};

/// `(version, SQL)`, in order. Append only: a released migration never changes.
const MIGRATIONS: [(i64, &str); 7] = [
    (1, include_str!("../migrations/0001_governance.sql")),
    (2, include_str!("../migrations/0002_key_limits.sql")),
    (3, include_str!("../migrations/0003_tenants.sql")),
    (4, include_str!("../migrations/0004_policies.sql")),
    (5, include_str!("../migrations/0005_audit.sql")),
    (6, include_str!("../migrations/0006_audit_lanes.sql")),
    (7, include_str!("../migrations/0007_change_seq.sql")),
];

/// Any number: the advisory lock's identity ("sy" + "mig").
const ADVISORY_LOCK: i64 = 0x0073_796d_6967;

pub async fn run(store: &Store) -> Result<(), StoreError> {
    let mut conn = within(store.pool().acquire()).await?;
    let postgres = store.backend() == Backend::Postgres;
    if postgres {
        exec(
            &mut conn,
            &format!("SELECT pg_advisory_lock({ADVISORY_LOCK})"),
        )
        .await?;
    }
    let result = apply(&mut conn, store.backend()).await;
    if postgres {
        exec(
            &mut conn,
            &format!("SELECT pg_advisory_unlock({ADVISORY_LOCK})"),
        )
        .await?;
    }
    result
}

async fn exec(conn: &mut PoolConnection<Any>, sql: &str) -> Result<(), StoreError> {
    within(sqlx::query(sql).execute(&mut **conn))
        .await
        .map(|_| ())
}

async fn apply(conn: &mut PoolConnection<Any>, backend: Backend) -> Result<(), StoreError> {
    let begin = match backend {
        // Takes the write lock at once: a second process waits (busy timeout) instead of
        // both reading "not applied".
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    exec(
        conn,
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    for (version, sql) in MIGRATIONS {
        exec(conn, begin).await?;
        let outcome = apply_one(conn, version, sql).await;
        match outcome {
            Ok(applied) => {
                exec(conn, "COMMIT").await?;
                if applied {
                    tracing::info!(version, "store migration applied");
                }
            }
            Err(err) => {
                let _ = exec(conn, "ROLLBACK").await;
                return Err(err);
            }
        }
    }
    Ok(())
}

/// Applies one migration unless it is recorded; whether it ran.
async fn apply_one(
    conn: &mut PoolConnection<Any>,
    version: i64,
    sql: &str,
) -> Result<bool, StoreError> {
    let applied: Option<i64> = within(
        sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut **conn),
    )
    .await?;
    if applied.is_some() {
        return Ok(false);
    }
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        within(sqlx::query(statement).execute(&mut **conn))
            .await
            .map_err(|e| StoreError::Database(format!("migration {version} failed: {e}")))?;
    }
    within(
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(crate::now_ms())
            .execute(&mut **conn),
    )
    .await?;
    Ok(true)
}
