//! `switchyard audit verify|keygen`, `switchyard receipt verify`, and the audit records of
//! changes the CLI makes on the store directly (through `--admin-url` the server records
//! them).

use base64::Engine as _;
use clap::Subcommand;
use serde_json::{json, Value};
use switchyard_governance::audit::{signer_from_env, EVERY, KEY_ENV};
use switchyard_store::audit::{verify, Entry, Signer};
use switchyard_store::Store;

use crate::keys::StoreArgs;
use crate::Failure;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole audit log: every record's hash from the one before, no position
    /// missing, every checkpoint and the head signed by the audit key. Names the first bad
    /// record; exits 1 when there is one.
    Verify {
        /// The audit public key (base64) to trust; default: derived from SWITCHYARD_AUDIT_KEY.
        #[arg(long)]
        public_key: Option<String>,
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
        /// The audit public key (base64) to trust; default: derived from SWITCHYARD_AUDIT_KEY.
        #[arg(long)]
        public_key: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn trusted_key(given: Option<String>) -> Result<Option<String>, Failure> {
    if given.is_some() {
        return Ok(given);
    }
    Ok(signer_from_env()
        .map_err(Failure::usage)?
        .map(|s| s.public_key()))
}

/// Reads the whole chain and checks it; the verdict and the records read.
async fn check(
    store: &Store,
    public_key: Option<&str>,
) -> Result<
    (
        switchyard_store::audit::Verdict,
        Vec<switchyard_store::audit::Record>,
    ),
    Failure,
> {
    let failed = |e: switchyard_store::StoreError| Failure::failed(e.to_string());
    let mut records = Vec::new();
    loop {
        let from = records
            .last()
            .map_or(i64::MIN, |r: &switchyard_store::audit::Record| r.seq + 1);
        let page = store.audit_records(from, 10_000).await.map_err(failed)?;
        let done = page.len() < 10_000;
        records.extend(page);
        if done {
            break;
        }
    }
    let checkpoints = store.audit_checkpoints().await.map_err(failed)?;
    let head = store.audit_head().await.map_err(failed)?;
    Ok((
        verify(&records, &checkpoints, head.as_ref(), public_key),
        records,
    ))
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
            let key = trusted_key(public_key)?;
            let store = crate::keys::open(&store).await?;
            let result = check(&store, key.as_deref()).await;
            store.close().await;
            let (verdict, _) = result?;
            if key.is_none() {
                eprintln!("warning: no --public-key and no {KEY_ENV}: signatures are checked against the key stored beside them, which proves the log is whole but not who signed it");
            }
            match &verdict.first_bad {
                None => {
                    println!(
                        "audit log intact: {} records, {} signed checkpoints, signed head at {}",
                        verdict.records,
                        verdict.checkpoints,
                        verdict
                            .head
                            .map_or("none (no audit key was set)".to_owned(), |h| h.to_string())
                    );
                    Ok(())
                }
                Some((seq, why)) => Err(Failure::failed(format!(
                    "audit log BROKEN at record {seq}: {why}"
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
    let key = trusted_key(public_key)?;
    let store = crate::keys::open(&store).await?;
    let found = store.audit_for(&request_id).await;
    let checked = check(&store, key.as_deref()).await;
    store.close().await;
    let found = found.map_err(|e| Failure::failed(e.to_string()))?;
    let (verdict, _) = checked?;
    let Some(entry) = found.iter().find(|r| r.record == record) else {
        return Err(Failure::failed(if found.is_empty() {
            format!("no audit record for {request_id}: the receipt is not in this log (or its record is still queued)")
        } else {
            format!("the audit record of {request_id} differs from this receipt: the receipt was altered")
        }));
    };
    if let Some((seq, why)) = verdict
        .first_bad
        .as_ref()
        .filter(|(seq, _)| *seq <= entry.seq)
    {
        return Err(Failure::failed(format!(
            "the receipt's record is {}, but the chain up to it is broken at record {seq}: {why}",
            entry.seq
        )));
    }
    let signed = verdict.head.is_some_and(|h| h >= entry.seq);
    println!(
        "receipt valid: {request_id} is audit record {} of {}; chain intact{}",
        entry.seq,
        verdict.records,
        if signed {
            ", covered by the signed head"
        } else {
            " (not covered by a signature: no audit key was set)"
        }
    );
    println!(
        "decision: {}, deployment: {}, jurisdiction: {}",
        parsed["decision"].as_str().unwrap_or("-"),
        parsed["deployment"].as_str().unwrap_or("-"),
        parsed["jurisdiction"].as_str().unwrap_or("-"),
    );
    Ok(())
}

/// Records a change the CLI made on the store (`action` on `id`), signed when the audit key
/// is set. A failure to record is reported, not hidden.
pub async fn record_action(store: &Store, action: &str, id: &str) -> Result<(), Failure> {
    let signer = signer_from_env().map_err(Failure::usage)?;
    let at = switchyard_store::now_ms();
    let record = json!({"actor": "cli", "action": action, "status": 200, "created": null, "target": id, "kind": "admin", "at": at});
    store
        .append_audit(
            &[Entry {
                at,
                kind: "admin".into(),
                ref_id: id.to_owned(),
                record: record.to_string(),
            }],
            signer.as_ref(),
            EVERY,
        )
        .await
        .map(|_| ())
        .map_err(|e| Failure::failed(format!("the change was made but could not be audited: {e}")))
}
