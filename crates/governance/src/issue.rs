//! Making a new virtual key from what an operator asked for (CLI or admin API): checked,
//! hashed under the pepper, ready to store. The secret comes back once, with the row.

use switchyard_store::keys::KeyRow;

use crate::keys::{self, KeySecret, Pepper};
use crate::limits::Period;

/// What a new key should be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySpec {
    pub name: String,
    /// Empty: every model.
    pub models: Vec<String>,
    pub expires_in_days: Option<f64>,
    /// A JSON object, kept as given.
    pub metadata: Option<String>,
    pub budget_usd: Option<f64>,
    /// `daily`, `monthly` or `total` (default `monthly`).
    pub budget_period: Option<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub tenant_id: Option<String>,
    /// Per-model limits as JSON, `{"model": {"rpm": N, "tpm": N}}`.
    pub model_limits: Option<String>,
    /// Sovereignty policies (config names) the key's requests are held to.
    pub policies: Vec<String>,
}

/// Which field is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: &'static str,
    pub message: String,
}

/// Checked per-model limits, written back in one canonical form.
pub fn normal_model_limits(text: &str) -> Result<String, SpecError> {
    let limits = crate::limits::parse_model_limits(text).map_err(|e| bad("model_limits", e))?;
    serde_json::to_string(&limits).map_err(|e| bad("model_limits", e.to_string()))
}

pub(crate) fn bad(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        field,
        message: message.into(),
    }
}

/// The row to store and the secret to show once.
pub fn issue(
    pepper: &Pepper,
    spec: &KeySpec,
    now_ms: i64,
) -> Result<(KeyRow, KeySecret), SpecError> {
    let name = spec.name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(bad("name", "must be 1-200 printable characters"));
    }
    let models: Vec<String> = spec
        .models
        .iter()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    if models
        .iter()
        .any(|m| m.len() > 256 || m.chars().any(char::is_control))
    {
        return Err(bad(
            "models",
            "each model name must be 1-256 printable characters",
        ));
    }
    if let Some(meta) = &spec.metadata {
        let value: serde_json::Value =
            serde_json::from_str(meta).map_err(|e| bad("metadata", format!("not JSON: {e}")))?;
        if !value.is_object() {
            return Err(bad("metadata", "must be a JSON object"));
        }
        if meta.len() > 16 * 1024 {
            return Err(bad("metadata", "must be at most 16 KiB"));
        }
    }
    let expires_at = match spec.expires_in_days {
        None => None,
        Some(days) if days.is_finite() && days > 0.0 && days <= 36_500.0 => {
            Some(now_ms + (days * 86_400_000.0) as i64)
        }
        Some(_) => return Err(bad("expires_in_days", "must be between 0 and 36500")),
    };
    let period = spec.budget_period.as_deref().unwrap_or("monthly");
    if Period::parse(period).is_none() {
        return Err(bad("budget_period", "must be daily, monthly or total"));
    }
    let budget = match spec.budget_usd {
        None => None,
        Some(usd) if usd.is_finite() && (0.0..=1e9).contains(&usd) => {
            Some((usd * 1e9).round() as i64)
        }
        Some(_) => return Err(bad("budget_usd", "must be between 0 and 1e9")),
    };
    if spec.rpm == Some(0) {
        return Err(bad("rpm", "must be at least 1"));
    }
    if spec.tpm == Some(0) {
        return Err(bad("tpm", "must be at least 1"));
    }
    let model_limits = match &spec.model_limits {
        None => None,
        Some(text) => Some(normal_model_limits(text)?),
    };
    let secret = KeySecret::generate().map_err(|e| bad("key", e.to_string()))?;
    let row = KeyRow {
        id: keys::new_id("key").map_err(|e| bad("key", e.to_string()))?,
        name: name.to_owned(),
        prefix: secret.display_prefix().to_owned(),
        hash: keys::to_hex(&pepper.hash(secret.expose())),
        tenant_id: spec.tenant_id.clone(),
        created_at: now_ms,
        expires_at,
        revoked_at: None,
        allowed_models: models,
        metadata: spec.metadata.clone(),
        updated_at: now_ms,
        budget_nano_usd: budget,
        budget_period: budget.map(|_| period.to_owned()),
        rpm: spec.rpm.map(i64::from),
        tpm: spec.tpm.map(i64::from),
        change_seq: 0,
        model_limits,
        policies: crate::patch::policy_names(&serde_json::json!(spec.policies))?,
    };
    Ok((row, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_becomes_a_hashed_row_or_names_its_bad_field() {
        let pepper = Pepper::new(&"p".repeat(32)).unwrap();
        let spec = KeySpec {
            name: " team ".into(),
            models: vec!["chat".into(), " ".into()],
            budget_usd: Some(5.0),
            rpm: Some(60),
            ..KeySpec::default()
        };
        let (row, secret) = issue(&pepper, &spec, 1_000).unwrap();
        assert_eq!(row.name, "team");
        assert_eq!(row.allowed_models, vec!["chat"]);
        assert_eq!(row.budget_nano_usd, Some(5_000_000_000));
        assert_eq!(row.budget_period.as_deref(), Some("monthly"));
        assert_eq!(row.hash, keys::to_hex(&pepper.hash(secret.expose())));
        assert!(!row.hash.contains(secret.expose()));
        let field = |spec: KeySpec| issue(&pepper, &spec, 0).unwrap_err().field;
        assert_eq!(field(KeySpec::default()), "name");
        let named = KeySpec {
            name: "x".into(),
            ..KeySpec::default()
        };
        assert_eq!(
            field(KeySpec {
                rpm: Some(0),
                ..named.clone()
            }),
            "rpm"
        );
        assert_eq!(
            field(KeySpec {
                budget_usd: Some(-1.0),
                ..named.clone()
            }),
            "budget_usd"
        );
        assert_eq!(
            field(KeySpec {
                budget_period: Some("weekly".into()),
                ..named.clone()
            }),
            "budget_period"
        );
        assert_eq!(
            field(KeySpec {
                metadata: Some("[1]".into()),
                ..named.clone()
            }),
            "metadata"
        );
        assert_eq!(
            field(KeySpec {
                expires_in_days: Some(0.0),
                ..named
            }),
            "expires_in_days"
        );
    }
}
