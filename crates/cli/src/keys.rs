//! `switchyard keys create|update|list|revoke` and `switchyard usage`, on the store the config
//! names, or through a running server's admin API (`--admin-url`). A created key's secret is
//! printed once and never stored.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use switchyard_governance::issue::{issue, KeySpec};
use switchyard_governance::report::{self, dollars, utc};
use switchyard_store::ledger::LedgerFilter;

use crate::admin_client::AdminClient;
use crate::{governed, Failure};

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Config file naming the store (`[store] url`); without one, the default SQLite file
    /// under $SWITCHYARD_HOME.
    #[arg(long, short = 'c', env = "SWITCHYARD_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Act through a running server's admin API (e.g. http://127.0.0.1:4001) instead of
    /// the store; the token comes from SWITCHYARD_ADMIN_TOKEN.
    #[arg(long, env = "SWITCHYARD_ADMIN_URL", conflicts_with = "config")]
    admin_url: Option<String>,
}

impl StoreArgs {
    pub(crate) fn admin(&self) -> Result<Option<AdminClient>, Failure> {
        self.admin_url.as_deref().map(AdminClient::new).transpose()
    }
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a virtual key; its secret is printed once.
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// Models the key may call (repeat or comma-separate); default: all.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Days until the key stops working; default: never.
        #[arg(long)]
        expires_in_days: Option<f64>,
        /// Free-form JSON object kept with the key (team, owner, ticket...).
        #[arg(long)]
        metadata: Option<String>,
        /// Spending limit in USD over --budget-period.
        #[arg(long)]
        budget_usd: Option<f64>,
        /// `daily`, `monthly` (UTC calendar) or `total`.
        #[arg(long, default_value = "monthly")]
        budget_period: String,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
        /// Tokens (input + output) per minute.
        #[arg(long)]
        tpm: Option<u32>,
        /// The team or organisation (tenant id) the key belongs to: its limits apply too.
        #[arg(long)]
        tenant: Option<String>,
        /// Per-model limits as JSON, e.g. '{"gpt-4o": {"rpm": 10, "tpm": 20000}}'.
        #[arg(long)]
        model_limits: Option<String>,
        /// Sovereignty policies (names from the config) the key's requests are held to.
        #[arg(long, value_delimiter = ',')]
        policies: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change a key's name, models, expiry, tenant or limits (`none` clears a value).
    Update {
        /// The key's id (`key_...`).
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        change: crate::tenants::Change,
        /// Models the key may call (comma-separated; `none`: all).
        #[arg(long)]
        models: Option<String>,
        /// Days from now until the key stops working (`none`: never).
        #[arg(long)]
        expires_in_days: Option<String>,
        /// Move the key to this tenant (`none`: no tenant).
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys (prefix only, never the secret).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id or prefix; every replica refuses it within seconds.
    Revoke {
        /// The key's id (`key_...`) or its displayed prefix (`sy_...`).
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args, Debug)]
pub struct UsageArgs {
    /// Only this key (id).
    #[arg(long)]
    key: Option<String>,
    /// Only this tenant (id); an organisation's usage includes its teams'.
    #[arg(long)]
    tenant: Option<String>,
    /// Only this model name.
    #[arg(long)]
    model: Option<String>,
    /// Only the last N hours.
    #[arg(long)]
    hours: Option<f64>,
    /// Every row as CSV instead of totals.
    #[arg(long)]
    csv: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub(crate) async fn open(args: &StoreArgs) -> Result<switchyard_store::Store, Failure> {
    let config = match &args.config {
        Some(path) => switchyard_config::load_file(path, &switchyard_config::process_env),
        None => switchyard_config::load_str("", &switchyard_config::process_env),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    governed::open_store(&config).await
}

pub async fn run(command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Create {
            name,
            models,
            expires_in_days,
            metadata,
            budget_usd,
            budget_period,
            rpm,
            tpm,
            tenant,
            model_limits,
            policies,
            store,
        } => {
            let spec = KeySpec {
                name,
                models,
                expires_in_days,
                metadata,
                budget_usd,
                budget_period: Some(budget_period),
                rpm,
                tpm,
                tenant_id: tenant,
                model_limits,
                policies,
            };
            create(spec, &store).await
        }
        KeysCommand::Update {
            id,
            name,
            change,
            models,
            expires_in_days,
            tenant,
            store,
        } => {
            let mut patch = change.patch()?;
            if let Some(name) = name {
                patch.insert("name".into(), serde_json::json!(name));
            }
            if let Some(models) = models {
                let list: Vec<&str> = if models == "none" {
                    Vec::new()
                } else {
                    models.split(',').map(str::trim).collect()
                };
                patch.insert("models".into(), serde_json::json!(list));
            }
            crate::tenants::set_number(&mut patch, "expires_in_days", expires_in_days.as_deref())?;
            if let Some(tenant) = tenant {
                patch.insert("tenant_id".into(), crate::tenants::text_or_null(&tenant));
            }
            crate::tenants::update_key(&id, &patch, &store).await
        }
        KeysCommand::List { store } => list(&store).await,
        KeysCommand::Revoke { id, store } => {
            if let Some(admin) = store.admin()? {
                admin.revoke(&id).await?;
                println!("revoked {id}");
                return Ok(());
            }
            let store = open(&store).await?;
            let done = store
                .revoke_key(&id)
                .await
                .map_err(|e| Failure::failed(e.to_string()));
            let audited = match &done {
                Ok(true) => crate::audit::record_action(&store, "keys.revoke", &id).await,
                _ => Ok(()),
            };
            store.close().await;
            audited?;
            if done? {
                println!("revoked {id}");
                Ok(())
            } else {
                Err(Failure::failed(format!("no key with id or prefix `{id}`")))
            }
        }
    }
}

async fn create(spec: KeySpec, args: &StoreArgs) -> Result<(), Failure> {
    if let Some(admin) = args.admin()? {
        let (id, name, key) = admin.create(&spec).await?;
        println!("id:     {id}");
        println!("name:   {name}");
        println!("key:    {key}");
        eprintln!("(the key is shown only now; Switchyard keeps only its hash)");
        return Ok(());
    }
    let pepper = governed::required_pepper()?;
    let (row, secret) = issue(&pepper, &spec, switchyard_store::now_ms())
        .map_err(|e| Failure::usage(format!("--{}", e.to_string().replace('_', "-"))))?;
    let store = open(args).await?;
    if let Some(tenant) = &row.tenant_id {
        if let Err(refused) = crate::tenants::enabled_tenant(&store, tenant, "--tenant").await {
            store.close().await;
            return Err(refused);
        }
    }
    let inserted = store.insert_key(&row).await;
    let audited = match &inserted {
        Ok(()) => crate::audit::record_action(&store, "keys.create", &row.id).await,
        Err(_) => Ok(()),
    };
    store.close().await;
    inserted.map_err(|e| Failure::failed(e.to_string()))?;
    audited?;
    println!("id:     {}", row.id);
    println!("name:   {}", row.name);
    println!("key:    {}", secret.expose());
    eprintln!("(the key is shown only now; Switchyard keeps only its hash)");
    Ok(())
}

async fn list(args: &StoreArgs) -> Result<(), Failure> {
    let rows = match args.admin()? {
        Some(admin) => admin.list().await?,
        None => {
            let store = open(args).await?;
            let listed = store.list_keys().await;
            store.close().await;
            listed.map_err(|e| Failure::failed(e.to_string()))?
        }
    };
    let now = switchyard_store::now_ms();
    println!(
        "{:<21} {:<24} {:<13} {:<8} {:<21} {:<20} {:<22} {:<8} {:<9} MODELS",
        "ID", "NAME", "PREFIX", "STATUS", "TENANT", "EXPIRES", "BUDGET", "RPM", "TPM"
    );
    for k in rows {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        let budget = k.budget_nano_usd.map_or("-".to_owned(), |b| {
            format!(
                "${} {}",
                dollars(b),
                k.budget_period.as_deref().unwrap_or("total")
            )
        });
        let per_minute = |n: Option<i64>| n.map_or("-".to_owned(), |n| n.to_string());
        println!(
            "{:<21} {:<24} {:<13} {:<8} {:<21} {:<20} {:<22} {:<8} {:<9} {}",
            k.id,
            k.name,
            k.prefix,
            status,
            k.tenant_id.as_deref().unwrap_or("-"),
            k.expires_at.map_or("never".to_owned(), utc),
            budget,
            per_minute(k.rpm),
            per_minute(k.tpm),
            if k.allowed_models.is_empty() {
                "all".to_owned()
            } else {
                k.allowed_models.join(",")
            }
        );
    }
    Ok(())
}

pub async fn usage(args: UsageArgs) -> Result<(), Failure> {
    let from = args
        .hours
        .map(|h| switchyard_store::now_ms() - (h * 3_600_000.0) as i64);
    if let Some(admin) = args.store.admin()? {
        let mut query = Vec::new();
        query.extend(from.map(|f| ("from", f.to_string())));
        query.extend(args.key.clone().map(|k| ("key_id", k)));
        query.extend(args.tenant.clone().map(|t| ("tenant_id", t)));
        query.extend(args.model.clone().map(|m| ("model", m)));
        let answer = admin.usage(&query, args.csv).await?;
        match answer.as_str() {
            Some(csv) => print!("{csv}"),
            None => {
                let t = &answer["totals"];
                println!("requests:       {}", t["requests"]);
                println!("input tokens:   {}", t["input_tokens"]);
                println!("output tokens:  {}", t["output_tokens"]);
                println!("cached tokens:  {}", t["cached_tokens"]);
                println!("cost (USD):     {}", t["cost_usd"].as_str().unwrap_or("?"));
            }
        }
        return Ok(());
    }
    let store = open(&args.store).await?;
    let tenant_in = match &args.tenant {
        None => Vec::new(),
        Some(id) => crate::tenants::family(&store, id).await?,
    };
    let filter = LedgerFilter {
        from,
        key_id: args.key.clone(),
        model: args.model.clone(),
        tenant_in,
        ..LedgerFilter::default()
    };
    let result = if args.csv {
        store
            .usage_rows(&filter, i64::MAX)
            .await
            .map(|rows| print!("{}", report::csv(&rows)))
    } else {
        store.usage_totals(&filter).await.map(|t| {
            println!("requests:       {}", t.requests);
            println!("input tokens:   {}", t.input_tokens);
            println!("output tokens:  {}", t.output_tokens);
            println!("cached tokens:  {}", t.cached_tokens);
            println!("cost (USD):     {}", dollars(t.cost_nano_usd));
        })
    };
    store.close().await;
    result.map_err(|e| Failure::failed(e.to_string()))
}
