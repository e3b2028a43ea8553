//! Changing keys and tenants from a JSON object of the fields to change (the admin API's
//! `PATCH` body, and what the CLI builds from its flags): a field present is set, `null`
//! clears it, an absent field is left alone, an unknown field is an error naming it.

use serde_json::{Map, Value};
use switchyard_store::keys::KeyRow;
use switchyard_store::tenants::TenantRow;

use crate::issue::{bad, normal_model_limits, SpecError};
use crate::keys;
use crate::limits::Period;

/// The limit columns keys and tenants share.
struct LimitColumns<'a> {
    policies: &'a mut Vec<String>,
    budget_nano_usd: &'a mut Option<i64>,
    budget_period: &'a mut Option<String>,
    rpm: &'a mut Option<i64>,
    tpm: &'a mut Option<i64>,
    model_limits: &'a mut Option<String>,
    metadata: &'a mut Option<String>,
    name: &'a mut String,
}

/// Sets one shared field; `Ok(false)` when `field` is not one of them.
fn set_common(cols: &mut LimitColumns<'_>, field: &str, value: &Value) -> Result<bool, SpecError> {
    match field {
        "name" => *cols.name = name(value)?,
        "budget_usd" => {
            *cols.budget_nano_usd = match value {
                Value::Null => None,
                v => Some(dollars(v)?),
            };
            if cols.budget_nano_usd.is_some() && cols.budget_period.is_none() {
                *cols.budget_period = Some("monthly".into());
            }
        }
        "budget_period" => {
            let text = value.as_str().unwrap_or_default();
            if Period::parse(text).is_none() {
                return Err(bad("budget_period", "must be daily, monthly or total"));
            }
            *cols.budget_period = Some(text.to_owned());
        }
        "policies" => *cols.policies = policy_names(value)?,
        "rpm" => *cols.rpm = per_minute("rpm", value)?,
        "tpm" => *cols.tpm = per_minute("tpm", value)?,
        "model_limits" => {
            *cols.model_limits = match value {
                Value::Null => None,
                Value::Object(_) => Some(normal_model_limits(&value.to_string())?),
                _ => return Err(bad("model_limits", "must be an object or null")),
            }
        }
        "metadata" => {
            *cols.metadata = match value {
                Value::Null => None,
                Value::Object(_) => {
                    let text = value.to_string();
                    if text.len() > 16 * 1024 {
                        return Err(bad("metadata", "must be at most 16 KiB"));
                    }
                    Some(text)
                }
                _ => return Err(bad("metadata", "must be a JSON object or null")),
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Policy names (the config's `[[policies]]`): a list, or null for none.
pub fn policy_names(value: &Value) -> Result<Vec<String>, SpecError> {
    let list = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) => list,
        _ => return Err(bad("policies", "must be a list of policy names, or null")),
    };
    let mut names = Vec::new();
    for item in list {
        let name = item.as_str().unwrap_or_default();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "policies",
                "each name must be 1-64 letters, digits, `-`, `_` or `.`",
            ));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn name(value: &Value) -> Result<String, SpecError> {
    let name = value.as_str().map(str::trim).unwrap_or_default();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(bad("name", "must be 1-200 printable characters"));
    }
    Ok(name.to_owned())
}

fn dollars(value: &Value) -> Result<i64, SpecError> {
    match value.as_f64() {
        Some(usd) if usd.is_finite() && (0.0..=1e9).contains(&usd) => {
            Ok((usd * 1e9).round() as i64)
        }
        _ => Err(bad(
            "budget_usd",
            "must be a number between 0 and 1e9, or null",
        )),
    }
}

fn per_minute(field: &'static str, value: &Value) -> Result<Option<i64>, SpecError> {
    match value {
        Value::Null => Ok(None),
        v => match v.as_u64() {
            Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => Ok(Some(n as i64)),
            _ => Err(bad(field, "must be a whole number of at least 1, or null")),
        },
    }
}

fn unknown(field: &str) -> SpecError {
    SpecError {
        field: "body",
        message: format!("unknown field `{field}`"),
    }
}

/// Applies `patch` to a key. `tenant_id` changes are checked by the caller (it must exist).
pub fn patch_key(
    row: &mut KeyRow,
    patch: &Map<String, Value>,
    now_ms: i64,
) -> Result<(), SpecError> {
    for (field, value) in patch {
        let mut cols = LimitColumns {
            policies: &mut row.policies,
            budget_nano_usd: &mut row.budget_nano_usd,
            budget_period: &mut row.budget_period,
            rpm: &mut row.rpm,
            tpm: &mut row.tpm,
            model_limits: &mut row.model_limits,
            metadata: &mut row.metadata,
            name: &mut row.name,
        };
        if set_common(&mut cols, field, value)? {
            continue;
        }
        match field.as_str() {
            "models" => {
                let Some(list) = value.as_array() else {
                    return Err(bad("models", "must be a list of model names"));
                };
                let mut models = Vec::new();
                for m in list {
                    let m = m.as_str().map(str::trim).unwrap_or_default();
                    if m.is_empty() || m.len() > 256 || m.chars().any(char::is_control) {
                        return Err(bad(
                            "models",
                            "each model name must be 1-256 printable characters",
                        ));
                    }
                    models.push(m.to_owned());
                }
                row.allowed_models = models;
            }
            "expires_in_days" => {
                row.expires_at = match value {
                    Value::Null => None,
                    v => match v.as_f64() {
                        Some(days) if days.is_finite() && days > 0.0 && days <= 36_500.0 => {
                            Some(now_ms + (days * 86_400_000.0) as i64)
                        }
                        _ => {
                            return Err(bad(
                                "expires_in_days",
                                "must be between 0 and 36500, or null",
                            ))
                        }
                    },
                }
            }
            "tenant_id" => {
                row.tenant_id = match value {
                    Value::Null => None,
                    Value::String(id) if !id.is_empty() => Some(id.clone()),
                    _ => return Err(bad("tenant_id", "must be a tenant id or null")),
                }
            }
            other => return Err(unknown(other)),
        }
    }
    Ok(())
}

/// Applies `patch` to a tenant (its parent cannot change).
pub fn patch_tenant(row: &mut TenantRow, patch: &Map<String, Value>) -> Result<(), SpecError> {
    for (field, value) in patch {
        let mut cols = LimitColumns {
            policies: &mut row.policies,
            budget_nano_usd: &mut row.budget_nano_usd,
            budget_period: &mut row.budget_period,
            rpm: &mut row.rpm,
            tpm: &mut row.tpm,
            model_limits: &mut row.model_limits,
            metadata: &mut row.metadata,
            name: &mut row.name,
        };
        if !set_common(&mut cols, field, value)? {
            return Err(if field == "parent_id" {
                bad("parent_id", "a tenant's organisation cannot change")
            } else {
                unknown(field)
            });
        }
    }
    Ok(())
}

/// A new tenant from `{"name", "parent_id"?, limits...}`. Whether the parent exists and is
/// an organisation is the caller's check (it needs the store).
pub fn new_tenant(body: &Map<String, Value>, now_ms: i64) -> Result<TenantRow, SpecError> {
    let mut row = TenantRow {
        id: keys::new_id("ten").map_err(|e| bad("id", e.to_string()))?,
        name: name(body.get("name").unwrap_or(&Value::Null))?,
        created_at: now_ms,
        updated_at: now_ms,
        ..TenantRow::default()
    };
    row.parent_id = match body.get("parent_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        Some(_) => return Err(bad("parent_id", "must be an organisation's id")),
    };
    let rest: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| *k != "name" && *k != "parent_id")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    patch_tenant(&mut row, &rest)?;
    Ok(row)
}

/// Whether a new tenant's parent may hold it: it must exist, be enabled, and be an
/// organisation (teams do not nest). The outer `Err` is the store failing.
pub async fn check_parent(
    store: &switchyard_store::Store,
    row: &TenantRow,
) -> Result<Result<(), SpecError>, switchyard_store::StoreError> {
    let Some(parent) = &row.parent_id else {
        return Ok(Ok(()));
    };
    Ok(match store.tenant(parent).await? {
        Some(p) if p.parent_id.is_some() => Err(bad(
            "parent_id",
            "teams belong to an organisation, not to another team",
        )),
        Some(p) if p.disabled_at.is_none() => Ok(()),
        _ => Err(bad("parent_id", "no such organisation, or it is disabled")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn patches_set_clear_and_refuse_by_field() {
        let mut key = KeyRow {
            name: "app".into(),
            rpm: Some(5),
            ..KeyRow::default()
        };
        patch_key(
            &mut key,
            &object(json!({"rpm": null, "tpm": 900, "budget_usd": 2.5, "model_limits": {"m": {"rpm": 3}}, "models": ["a"]})),
            0,
        )
        .unwrap();
        assert_eq!(key.rpm, None);
        assert_eq!(key.tpm, Some(900));
        assert_eq!(key.budget_nano_usd, Some(2_500_000_000));
        assert_eq!(key.budget_period.as_deref(), Some("monthly"));
        assert_eq!(key.model_limits.as_deref(), Some(r#"{"m":{"rpm":3}}"#));
        assert_eq!(key.allowed_models, ["a"]);
        let field = |patch: Value| patch_key(&mut key.clone(), &object(patch), 0).unwrap_err();
        assert_eq!(field(json!({"rpm": 0})).field, "rpm");
        assert_eq!(
            field(json!({"budget_period": "weekly"})).field,
            "budget_period"
        );
        assert_eq!(
            field(json!({"model_limits": {"m": {"rpm": 0}}})).field,
            "model_limits"
        );
        assert_eq!(
            field(json!({"model_limits": {"m": {"rps": 1}}})).field,
            "model_limits"
        );
        assert!(field(json!({"colour": 1})).message.contains("colour"));

        let team = new_tenant(
            &object(json!({"name": "search", "parent_id": "ten_org", "budget_usd": 10, "budget_period": "daily", "rpm": 60})),
            7,
        )
        .unwrap();
        assert_eq!(team.parent_id.as_deref(), Some("ten_org"));
        assert_eq!(team.budget_nano_usd, Some(10_000_000_000));
        assert_eq!(team.budget_period.as_deref(), Some("daily"));
        assert_eq!(team.rpm, Some(60));
        assert!(team.id.starts_with("ten_"));
        assert_eq!(new_tenant(&object(json!({})), 0).unwrap_err().field, "name");
        let mut team = team;
        assert_eq!(
            patch_tenant(&mut team, &object(json!({"parent_id": null})))
                .unwrap_err()
                .field,
            "parent_id"
        );
    }
}
