//! The audit log's spool: each record of this process's lane is appended to a local file
//! (one `write`, no fsync) the moment it takes its position, before the answer that carries
//! its receipt goes out. A process killed before its queue reached the store (`kill -9`, OOM)
//! therefore loses no record: the operating system keeps what was written, and the next
//! process on the machine replays the file into that lane (positions already there are
//! skipped) and signs the lane's head. The file is emptied whenever everything in it is in
//! the store, and removed after a clean shutdown.
//!
//! One file per lane, `audit-lane-<lane>.jsonl` in the spool folder, held under an exclusive
//! lock by the process writing it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use switchyard_store::audit::{CheckpointEvery, Entry, Signer};
use switchyard_store::{Store, StoreError};

/// The file is emptied once everything in it is stored and it has grown past this.
const EMPTY_PAST_BYTES: u64 = 1 << 20;

pub struct AuditSpool {
    path: PathBuf,
    file: File,
    bytes: u64,
}

impl AuditSpool {
    /// Opens (and locks) the spool file of `lane` in `dir`.
    pub fn open(dir: &Path, lane: i64) -> std::io::Result<AuditSpool> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("audit-lane-{lane}.jsonl"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.try_lock().map_err(std::io::Error::other)?;
        Ok(AuditSpool {
            path,
            file,
            bytes: 0,
        })
    }

    /// Appends one record.
    pub fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = json!({
            "seq": entry.seq, "at": entry.at, "kind": entry.kind, "ref_id": entry.ref_id,
            "record": entry.record,
        })
        .to_string();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Everything appended so far is in the store: empty the file once it is large.
    pub fn all_stored(&mut self) {
        if self.bytes >= EMPTY_PAST_BYTES && self.file.set_len(0).is_ok() {
            self.bytes = 0;
        }
    }

    /// A clean shutdown stored every record: the file goes.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Replays the lane files no live process holds into their lanes (signing each lane's head
/// with `signer`), then deletes them. Returns the number of records read.
pub async fn replay(
    dir: &Path,
    store: &Store,
    signer: Option<&Signer>,
    every: CheckpointEvery,
) -> Result<usize, StoreError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut total = 0;
    for dir_entry in entries.flatten() {
        let path = dir_entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(lane) = name
            .strip_prefix("audit-lane-")
            .and_then(|rest| rest.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // Held by a live process: its records are on their way.
        if file.try_lock().is_err() {
            continue;
        }
        // A line cut short by the kill is not JSON: everything before it is kept.
        let records: Vec<Entry> = BufReader::new(&file)
            .lines()
            .map_while(Result::ok)
            .map_while(|line| serde_json::from_str::<Value>(&line).ok())
            .map_while(|v| from_json(&v))
            .collect();
        for chunk in records.chunks(256) {
            store.append_audit(lane, chunk, signer, every).await?;
        }
        total += records.len();
        let _ = std::fs::remove_file(&path);
        if !records.is_empty() {
            tracing::info!(
                lane,
                records = records.len(),
                "replayed audit records left by a stopped process"
            );
        }
    }
    Ok(total)
}

fn from_json(v: &Value) -> Option<Entry> {
    Some(Entry {
        at: v["at"].as_i64()?,
        kind: v["kind"].as_str()?.to_owned(),
        ref_id: v["ref_id"].as_str()?.to_owned(),
        record: v["record"].as_str()?.to_owned(),
        seq: Some(v["seq"].as_i64()?),
    })
}
