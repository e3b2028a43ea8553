//! `--admin-url`: the key, tenant and usage commands through a running server's admin API instead
//! of the store, with the token from `SWITCHYARD_ADMIN_TOKEN`.

use std::time::Duration;

use serde_json::{json, Value};
use switchyard_governance::issue::KeySpec;
use switchyard_store::keys::KeyRow;

use crate::Failure;

pub struct AdminClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(url: &str) -> Result<AdminClient, Failure> {
        let token = std::env::var("SWITCHYARD_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Failure::usage("--admin-url needs SWITCHYARD_ADMIN_TOKEN"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::failed(e.to_string()))?;
        Ok(AdminClient {
            base: url
                .trim_end_matches('/')
                .trim_end_matches("/admin")
                .to_owned(),
            token,
            http,
        })
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
        let response = request.bearer_auth(&self.token).send().await.map_err(|e| {
            Failure::unreachable(format!("cannot reach the admin API at {}: {e}", self.base))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let message = body["error"]["message"].as_str().unwrap_or("no message");
        Err(Failure::failed(format!(
            "admin API answered HTTP {status}: {message}"
        )))
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let bytes =
            self.call(request).await?.bytes().await.map_err(|e| {
                Failure::failed(format!("unexpected answer from the admin API: {e}"))
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Failure::failed(format!("unexpected answer from the admin API: {e}")))
    }

    /// The created key's id, name and secret.
    pub async fn create(&self, spec: &KeySpec) -> Result<(String, String, String), Failure> {
        let metadata = match &spec.metadata {
            None => None,
            Some(text) => Some(
                serde_json::from_str::<Value>(text)
                    .map_err(|e| Failure::usage(format!("--metadata is not JSON: {e}")))?,
            ),
        };
        let body = json!({
            "name": spec.name, "models": spec.models, "expires_in_days": spec.expires_in_days,
            "metadata": metadata, "budget_usd": spec.budget_usd,
            "budget_period": spec.budget_period, "rpm": spec.rpm, "tpm": spec.tpm,
            "tenant_id": spec.tenant_id,
            "policies": spec.policies,
            "model_limits": spec.model_limits.as_deref().map(serde_json::from_str::<Value>).transpose()
                .map_err(|e| Failure::usage(format!("--model-limits is not JSON: {e}")))?,
        });
        let made = self
            .json(
                self.http
                    .post(format!("{}/admin/keys", self.base))
                    .header("content-type", "application/json")
                    .body(body.to_string()),
            )
            .await?;
        let field = |name: &str| made[name].as_str().unwrap_or_default().to_owned();
        Ok((field("id"), field("name"), field("key")))
    }

    pub async fn list(&self) -> Result<Vec<KeyRow>, Failure> {
        let listed = self
            .json(self.http.get(format!("{}/admin/keys", self.base)))
            .await?;
        Ok(listed["data"]
            .as_array()
            .map(|keys| keys.iter().map(row).collect())
            .unwrap_or_default())
    }

    pub async fn revoke(&self, id: &str) -> Result<(), Failure> {
        self.call(self.http.delete(format!("{}/admin/keys/{id}", self.base)))
            .await
            .map(|_| ())
    }

    /// `method path` with an optional JSON body; the JSON answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.json(request).await
    }

    /// The usage report: CSV text, or the JSON totals.
    pub async fn usage(&self, query: &[(&str, String)], csv: bool) -> Result<Value, Failure> {
        let mut query = query.to_vec();
        if csv {
            query.push(("format", "csv".to_owned()));
            let text = self
                .call(
                    self.http
                        .get(format!("{}/admin/usage", self.base))
                        .query(&query),
                )
                .await?
                .text()
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
            return Ok(Value::String(text));
        }
        self.json(
            self.http
                .get(format!("{}/admin/usage", self.base))
                .query(&query),
        )
        .await
    }
}

/// A key as the admin API shows it, in the store's shape (for one table printer).
fn row(v: &Value) -> KeyRow {
    let text = |name: &str| v[name].as_str().map(str::to_owned);
    let nano = v["budget_usd"]
        .as_str()
        .and_then(|d| d.parse::<f64>().ok())
        .map(|usd| (usd * 1e9).round() as i64);
    let revoked_at = v["revoked_at_ms"].as_i64().or_else(|| {
        // A revoked key always has its time; keep the status if the field is missing.
        (v["status"] == "revoked").then_some(0)
    });
    KeyRow {
        id: text("id").unwrap_or_default(),
        name: text("name").unwrap_or_default(),
        prefix: text("prefix").unwrap_or_default(),
        tenant_id: text("tenant_id"),
        created_at: v["created_at_ms"].as_i64().unwrap_or(0),
        expires_at: v["expires_at_ms"].as_i64(),
        revoked_at,
        allowed_models: v["models"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        budget_nano_usd: nano,
        budget_period: text("budget_period"),
        rpm: v["rpm"].as_i64(),
        tpm: v["tpm"].as_i64(),
        model_limits: v
            .get("model_limits")
            .filter(|m| m.is_object())
            .map(Value::to_string),
        ..KeyRow::default()
    }
}
