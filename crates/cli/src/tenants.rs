//! `switchyard tenants create|list|update|disable|token`, and what `keys update` shares with
//! them: changes are built as the admin API's PATCH object (`none` clears a value) and
//! applied to the store the config names, or sent to a running server with `--admin-url`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Map, Value};
use switchyard_governance::keys::{self, KeySecret};
use switchyard_governance::patch::{check_parent, new_tenant, patch_key, patch_tenant};
use switchyard_governance::report::dollars;
use switchyard_store::admin_tokens::AdminTokenRow;
use switchyard_store::tenants::TenantRow;
use switchyard_store::Store;

use crate::keys::{open, StoreArgs};
use crate::{governed, Failure};

/// Limits and labels keys and tenants share; `none` clears.
#[derive(Args, Debug, Default)]
pub struct Change {
    /// Spending limit in USD over --budget-period (`none`: no budget).
    #[arg(long)]
    budget_usd: Option<String>,
    /// `daily`, `monthly` (UTC calendar) or `total`.
    #[arg(long)]
    budget_period: Option<String>,
    /// Requests per minute (`none`: unlimited).
    #[arg(long)]
    rpm: Option<String>,
    /// Tokens (input + output) per minute (`none`: unlimited).
    #[arg(long)]
    tpm: Option<String>,
    /// Per-model limits as JSON, e.g. '{"gpt-4o": {"rpm": 10}}' (`none`: no per-model limits).
    #[arg(long)]
    model_limits: Option<String>,
    /// Free-form JSON object kept with it (`none`: drop it).
    #[arg(long)]
    metadata: Option<String>,
    /// Sovereignty policies (config names, comma-separated) its requests are held to
    /// (`none`: no policy of its own).
    #[arg(long)]
    policies: Option<String>,
}

impl Change {
    /// The PATCH object these flags make.
    pub fn patch(&self) -> Result<Map<String, Value>, Failure> {
        let mut patch = Map::new();
        set_number(&mut patch, "budget_usd", self.budget_usd.as_deref())?;
        if let Some(period) = &self.budget_period {
            patch.insert("budget_period".into(), json!(period));
        }
        set_number(&mut patch, "rpm", self.rpm.as_deref())?;
        set_number(&mut patch, "tpm", self.tpm.as_deref())?;
        set_json(&mut patch, "model_limits", self.model_limits.as_deref())?;
        set_json(&mut patch, "metadata", self.metadata.as_deref())?;
        if let Some(list) = &self.policies {
            let names: Vec<&str> = if list == "none" {
                Vec::new()
            } else {
                list.split(',').map(str::trim).collect()
            };
            patch.insert("policies".into(), json!(names));
        }
        Ok(patch)
    }
}

fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

/// `none` → null, else the number.
pub fn set_number(
    patch: &mut Map<String, Value>,
    field: &str,
    value: Option<&str>,
) -> Result<(), Failure> {
    let Some(value) = value else { return Ok(()) };
    let parsed = if value == "none" {
        Value::Null
    } else {
        serde_json::from_str::<serde_json::Number>(value)
            .map(Value::Number)
            .map_err(|_| Failure::usage(format!("{} takes a number or `none`", flag(field))))?
    };
    patch.insert(field.into(), parsed);
    Ok(())
}

/// `none` → null, else the JSON given.
fn set_json(
    patch: &mut Map<String, Value>,
    field: &str,
    value: Option<&str>,
) -> Result<(), Failure> {
    let Some(value) = value else { return Ok(()) };
    let parsed = if value == "none" {
        Value::Null
    } else {
        serde_json::from_str(value)
            .map_err(|e| Failure::usage(format!("{} is not JSON: {e}", flag(field))))?
    };
    patch.insert(field.into(), parsed);
    Ok(())
}

pub fn text_or_null(value: &str) -> Value {
    if value == "none" {
        Value::Null
    } else {
        json!(value)
    }
}

