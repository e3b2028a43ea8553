//! The ledger's spool: every usage row is appended to a local file (one `write`, no fsync)
//! before its request's last byte goes out, so a process that is killed (`kill -9`, OOM)
//! loses no row of a delivered answer: the operating system keeps what was written. Rows
//! reach the database through the queue as usual; a segment file is deleted once every row
//! in it is committed. At start, segments left by dead processes (their lock is free) are
//! replayed into the store (the store ignores rows it already has) and deleted.
//!
//! A segment is `ledger-<pid>-<n>.jsonl` in the spool folder, held under an exclusive file
//! lock by the process writing it; a new segment starts past [`SEGMENT_BYTES`].

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Value};
use switchyard_store::ledger::LedgerRow;
use switchyard_store::{Store, StoreError};

/// A segment grows to about this size before the next one starts.
const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

struct Segment {
    path: PathBuf,
    file: File,
    bytes: u64,
    /// Sequence number of the last row appended to it.
    last: u64,
}

struct Inner {
    current: Segment,
    /// Full segments waiting for their rows to be committed.
    sealed: Vec<Segment>,
    /// Rows appended so far (sequence numbers start at 1).
    appended: u64,
    next_index: u64,
}

pub struct Spool {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

fn open_segment(dir: &Path, index: u64) -> std::io::Result<Segment> {
    let path = dir.join(format!("ledger-{}-{index}.jsonl", std::process::id()));
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    file.try_lock().map_err(std::io::Error::other)?;
    Ok(Segment {
        path,
        file,
        bytes: 0,
        last: 0,
    })
}

impl Spool {
    /// Opens a fresh segment in `dir` (created if missing).
    pub fn open(dir: &Path) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let current = open_segment(dir, 0)?;
        Ok(Spool {
            dir: dir.to_owned(),
            inner: Mutex::new(Inner {
                current,
                sealed: Vec::new(),
                appended: 0,
                next_index: 1,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(inner) => inner,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Appends a row; returns its sequence number.
    pub fn append(&self, row: &LedgerRow) -> std::io::Result<u64> {
        let mut line = to_json(row).to_string();
        line.push('\n');
        let mut inner = self.lock();
        if inner.current.bytes >= SEGMENT_BYTES {
            let index = inner.next_index;
            inner.next_index += 1;
            let fresh = open_segment(&self.dir, index)?;
            let full = std::mem::replace(&mut inner.current, fresh);
            inner.sealed.push(full);
        }
        inner.current.file.write_all(line.as_bytes())?;
        inner.appended += 1;
        let seq = inner.appended;
        inner.current.bytes += line.len() as u64;
        inner.current.last = seq;
        Ok(seq)
    }

    /// Every row up to `seq` is in the store: drop the segments that hold only such rows,
    /// and empty the current one if it holds nothing newer.
    pub fn committed(&self, seq: u64) {
        let mut inner = self.lock();
        inner.sealed.retain(|segment| {
            if segment.last <= seq {
                let _ = std::fs::remove_file(&segment.path);
                false
            } else {
                true
            }
        });
        if inner.current.last <= seq
            && inner.current.bytes > 0
            && inner.current.file.set_len(0).is_ok()
        {
            inner.current.bytes = 0;
        }
    }

    /// Removes this process's segments (after a clean shutdown wrote every row).
    pub fn close(&self) {
        let inner = self.lock();
        for segment in inner.sealed.iter().chain(std::iter::once(&inner.current)) {
            let _ = std::fs::remove_file(&segment.path);
        }
    }
}

/// Replays segments no live process holds into the store, then deletes them. Returns the
/// number of rows read (rows the store already had are skipped by it).
pub async fn replay(dir: &Path, store: &Store) -> Result<usize, StoreError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("ledger-") && name.ends_with(".jsonl")) {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // Held by a live process: its rows are on their way.
        if file.try_lock().is_err() {
            continue;
        }
        let rows: Vec<LedgerRow> = BufReader::new(&file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
            .filter_map(|value| from_json(&value))
            .collect();
        for chunk in rows.chunks(512) {
            store.append_usage(chunk).await?;
        }
        total += rows.len();
        let _ = std::fs::remove_file(&path);
        tracing::info!(rows = rows.len(), file = %path.display(), "replayed usage rows left by a stopped process");
    }
    Ok(total)
}

fn to_json(r: &LedgerRow) -> Value {
    json!({
        "request_id": r.request_id, "at": r.at, "tenant_id": r.tenant_id, "key_id": r.key_id,
        "model": r.model, "deployment": r.deployment, "provider": r.provider,
        "jurisdiction": r.jurisdiction, "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens, "cached_tokens": r.cached_tokens,
        "cost_nano_usd": r.cost_nano_usd, "latency_ms": r.latency_ms, "status": r.status,
    })
}

fn from_json(v: &Value) -> Option<LedgerRow> {
    let text = |name: &str| v[name].as_str().map(str::to_owned);
    let int = |name: &str| v[name].as_i64();
    Some(LedgerRow {
        request_id: text("request_id")?,
        at: int("at")?,
        tenant_id: text("tenant_id"),
        key_id: text("key_id"),
        model: text("model")?,
        deployment: text("deployment"),
        provider: text("provider"),
        jurisdiction: text("jurisdiction"),
        input_tokens: int("input_tokens")?,
        output_tokens: int("output_tokens")?,
        cached_tokens: int("cached_tokens")?,
        cost_nano_usd: int("cost_nano_usd")?,
        latency_ms: int("latency_ms")?,
        status: i32::try_from(int("status")?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_store::ledger::LedgerFilter;

    fn row(i: usize) -> LedgerRow {
        LedgerRow {
            request_id: format!("req_{i}"),
            at: i as i64,
            key_id: Some("k".into()),
            model: "chat".into(),
            cost_nano_usd: 100,
            status: 200,
            ..LedgerRow::default()
        }
    }

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("sy-spool-{:016x}", fastrand_like()))
    }

    fn fastrand_like() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn rows_of_a_dead_writer_are_replayed_once_and_a_live_writers_are_left() {
        let dir = dir();
        let spool = Spool::open(&dir).unwrap();
        for i in 0..10 {
            spool.append(&row(i)).unwrap();
        }
        let store = Store::open("sqlite::memory:").await.unwrap();
        // Alive (its lock is held): nothing is taken.
        assert_eq!(replay(&dir, &store).await.unwrap(), 0);
        // Three rows were already committed before the "crash".
        store.append_usage(&[row(0), row(1), row(2)]).await.unwrap();
        // A torn last line, as a kill in the middle of a write leaves.
        {
            let mut inner = spool.lock();
            inner
                .current
                .file
                .write_all(b"{\"request_id\":\"req_torn\",\"at\"")
                .unwrap();
        }
        drop(spool); // the process dies: its lock goes with it
        assert_eq!(replay(&dir, &store).await.unwrap(), 10);
        let totals = store.usage_totals(&LedgerFilter::default()).await.unwrap();
        assert_eq!(totals.requests, 10, "no row lost, none twice");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "replayed files are gone"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn committed_rows_leave_the_spool() {
        let dir = dir();
        let spool = Spool::open(&dir).unwrap();
        let last = (0..5)
            .map(|i| spool.append(&row(i)).unwrap())
            .last()
            .unwrap();
        spool.committed(last - 1);
        assert!(spool.lock().current.bytes > 0, "one row still waits");
        spool.committed(last);
        assert_eq!(spool.lock().current.bytes, 0);
        spool.close();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
