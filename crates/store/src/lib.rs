//! The store: tenants, virtual keys and the usage ledger, in SQLite (the embedded default, a
//! file under `$SWITCHYARD_HOME`, WAL mode) or PostgreSQL (for several replicas). One set of
//! portable SQL migrations and one query text serve both: amounts of money are whole
//! nano-dollars (`BIGINT`), times are Unix milliseconds, ids are text made by the caller.
//!
//! Every call runs under a timeout ([`CALL_TIMEOUT`]); a call that runs out is an error, never
//! a hang.

pub mod admin_tokens;
pub mod audit;
pub mod keys;
pub mod ledger;
mod migrate;
pub mod tenants;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyPool;

/// The longest any one database call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("database error: {0}")]
    Database(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

/// Which database a store is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool of connections to the store's database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite:///path/file.db`,
    /// `sqlite::memory:`, `postgres://user@host/db`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(format!(
                "unsupported store URL scheme in `{}` (sqlite: or postgres://)",
                redact(url)
            )));
        };
        let url = match backend {
            // Created if missing; WAL lets readers work while the ledger writes; a writer
            // waits for the lock instead of failing at once.
            Backend::Sqlite if !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(CALL_TIMEOUT);
        if backend == Backend::Sqlite {
            // `:memory:` is per connection: one. A file: a few (WAL lets readers run beside
            // the one writer, and the busy timeout queues writers).
            let connections = if url.contains(":memory:") { 1 } else { 4 };
            options = options.max_connections(connections).after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(16);
        }
        let pool = within(options.connect(&url)).await.map_err(|e| match e {
            StoreError::Database(m) => {
                StoreError::Database(format!("cannot open the store: {}", redact_text(&m, &url)))
            }
            other => other,
        })?;
        let store = Store { pool, backend };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The SQLite file `switchyard.db` in `home` (created with the directory if missing).
    pub async fn open_file(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        Store::open(&format!("sqlite://{}", path.display())).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs a database call under [`CALL_TIMEOUT`].
pub async fn within<T, F>(call: F) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, sqlx::Error>>,
{
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::Timeout(CALL_TIMEOUT)),
    }
}

/// Takes the next change number inside `tx` (migration 0007): the counter row stays locked
/// until `tx` commits, so numbers are handed out in commit order and a replica polling for
/// rows above the largest number it has seen misses none, whatever the writers' clocks say.
pub(crate) async fn next_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
) -> Result<i64, StoreError> {
    within(
        sqlx::query_scalar(
            "UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value",
        )
        .fetch_one(&mut **tx),
    )
    .await
}

/// A row's column, read with the error naming it.
pub(crate) fn column<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(name)
        .map_err(|e| StoreError::Database(format!("column `{name}`: {e}")))
}

/// A stored comma-separated list of names (`None` or empty: none).
pub(crate) fn names(text: Option<String>) -> Vec<String> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// A list of names as stored (`None` when empty).
pub(crate) fn joined(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join(","))
}

/// Query parameters that carry a secret in database and Redis URLs (libpq's `password` and
/// `sslpassword`; redis-rs reads `password` too).
const SECRET_PARAMS: [&str; 2] = ["password", "sslpassword"];

/// A URL with any password replaced, for messages: the userinfo's password and every
/// secret query parameter.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = redact_userinfo(head);
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if SECRET_PARAMS.contains(&name.to_ascii_lowercase().as_str()) => {
                    format!("{name}=***")
                }
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// `scheme://user:secret@host/...` with the secret replaced.
fn redact_userinfo(url: &str) -> String {
    let Some(scheme) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let credentials = &rest[..at];
    match credentials.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme + 3],
            &credentials[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

fn redact_text(text: &str, url: &str) -> String {
    text.replace(url, &redact(url))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_passwords_in_userinfo_and_query() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/sy"),
            "postgres://app:***@db:5432/sy"
        );
        assert_eq!(
            redact("postgres://app@db/sy?sslmode=require&password=s3cret&PASSWORD=x"),
            "postgres://app@db/sy?sslmode=require&password=***&PASSWORD=***"
        );
        assert_eq!(
            redact("postgresql:///sy?host=/run/pg&sslpassword=k3y"),
            "postgresql:///sy?host=/run/pg&sslpassword=***"
        );
        assert_eq!(
            redact("redis://:r3dis@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        // An `@` in the query is not userinfo.
        assert_eq!(
            redact("postgres://db/sy?application_name=a:b@c&password=p"),
            "postgres://db/sy?application_name=a:b@c&password=***"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
