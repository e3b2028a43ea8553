//! The usage ledger: one row per request, append-only. A row's `request_id` is its primary
//! key and inserts ignore a row already there, so writing a batch twice (a retry after a
//! timeout that did commit) never duplicates anything.

use crate::{column, within, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LedgerRow {
    pub request_id: String,
    /// Unix ms when the request finished.
    pub at: i64,
    pub tenant_id: Option<String>,
    pub key_id: Option<String>,
    pub model: String,
    pub deployment: Option<String>,
    pub provider: Option<String>,
    pub jurisdiction: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    /// Cost in billionths of a dollar (exact integer accounting).
    pub cost_nano_usd: i64,
    pub latency_ms: i64,
    pub status: i32,
}

/// Which rows a query covers.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive.
    pub to: Option<i64>,
    pub key_id: Option<String>,
    pub tenant_id: Option<String>,
    /// Rows of any of these tenants (an organisation and its teams); empty: no filter.
    pub tenant_in: Vec<String>,
    pub model: Option<String>,
}

/// Totals over a set of rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageTotals {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_nano_usd: i64,
}

const COLUMNS: &str = "request_id, at, tenant_id, key_id, model, deployment, provider, jurisdiction, input_tokens, output_tokens, cached_tokens, cost_nano_usd, latency_ms, status";

impl LedgerFilter {
    /// The ` WHERE ...` clause (empty without filters) with placeholders `$1`, `$2`, ... and
    /// the values to bind to them, in order.
    fn clause(&self) -> (String, Vec<Bound>) {
        let mut parts = Vec::new();
        let mut values = Vec::new();
        let mut add = |sql: &str, value: Bound| {
            values.push(value);
            parts.push(format!("{sql} ${}", values.len()));
        };
        if let Some(from) = self.from {
            add("at >=", Bound::Int(from));
        }
        if let Some(to) = self.to {
            add("at <", Bound::Int(to));
        }
        if let Some(key) = &self.key_id {
            add("key_id =", Bound::Text(key.clone()));
        }
        if let Some(tenant) = &self.tenant_id {
            add("tenant_id =", Bound::Text(tenant.clone()));
        }
        if let Some(model) = &self.model {
            add("model =", Bound::Text(model.clone()));
        }
        if !self.tenant_in.is_empty() {
            let mut marks = Vec::new();
            for tenant in &self.tenant_in {
                values.push(Bound::Text(tenant.clone()));
                marks.push(format!("${}", values.len()));
            }
            parts.push(format!("tenant_id IN ({})", marks.join(", ")));
        }
        let clause = if parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", parts.join(" AND "))
        };
        (clause, values)
    }
}

enum Bound {
    Int(i64),
    Text(String),
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: Vec<Bound>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            Bound::Int(v) => query.bind(v),
            Bound::Text(v) => query.bind(v),
        };
    }
    query
}

impl Store {
    /// Appends rows in one transaction; rows whose request id is already there are skipped.
    pub async fn append_usage(&self, rows: &[LedgerRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = within(self.pool().begin()).await?;
        // Several rows per statement: one trip to the database per chunk. SQLite looks each
        // bound parameter's name up in a list, so its chunks stay small.
        let per_statement = match self.backend() {
            crate::Backend::Postgres => 64,
            crate::Backend::Sqlite => 8,
        };
        for chunk in rows.chunks(per_statement) {
            let marks: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let marks: Vec<String> = (1..=14).map(|k| format!("${}", i * 14 + k)).collect();
                    format!("({})", marks.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO usage_ledger ({COLUMNS}) VALUES {} ON CONFLICT (request_id) DO NOTHING",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(&row.request_id)
                    .bind(row.at)
                    .bind(&row.tenant_id)
                    .bind(&row.key_id)
                    .bind(&row.model)
                    .bind(&row.deployment)
                    .bind(&row.provider)
                    .bind(&row.jurisdiction)
                    .bind(row.input_tokens)
                    .bind(row.output_tokens)
                    .bind(row.cached_tokens)
                    .bind(row.cost_nano_usd)
                    .bind(row.latency_ms)
                    .bind(row.status);
            }
            within(query.execute(&mut *tx)).await?;
        }
        within(tx.commit()).await?;
        Ok(())
    }

    /// The rows matching `filter`, oldest first, at most `limit`.
    pub async fn usage_rows(
        &self,
        filter: &LedgerFilter,
        limit: i64,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        let (clause, values) = filter.clause();
        let sql = format!(
            "SELECT {COLUMNS} FROM usage_ledger{clause} ORDER BY at, request_id LIMIT {}",
            limit.max(0)
        );
        let rows = within(bind_all(sqlx::query(&sql), values).fetch_all(self.pool())).await?;
        rows.iter()
            .map(|row| {
                Ok(LedgerRow {
                    request_id: column(row, "request_id")?,
                    at: column(row, "at")?,
                    tenant_id: column(row, "tenant_id")?,
                    key_id: column(row, "key_id")?,
                    model: column(row, "model")?,
                    deployment: column(row, "deployment")?,
                    provider: column(row, "provider")?,
                    jurisdiction: column(row, "jurisdiction")?,
                    input_tokens: column(row, "input_tokens")?,
                    output_tokens: column(row, "output_tokens")?,
                    cached_tokens: column(row, "cached_tokens")?,
                    cost_nano_usd: column(row, "cost_nano_usd")?,
                    latency_ms: column(row, "latency_ms")?,
                    status: column(row, "status")?,
                })
            })
            .collect()
    }

    /// Totals over the rows matching `filter`.
    pub async fn usage_totals(&self, filter: &LedgerFilter) -> Result<UsageTotals, StoreError> {
        let (clause, values) = filter.clause();
        // SUM of BIGINT is NUMERIC in PostgreSQL: cast back so both backends give integers.
        let sql = format!(
            "SELECT COUNT(*) AS requests, CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT) AS cached_tokens, \
             CAST(COALESCE(SUM(cost_nano_usd), 0) AS BIGINT) AS cost_nano_usd FROM usage_ledger{clause}"
        );
        let row = within(bind_all(sqlx::query(&sql), values).fetch_one(self.pool())).await?;
        Ok(UsageTotals {
            requests: column(&row, "requests")?,
            input_tokens: column(&row, "input_tokens")?,
            output_tokens: column(&row, "output_tokens")?,
            cached_tokens: column(&row, "cached_tokens")?,
            cost_nano_usd: column(&row, "cost_nano_usd")?,
        })
    }
}
