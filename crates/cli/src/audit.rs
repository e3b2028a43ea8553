//! `switchyard audit verify|keygen`, `switchyard receipt verify`, and the audit records of
//! changes the CLI makes on the store directly (through `--admin-url` the server records
//! them).

use base64::Engine as _;
use clap::Subcommand;
use serde_json::{json, Value};
use switchyard_governance::audit::{process_name, signer_from_env, EVERY, KEY_ENV};
use switchyard_store::audit::{verify, Entry, Position, Record, Signer};
use switchyard_store::Store;

use crate::keys::StoreArgs;
use crate::Failure;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole audit log: every record's hash from the one before, no position
    /// missing, every checkpoint and the head signed by the audit key. Names the first bad
    /// record; exits 1 when there is one.
    Verify {
        /// An audit public key (base64) to trust; repeat it to trust a rotated key's
        /// predecessors too. Default: derived from SWITCHYARD_AUDIT_KEY.
        #[arg(long)]
        public_key: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make a new audit signing key: set the first line as SWITCHYARD_AUDIT_KEY on every
    /// replica; keep the public key to verify with.
    Keygen,
}

#[derive(Subcommand, Debug)]
pub enum ReceiptCommand {
    /// Check a receipt (the `x-switchyard-receipt` header's value, or `-` to read it from
    /// stdin) against the audit log: its record is there, unchanged, on an intact chain.
    Verify {
        receipt: String,
        /// An audit public key (base64) to trust (repeatable); default: derived from
        /// SWITCHYARD_AUDIT_KEY.
        #[arg(long)]
        public_key: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The keys to trust: those given, else the environment key's public half (empty: none).
fn trusted_keys(given: Vec<String>) -> Result<Vec<String>, Failure> {
    if !given.is_empty() {
        return Ok(given);
    }
    Ok(signer_from_env()
        .map_err(Failure::usage)?
        .map(|s| s.public_key())
        .into_iter()
        .collect())
}

/// Reads the whole log and checks it.
async fn check(
    store: &Store,
    public_keys: &[String],
) -> Result<switchyard_store::audit::Verdict, Failure> {
    let failed = |e: switchyard_store::StoreError| Failure::failed(e.to_string());
    let mut records: Vec<Record> = Vec::new();
    loop {
        let from = records
            .last()
            .map_or((i64::MIN, 0), |r| (r.lane, r.seq + 1));
        let page = store.audit_records(from, 10_000).await.map_err(failed)?;
        let done = page.len() < 10_000;
        records.extend(page);
        if done {
            break;
        }
    }
    let checkpoints = store.audit_checkpoints().await.map_err(failed)?;
    let heads = store.audit_heads().await.map_err(failed)?;
    let lanes = store.audit_lanes().await.map_err(failed)?;
    let keys: Vec<&str> = public_keys.iter().map(String::as_str).collect();
    Ok(verify(&records, &checkpoints, &heads, &lanes, &keys))
}

pub async fn run(command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Keygen => {
            let (seed, public) = Signer::generate().map_err(|e| Failure::failed(e.to_string()))?;
            // A closed pipe (`| head -1`) is not an error worth a panic.
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{KEY_ENV}={seed}");
            let _ = writeln!(out, "public key: {public}");
            eprintln!(
                "(the first line is secret: it signs the audit log; the public key verifies it)"
            );
            Ok(())
        }
        AuditCommand::Verify { public_key, store } => {
            let keys = trusted_keys(public_key)?;
            let store = crate::keys::open(&store).await?;
            let result = check(&store, &keys).await;
            store.close().await;
            let verdict = result?;
            if keys.is_empty() {
                eprintln!("warning: no --public-key and no {KEY_ENV}: signatures are checked against the key stored beside them, which proves the log is whole but not who signed it");
            }
            match &verdict.first_bad {
                None => {
                    println!(
                        "audit log intact: {} records in {} lane(s), {} signed checkpoints, {} lane(s) ending at a signed head{}",
                        verdict.records,
                        verdict.lanes,
                        verdict.checkpoints,
                        verdict.heads.len(),
                        if verdict.heads.len() < verdict.lanes {
                            " (the others were written with no audit key set)"
                        } else {
                            ""
                        }
                    );
                    Ok(())
                }
                Some(bad) => Err(Failure::failed(format!(
                    "audit log BROKEN at lane {} record {}: {}",
                    bad.lane, bad.seq, bad.why
                ))),
            }
        }
    }
}

pub async fn receipt(command: ReceiptCommand) -> Result<(), Failure> {
    let ReceiptCommand::Verify {
        receipt,
        public_key,
        store,
    } = command;
    let text = if receipt == "-" {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(e.to_string()))?;
        line
    } else {
        receipt
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(
            text.trim()
                .trim_start_matches("x-switchyard-receipt:")
                .trim(),
        )
        .map_err(|_| {
            Failure::usage("the receipt is not base64url (the x-switchyard-receipt header's value)")
        })?;
    let record = String::from_utf8(bytes).map_err(|_| Failure::usage("the receipt is not text"))?;
    let parsed: Value =
        serde_json::from_str(&record).map_err(|_| Failure::usage("the receipt is not JSON"))?;
    let request_id = parsed["request_id"]
        .as_str()
        .ok_or_else(|| Failure::usage("the receipt names no request_id"))?
        .to_owned();
    let chain: Option<Position> = serde_json::from_value(parsed["chain"].clone()).ok();
    let keys = trusted_keys(public_key)?;
    let store = crate::keys::open(&store).await?;
    let found = match chain {
        Some(at) => store
            .audit_record(at.lane, at.position)
            .await
            .map(|r| r.into_iter().collect::<Vec<_>>()),
        // A receipt from before lanes: found by its request id.
        None => store.audit_for(&request_id).await,
    };
    let checked = check(&store, &keys).await;
    store.close().await;
    let found = found.map_err(|e| Failure::failed(e.to_string()))?;
    let verdict = checked?;
    let Some(entry) = found.iter().find(|r| r.record == record) else {
        return Err(Failure::failed(if found.is_empty() {
            format!("no audit record for {request_id}: the receipt is not in this log (or its record is still queued)")
        } else {
            format!("the audit record of {request_id} differs from this receipt: the receipt was altered")
        }));
    };
    if let Some(bad) = verdict
        .first_bad
        .as_ref()
        .filter(|b| b.lane == entry.lane && b.seq <= entry.seq)
    {
        return Err(Failure::failed(format!(
            "the receipt's record is lane {} record {}, but that lane's chain is broken at record {}: {}",
            entry.lane, entry.seq, bad.seq, bad.why
        )));
    }
    let signed = verdict.head(entry.lane).is_some_and(|h| h >= entry.seq);
    println!(
        "receipt valid: {request_id} is audit lane {} record {}; chain intact up to it{}",
        entry.lane,
        entry.seq,
        if signed {
            ", covered by the lane's signed head"
        } else {
            " (not covered by a signature: no audit key was set)"
        }
    );
    if let Some(bad) = &verdict.first_bad {
        println!(
            "warning: elsewhere the log is broken at lane {} record {}: {}",
            bad.lane, bad.seq, bad.why
        );
    }
    println!(
        "decision: {}, deployment: {}, jurisdiction: {}{}",
        parsed["decision"].as_str().unwrap_or("-"),
        parsed["deployment"].as_str().unwrap_or("-"),
        parsed["jurisdiction"].as_str().unwrap_or("-"),
        parsed["stream"]
            .as_str()
            .map_or(String::new(), |s| format!(", stream {s}")),
    );
    Ok(())
}

/// Records a change the CLI made on the store (`action` on `id`), signed when the audit key
/// is set. A failure to record is reported, not hidden.
pub async fn record_action(store: &Store, action: &str, id: &str) -> Result<(), Failure> {
    let signer = signer_from_env().map_err(Failure::usage)?;
    let at = switchyard_store::now_ms();
    let record = json!({"actor": "cli", "action": action, "status": 200, "created": null, "target": id, "kind": "admin", "at": at});
    let unaudited = |e: switchyard_store::StoreError| {
        Failure::failed(format!("the change was made but could not be audited: {e}"))
    };
    // Each CLI change is its own lane: opening, then the change.
    let lane = store
        .open_audit_lane(&process_name("cli"), signer.as_ref(), EVERY)
        .await
        .map_err(unaudited)?;
    store
        .append_audit(
            lane,
            &[Entry {
                at,
                kind: "admin".into(),
                ref_id: id.to_owned(),
                record: record.to_string(),
                seq: Some(2),
            }],
            signer.as_ref(),
            EVERY,
        )
        .await
        .map(|_| ())
        .map_err(unaudited)
}
