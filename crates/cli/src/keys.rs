//! `switchyard keys create|list|revoke` and `switchyard usage`, on the store the config
//! names. A created key's secret is printed once and never stored.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use switchyard_governance::keys::{self, KeySecret};
use switchyard_governance::limits::Period;
use switchyard_store::keys::KeyRow;
use switchyard_store::ledger::LedgerFilter;

use crate::{governed, Failure};

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Config file naming the store (`[store] url`); without one, the default SQLite file
    /// under $SWITCHYARD_HOME.
    #[arg(long, short = 'c', env = "SWITCHYARD_CONFIG")]
    config: Option<PathBuf>,
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

async fn open(args: &StoreArgs) -> Result<switchyard_store::Store, Failure> {
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
            store,
        } => {
            let limits = limits(budget_usd, &budget_period, rpm, tpm)?;
            create(name, models, expires_in_days, metadata, limits, &store).await
        }
        KeysCommand::List { store } => list(&store).await,
        KeysCommand::Revoke { id, store } => {
            let store = open(&store).await?;
            let done = store
                .revoke_key(&id)
                .await
                .map_err(|e| Failure::failed(e.to_string()));
            store.close().await;
            if done? {
                println!("revoked {id}");
                Ok(())
            } else {
                Err(Failure::failed(format!("no key with id or prefix `{id}`")))
            }
        }
    }
}

/// A new key's limits as stored: (budget in nano-dollars, period, rpm, tpm).
type NewLimits = (Option<i64>, Option<String>, Option<i64>, Option<i64>);

fn limits(
    budget_usd: Option<f64>,
    period: &str,
    rpm: Option<u32>,
    tpm: Option<u32>,
) -> Result<NewLimits, Failure> {
    if Period::parse(period).is_none() {
        return Err(Failure::usage(
            "--budget-period must be daily, monthly or total",
        ));
    }
    let budget = match budget_usd {
        None => None,
        Some(usd) if usd.is_finite() && (0.0..=1e9).contains(&usd) => {
            Some((usd * 1e9).round() as i64)
        }
        Some(_) => return Err(Failure::usage("--budget-usd must be between 0 and 1e9")),
    };
    if rpm == Some(0) || tpm == Some(0) {
        return Err(Failure::usage("--rpm and --tpm must be at least 1"));
    }
    Ok((
        budget,
        budget.map(|_| period.to_owned()),
        rpm.map(i64::from),
        tpm.map(i64::from),
    ))
}

async fn create(
    name: String,
    models: Vec<String>,
    expires_in_days: Option<f64>,
    metadata: Option<String>,
    (budget_nano_usd, budget_period, rpm, tpm): NewLimits,
    args: &StoreArgs,
) -> Result<(), Failure> {
    let pepper = governed::required_pepper()?;
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Failure::usage("--name must be 1-200 printable characters"));
    }
    if let Some(meta) = &metadata {
        let value: serde_json::Value = serde_json::from_str(meta)
            .map_err(|e| Failure::usage(format!("--metadata is not JSON: {e}")))?;
        if !value.is_object() {
            return Err(Failure::usage("--metadata must be a JSON object"));
        }
    }
    let now = switchyard_store::now_ms();
    let expires_at = match expires_in_days {
        None => None,
        Some(days) if days.is_finite() && days > 0.0 && days <= 36_500.0 => {
            Some(now + (days * 86_400_000.0) as i64)
        }
        Some(_) => {
            return Err(Failure::usage(
                "--expires-in-days must be between 0 and 36500",
            ))
        }
    };
    let models: Vec<String> = models
        .into_iter()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    let secret = KeySecret::generate().map_err(|e| Failure::failed(e.to_string()))?;
    let row = KeyRow {
        id: keys::new_id("key").map_err(|e| Failure::failed(e.to_string()))?,
        name,
        prefix: secret.display_prefix().to_owned(),
        hash: keys::to_hex(&pepper.hash(secret.expose())),
        tenant_id: None,
        created_at: now,
        expires_at,
        revoked_at: None,
        allowed_models: models,
        metadata,
        updated_at: now,
        budget_nano_usd,
        budget_period,
        rpm,
        tpm,
    };
    let store = open(args).await?;
    let inserted = store.insert_key(&row).await;
    store.close().await;
    inserted.map_err(|e| Failure::failed(e.to_string()))?;
    println!("id:     {}", row.id);
    println!("name:   {}", row.name);
    println!("key:    {}", secret.expose());
    eprintln!("(the key is shown only now; Switchyard keeps only its hash)");
    Ok(())
}

async fn list(args: &StoreArgs) -> Result<(), Failure> {
    let store = open(args).await?;
    let listed = store.list_keys().await;
    store.close().await;
    let rows = listed.map_err(|e| Failure::failed(e.to_string()))?;
    let now = switchyard_store::now_ms();
    println!(
        "{:<21} {:<24} {:<13} {:<8} {:<20} {:<22} {:<8} {:<9} MODELS",
        "ID", "NAME", "PREFIX", "STATUS", "EXPIRES", "BUDGET", "RPM", "TPM"
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
            "{:<21} {:<24} {:<13} {:<8} {:<20} {:<22} {:<8} {:<9} {}",
            k.id,
            k.name,
            k.prefix,
            status,
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
    let store = open(&args.store).await?;
    let filter = LedgerFilter {
        from: args
            .hours
            .map(|h| switchyard_store::now_ms() - (h * 3_600_000.0) as i64),
        key_id: args.key.clone(),
        model: args.model.clone(),
        ..LedgerFilter::default()
    };
    let result = if args.csv {
        store.usage_rows(&filter, i64::MAX).await.map(|rows| {
            println!("request_id,at,tenant_id,key_id,model,deployment,provider,jurisdiction,input_tokens,output_tokens,cached_tokens,cost_usd,latency_ms,status");
            for r in rows {
                println!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    r.request_id,
                    utc(r.at),
                    csv(r.tenant_id.as_deref()),
                    csv(r.key_id.as_deref()),
                    csv(Some(&r.model)),
                    csv(r.deployment.as_deref()),
                    csv(r.provider.as_deref()),
                    csv(r.jurisdiction.as_deref()),
                    r.input_tokens,
                    r.output_tokens,
                    r.cached_tokens,
                    dollars(r.cost_nano_usd),
                    r.latency_ms,
                    r.status
                );
            }
        })
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

/// Exact dollars from nano-dollars.
fn dollars(nano: i64) -> String {
    format!(
        "{}.{:09}",
        nano / 1_000_000_000,
        (nano % 1_000_000_000).abs()
    )
}

/// A CSV field, quoted when it needs to be.
fn csv(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(v) if v.contains([',', '"', '\n', '\r']) => format!("\"{}\"", v.replace('"', "\"\"")),
        Some(v) => v.to_owned(),
    }
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(dollars(1_234_567_891), "1.234567891");
        assert_eq!(dollars(7), "0.000000007");
        assert_eq!(csv(Some("a,b")), "\"a,b\"");
        assert_eq!(csv(Some("say \"hi\"")), "\"say \"\"hi\"\"\"");
    }
}