#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Create an organisation, or a team under one (--parent); prints its id.
    Create {
        /// A name to recognise it by.
        #[arg(long)]
        name: String,
        /// For a team: the organisation's id.
        #[arg(long)]
        parent: Option<String>,
        #[command(flatten)]
        change: Change,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List organisations and teams with their limits.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change a tenant's name, limits or metadata (`none` clears a value).
    Update {
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        change: Change,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable a tenant: its keys and its teams' keys stop working on every replica.
    Disable {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make a `tenant-admin` token for the admin API, limited to this tenant; printed once.
    Token {
        id: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "tenant admin")]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(command: TenantsCommand) -> Result<(), Failure> {
    match command {
        TenantsCommand::Create {
            name,
            parent,
            change,
            store,
        } => {
            let mut body = change.patch()?;
            body.insert("name".into(), json!(name));
            if let Some(parent) = parent {
                body.insert("parent_id".into(), json!(parent));
            }
            let made = match store.admin()? {
                Some(admin) => row(&admin
                    .send(Method::POST, "/admin/tenants", Some(&Value::Object(body)))
                    .await?),
                None => {
                    let row = new_tenant(&body, switchyard_store::now_ms()).map_err(usage)?;
                    with_store(&store, |s| async move {
                        check_parent(&s, &row)
                            .await
                            .map_err(failed)?
                            .map_err(usage)?;
                        s.insert_tenant(&row).await.map_err(failed)?;
                        crate::audit::record_action(&s, "tenants.create", &row.id).await?;
                        Ok(row)
                    })
                    .await?
                }
            };
            println!("id:     {}", made.id);
            println!("name:   {}", made.name);
            println!("kind:   {}", kind(&made));
            Ok(())
        }
        TenantsCommand::List { store } => {
            let rows = match store.admin()? {
                Some(admin) => {
                    let listed = admin.send(Method::GET, "/admin/tenants", None).await?;
                    listed["data"]
                        .as_array()
                        .map(|d| d.iter().map(row).collect())
                        .unwrap_or_default()
                }
                None => {
                    with_store(
                        &store,
                        |s| async move { s.list_tenants().await.map_err(failed) },
                    )
                    .await?
                }
            };
            print_tenants(&rows);
            Ok(())
        }
        TenantsCommand::Update {
            id,
            name,
            change,
            store,
        } => {
            let mut patch = change.patch()?;
            if let Some(name) = name {
                patch.insert("name".into(), json!(name));
            }
            let changed = match store.admin()? {
                Some(admin) => row(&admin
                    .send(
                        Method::PATCH,
                        &format!("/admin/tenants/{id}"),
                        Some(&Value::Object(patch)),
                    )
                    .await?),
                None => {
                    with_store(&store, |s| async move {
                        let mut row = s
                            .tenant(&id)
                            .await
                            .map_err(failed)?
                            .ok_or_else(|| Failure::failed(format!("no tenant `{id}`")))?;
                        patch_tenant(&mut row, &patch).map_err(usage)?;
                        s.update_tenant(&row).await.map_err(failed)?;
                        crate::audit::record_action(&s, "tenants.update", &row.id).await?;
                        Ok(row)
                    })
                    .await?
                }
            };
            print_tenants(&[changed]);
            Ok(())
        }
        TenantsCommand::Disable { id, store } => {
            match store.admin()? {
                Some(admin) => {
                    admin
                        .send(Method::DELETE, &format!("/admin/tenants/{id}"), None)
                        .await?;
                }
                None => {
                    let found = with_store(&store, |s| async move {
                        let found = s.disable_tenant(&id).await.map_err(failed)?;
                        if found {
                            crate::audit::record_action(&s, "tenants.disable", &id).await?;
                        }
                        Ok(found)
                    })
                    .await?;
                    if !found {
                        return Err(Failure::failed("no such tenant"));
                    }
                }
            }
            println!("disabled");
            Ok(())
        }
        TenantsCommand::Token { id, name, store } => {
            let token = match store.admin()? {
                Some(admin) => {
                    let made = admin
                        .send(
                            Method::POST,
                            &format!("/admin/tenants/{id}/tokens"),
                            Some(&json!({"name": name})),
                        )
                        .await?;
                    made["token"].as_str().unwrap_or_default().to_owned()
                }
                None => {
                    let pepper = governed::required_pepper()?;
                    let secret = KeySecret::generate_admin().map_err(failed)?;
                    let row = AdminTokenRow {
                        id: keys::new_id("tok").map_err(failed)?,
                        name,
                        prefix: secret.display_prefix().to_owned(),
                        hash: keys::to_hex(&pepper.hash(secret.expose())),
                        tenant_id: id.clone(),
                        role: "tenant-admin".into(),
                        created_at: switchyard_store::now_ms(),
                        revoked_at: None,
                    };
                    with_store(&store, |s| async move {
                        enabled_tenant(&s, &id, "tenant").await?;
                        s.insert_admin_token(&row).await.map_err(failed)?;
                        crate::audit::record_action(&s, "tenants.token", &row.id).await
                    })
                    .await?;
                    secret.expose().to_owned()
                }
            };
            println!("token:  {token}");
            eprintln!("(the token is shown only now; use it as the admin API's bearer token)");
            Ok(())
        }
    }
}

/// `keys update`: through the admin API, or on the store.
pub async fn update_key(
    id: &str,
    patch: &Map<String, Value>,
    args: &StoreArgs,
) -> Result<(), Failure> {
    if let Some(admin) = args.admin()? {
        admin
            .send(
                Method::PATCH,
                &format!("/admin/keys/{id}"),
                Some(&Value::Object(patch.clone())),
            )
            .await?;
        println!("updated {id}");
        return Ok(());
    }
    let (id, patch) = (id.to_owned(), patch.clone());
    with_store(args, |s| async move {
        let mut row = s
            .keys_named(&id)
            .await
            .map_err(failed)?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| Failure::failed(format!("no key with id `{id}`")))?;
        let before = row.tenant_id.clone();
        patch_key(&mut row, &patch, switchyard_store::now_ms()).map_err(usage)?;
        if row.tenant_id != before {
            if let Some(tenant) = &row.tenant_id {
                enabled_tenant(&s, tenant, "--tenant").await?;
            }
        }
        s.update_key(&row).await.map_err(failed)?;
        crate::audit::record_action(&s, "keys.update", &id).await?;
        println!("updated {id}");
        Ok(())
    })
    .await
}

/// That `id` names an enabled tenant; otherwise a usage error naming `what` was given.
pub async fn enabled_tenant(store: &Store, id: &str, what: &str) -> Result<(), Failure> {
    match store.tenant(id).await.map_err(failed)? {
        Some(t) if t.disabled_at.is_none() => Ok(()),
        _ => Err(Failure::usage(format!("{what}: no enabled tenant `{id}`"))),
    }
}

/// A tenant's id and its teams' (what its usage covers).
pub async fn family(store: &Store, id: &str) -> Result<Vec<String>, Failure> {
    let all = store.list_tenants().await.map_err(failed)?;
    let mut ids = vec![id.to_owned()];
    ids.extend(
        all.into_iter()
            .filter(|t| t.parent_id.as_deref() == Some(id))
            .map(|t| t.id),
    );
    Ok(ids)
}

/// Runs `work` on the store the config names, closing it after.
async fn with_store<T, F, Fut>(args: &StoreArgs, work: F) -> Result<T, Failure>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let store = open(args).await?;
    let result = work(store.clone()).await;
    store.close().await;
    result
}

fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::usage(e.to_string())
}

fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::failed(e.to_string())
}

fn kind(t: &TenantRow) -> &'static str {
    if t.parent_id.is_some() {
        "team"
    } else {
        "organisation"
    }
}

/// A tenant from the admin API's JSON.
fn row(v: &Value) -> TenantRow {
    let text = |name: &str| v[name].as_str().map(str::to_owned);
    TenantRow {
        id: text("id").unwrap_or_default(),
        name: text("name").unwrap_or_default(),
        parent_id: text("parent_id"),
        created_at: v["created_at_ms"].as_i64().unwrap_or(0),
        disabled_at: v["disabled_at_ms"].as_i64(),
        budget_nano_usd: v["budget_usd"]
            .as_str()
            .and_then(|d| d.parse::<f64>().ok())
            .map(|usd| (usd * 1e9).round() as i64),
        budget_period: text("budget_period"),
        rpm: v["rpm"].as_i64(),
        tpm: v["tpm"].as_i64(),
        model_limits: v
            .get("model_limits")
            .filter(|m| m.is_object())
            .map(Value::to_string),
        ..TenantRow::default()
    }
}

fn print_tenants(rows: &[TenantRow]) {
    println!(
        "{:<21} {:<24} {:<13} {:<21} {:<9} {:<22} {:<8} {:<9} {:<16} PER MODEL",
        "ID", "NAME", "KIND", "PARENT", "STATUS", "BUDGET", "RPM", "TPM", "POLICIES"
    );
    for t in rows {
        let budget = t.budget_nano_usd.map_or("-".to_owned(), |b| {
            format!(
                "${} {}",
                dollars(b),
                t.budget_period.as_deref().unwrap_or("total")
            )
        });
        let per_minute = |n: Option<i64>| n.map_or("-".to_owned(), |n| n.to_string());
        println!(
            "{:<21} {:<24} {:<13} {:<21} {:<9} {:<22} {:<8} {:<9} {:<16} {}",
            t.id,
            t.name,
            kind(t),
            t.parent_id.as_deref().unwrap_or("-"),
            if t.disabled_at.is_some() {
                "disabled"
            } else {
                "active"
            },
            budget,
            per_minute(t.rpm),
            per_minute(t.tpm),
            if t.policies.is_empty() {
                "-".to_owned()
            } else {
                t.policies.join(",")
            },
            t.model_limits.as_deref().unwrap_or("-"),
        );
    }
}
