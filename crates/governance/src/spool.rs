//! The spool: what a request leaves behind (its usage row and its audit record, on one line)
//! is appended to a local file (one `write`, no fsync) before the request's last byte goes
//! out, so a process that is killed (`kill -9`, OOM) loses no row of a delivered answer and
//! no record a receipt names: the operating system keeps what was written. Rows and records
//! reach the database through their queues as usual; a segment file is deleted once every
//! row and record in it is committed. At start, segments left by dead processes (their lock
//! is free) are replayed into the store (rows it already has and records at positions
//! already written are skipped) and deleted.
//!
//! A segment is `ledger-<pid>-<n>.jsonl` in the spool folder, held under an exclusive file
//! lock by the process writing it; a new segment starts past [`SEGMENT_BYTES`]. A line is a
//! usage row's fields, an `audit` object (lane, position and the record), or both.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;
use switchyard_store::audit::{CheckpointEvery, Entry, Signer};
use switchyard_store::ledger::LedgerRow;
use switchyard_store::{Store, StoreError};

/// A segment grows to about this size before the next one starts. Under steady load the
/// current segment always holds a line still waiting (records wait up to 50 ms for their
/// batch), so it is never emptied in place: small segments are deleted soon after they
/// fill, and the few pages they use stay warm instead of a long file growing through cold
/// memory.
const SEGMENT_BYTES: u64 = 1024 * 1024;
/// Rows or records per store call when replaying.
const REPLAY_CHUNK: usize = 512;

struct Segment {
    path: PathBuf,
    file: File,
    bytes: u64,
    /// Sequence number of the last line appended to it.
    last: u64,
}

struct Inner {
    current: Segment,
    /// Full segments waiting for their lines to be committed.
    sealed: Vec<Segment>,
    /// For each line from `base` on, how many of its parts (row, record) still wait for
    /// their commit. Lines are numbered from 1.
    waiting: VecDeque<u8>,
    /// The line `waiting[0]` stands for; every line before it is committed.
    base: u64,
    next_index: u64,
}

pub struct Spool {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

/// An audit record as a spool line holds it: its lane and the entry (with its position).
#[derive(serde::Serialize)]
struct AuditOut<'a> {
    lane: i64,
    seq: Option<i64>,
    at: i64,
    kind: &'a str,
    ref_id: &'a str,
    record: &'a str,
}

#[derive(serde::Deserialize)]
struct AuditIn {
    lane: i64,
    seq: i64,
    at: i64,
    kind: String,
    ref_id: String,
    record: String,
}

#[derive(serde::Serialize)]
struct LineOut<'a> {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    usage: Option<&'a LedgerRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit: Option<AuditOut<'a>>,
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
                waiting: VecDeque::new(),
                base: 1,
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

    /// Appends one line holding a usage row, an audit record of `lane`, or both; returns its
    /// sequence number. Each part is later reported committed with [`Spool::done`].
    pub fn append(
        &self,
        usage: Option<&LedgerRow>,
        audit: Option<(i64, &Entry)>,
    ) -> std::io::Result<u64> {
        let parts = u8::from(usage.is_some()) + u8::from(audit.is_some());
        let line = LineOut {
            usage,
            audit: audit.map(|(lane, entry)| AuditOut {
                lane,
                seq: entry.seq,
                at: entry.at,
                kind: &entry.kind,
                ref_id: &entry.ref_id,
                record: &entry.record,
            }),
        };
        let mut bytes = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        let mut inner = self.lock();
        if inner.current.bytes >= SEGMENT_BYTES {
            let index = inner.next_index;
            inner.next_index += 1;
            let fresh = open_segment(&self.dir, index)?;
            let full = std::mem::replace(&mut inner.current, fresh);
            inner.sealed.push(full);
        }
        inner.current.file.write_all(&bytes)?;
        let seq = inner.base + inner.waiting.len() as u64;
        inner.waiting.push_back(parts);
        inner.current.bytes += bytes.len() as u64;
        inner.current.last = seq;
        Ok(seq)
    }

    /// One part of each of these lines is in the store (0: a part that was not spooled).
    /// Segments that hold only committed lines are deleted, and the current one emptied when
    /// it holds nothing newer.
    pub fn done(&self, seqs: impl IntoIterator<Item = u64>) {
        let mut inner = self.lock();
        let base = inner.base;
        for seq in seqs {
            if seq < base {
                continue;
            }
            if let Some(parts) = usize::try_from(seq - base)
                .ok()
                .and_then(|i| inner.waiting.get_mut(i))
            {
                *parts = parts.saturating_sub(1);
            }
        }
        while inner.waiting.front() == Some(&0) {
            inner.waiting.pop_front();
            inner.base += 1;
        }
        let committed = inner.base - 1;
        inner.sealed.retain(|segment| {
            if segment.last <= committed {
                let _ = std::fs::remove_file(&segment.path);
                false
            } else {
                true
            }
        });
        if inner.current.last <= committed
            && inner.current.bytes > 0
            && inner.current.file.set_len(0).is_ok()
        {
            inner.current.bytes = 0;
        }
    }

    /// Whether every line appended so far is committed.
    pub fn drained(&self) -> bool {
        self.lock().waiting.is_empty()
    }

    /// Removes this process's segments (after a clean shutdown wrote every line).
    pub fn close(&self) {
        let inner = self.lock();
        for segment in inner.sealed.iter().chain(std::iter::once(&inner.current)) {
            let _ = std::fs::remove_file(&segment.path);
        }
    }
}

/// What [`replay`] put back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Usage rows read (rows the store already had are skipped by it).
    pub rows: usize,
    /// Audit records appended (those already written are skipped).
    pub records: usize,
    /// Positions no line held, filled with a record saying so, so that the records after
    /// them (which receipts may name) chain on.
    pub gaps: usize,
}

/// Replays segments no live process holds into the store, then deletes them: usage rows,
/// and audit records appended to their lanes in order (a stopped process's lane has no other
/// writer), the lane's head signed with `signer`.
pub async fn replay(
    dir: &Path,
    store: &Store,
    signer: Option<&Signer>,
    every: CheckpointEvery,
) -> Result<Replayed, StoreError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Replayed::default());
    };
    // Every free segment is read (and kept locked) first: a lane's records may span several.
    let mut segments = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("ledger-") && name.ends_with(".jsonl")) {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // Held by a live process: its rows and records are on their way.
        if file.try_lock().is_err() {
            continue;
        }
        let lines = read_lines(&file);
        segments.push((path, file, lines));
    }
    // A lane this store does not have (every lane starts with its opening) means the spool
    // was left by a process writing to another store: those segments are kept aside whole,
    // neither their rows nor their records grafted onto this store.
    let mut ends = BTreeMap::new();
    for (_, _, lines) in &segments {
        for (lane, _) in &lines.records {
            if !ends.contains_key(lane) {
                ends.insert(*lane, store.audit_lane_end(*lane).await?);
            }
        }
    }
    let mut replayed = Replayed::default();
    let mut lanes: BTreeMap<i64, BTreeMap<i64, Entry>> = BTreeMap::new();
    let mut replayed_files = Vec::new();
    for (path, file, lines) in segments {
        if lines
            .records
            .iter()
            .any(|(lane, _)| ends.get(lane) == Some(&0))
        {
            tracing::error!(
                file = %path.display(),
                "the spool holds audit records of a lane this store does not have (left by a process on another store); kept aside as *.unreplayed"
            );
            let _ = std::fs::rename(&path, path.with_extension("jsonl.unreplayed"));
            continue;
        }
        for chunk in lines.rows.chunks(REPLAY_CHUNK) {
            store.append_usage(chunk).await?;
        }
        replayed.rows += lines.rows.len();
        for (lane, entry) in lines.records {
            if let Some(seq) = entry.seq {
                lanes.entry(lane).or_default().insert(seq, entry);
            }
        }
        replayed_files.push((path, file));
    }
    for (lane, records) in lanes {
        let end = ends.get(&lane).copied().unwrap_or(0);
        let (entries, gaps) = continuation(lane, end, records);
        for chunk in entries.chunks(REPLAY_CHUNK) {
            store.append_audit(lane, chunk, signer, every).await?;
        }
        replayed.records += entries.len() - gaps;
        replayed.gaps += gaps;
    }
    for (path, _file) in &replayed_files {
        let _ = std::fs::remove_file(path);
    }
    if !replayed_files.is_empty() {
        tracing::info!(
            rows = replayed.rows,
            audit_records = replayed.records,
            gaps = replayed.gaps,
            files = replayed_files.len(),
            "replayed what a stopped process left in the spool"
        );
    }
    Ok(replayed)
}

/// What one segment holds.
#[derive(Default)]
struct Lines {
    rows: Vec<LedgerRow>,
    /// (lane, record).
    records: Vec<(i64, Entry)>,
}

fn read_lines(file: &File) -> Lines {
    let mut lines = Lines::default();
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        // A torn last line (the process died in its write) is skipped.
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(audit) = value
            .get("audit")
            .and_then(|a| serde_json::from_value::<AuditIn>(a.clone()).ok())
        {
            lines.records.push((
                audit.lane,
                Entry {
                    at: audit.at,
                    kind: audit.kind,
                    ref_id: audit.ref_id,
                    record: audit.record,
                    seq: Some(audit.seq),
                },
            ));
        }
        if let Ok(row) = serde_json::from_value::<LedgerRow>(value) {
            lines.rows.push(row);
        }
    }
    lines
}

/// The records to append to `lane` after its last written position `end`, in order, with a
/// gap record for each position between them that no line held; and the number of gaps.
fn continuation(lane: i64, end: i64, records: BTreeMap<i64, Entry>) -> (Vec<Entry>, usize) {
    let now = switchyard_store::now_ms();
    let mut out = Vec::new();
    let mut gaps = 0;
    let mut next = end + 1;
    for (seq, entry) in records.into_iter().filter(|(seq, _)| *seq > end) {
        while next < seq {
            out.push(gap(lane, next, now));
            gaps += 1;
            next += 1;
        }
        out.push(entry);
        next += 1;
    }
    (out, gaps)
}

/// The record standing for position `seq` of `lane`, lost when its process stopped.
fn gap(lane: i64, seq: i64, at: i64) -> Entry {
    let record = serde_json::json!({
        "kind": "gap", "lane": lane, "position": seq, "at": at,
        "why": "the process writing this lane stopped before this record reached its spool",
    });
    Entry {
        at,
        kind: "gap".into(),
        ref_id: format!("lane-{lane}-{seq}"),
        record: record.to_string(),
        seq: Some(seq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_store::audit::verify;
    use switchyard_store::ledger::LedgerFilter;

    const EVERY: CheckpointEvery = CheckpointEvery {
        records: 1_000,
        millis: 300_000,
    };
    const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

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

    fn record(lane: i64, seq: i64) -> Entry {
        Entry {
            at: seq,
            kind: "request".into(),
            ref_id: format!("req_{seq}"),
            record: format!(
                "{{\"request_id\":\"req_{seq}\",\"chain\":{{\"lane\":{lane},\"position\":{seq}}}}}"
            ),
            seq: Some(seq),
        }
    }

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!(
            "sy-spool-{:016x}-{:08x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            std::process::id()
        ))
    }

    #[tokio::test]
    async fn rows_of_a_dead_writer_are_replayed_once_and_a_live_writers_are_left() {
        let dir = dir();
        let spool = Spool::open(&dir).unwrap();
        for i in 0..10 {
            spool.append(Some(&row(i)), None).unwrap();
        }
        let store = Store::open("sqlite::memory:").await.unwrap();
        // Alive (its lock is held): nothing is taken.
        assert_eq!(replay(&dir, &store, None, EVERY).await.unwrap().rows, 0);
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
        assert_eq!(replay(&dir, &store, None, EVERY).await.unwrap().rows, 10);
        let totals = store.usage_totals(&LedgerFilter::default()).await.unwrap();
        assert_eq!(totals.requests, 10, "no row lost, none twice");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "replayed files are gone"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A killed writer's lane goes on where the store stopped: records already written are
    /// skipped, the spooled ones follow in position order (whatever their order on disk), a
    /// position no line holds becomes a gap record, and the whole lane verifies under a
    /// signed head.
    #[tokio::test]
    async fn records_of_a_dead_writer_continue_its_lane_and_verify() {
        let dir = dir();
        let store = Store::open("sqlite::memory:").await.unwrap();
        let signer = Signer::from_base64(SEED).unwrap();
        let lane = store
            .open_audit_lane("test", Some(&signer), EVERY)
            .await
            .unwrap();
        // Positions 2 and 3 reached the store before the kill.
        store
            .append_audit(
                lane,
                &[record(lane, 2), record(lane, 3)],
                Some(&signer),
                EVERY,
            )
            .await
            .unwrap();
        let spool = Spool::open(&dir).unwrap();
        for seq in [3, 5, 4, 7] {
            spool
                .append(Some(&row(seq as usize)), Some((lane, &record(lane, seq))))
                .unwrap();
        }
        drop(spool);
        let replayed = replay(&dir, &store, Some(&signer), EVERY).await.unwrap();
        assert_eq!((replayed.rows, replayed.records, replayed.gaps), (4, 3, 1));
        let records = store.audit_records((lane, 1), 100).await.unwrap();
        let kinds: Vec<(i64, &str)> = records.iter().map(|r| (r.seq, r.kind.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (1, "lane"),
                (2, "request"),
                (3, "request"),
                (4, "request"),
                (5, "request"),
                (6, "gap"),
                (7, "request")
            ]
        );
        assert_eq!(records[6].record, record(lane, 7).record);
        let verdict = verify(
            &records,
            &store.audit_checkpoints().await.unwrap(),
            &store.audit_heads().await.unwrap(),
            &store.audit_lanes().await.unwrap(),
            &[signer.public_key().as_str()],
        );
        assert!(verdict.ok(), "{verdict:?}");
        assert_eq!(
            verdict.head(lane),
            Some(7),
            "the head signs the replayed end"
        );
        // A second replay finds nothing left.
        assert_eq!(
            replay(&dir, &store, None, EVERY).await.unwrap(),
            Replayed::default()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Records of a lane the store does not have (the spool of a process on another store)
    /// are not grafted on: the files are kept aside, the store's log and ledger untouched.
    #[tokio::test]
    async fn records_of_a_lane_from_another_store_are_kept_aside() {
        let dir = dir();
        let store = Store::open("sqlite::memory:").await.unwrap();
        let spool = Spool::open(&dir).unwrap();
        spool
            .append(Some(&row(1)), Some((9, &record(9, 2))))
            .unwrap();
        drop(spool);
        let replayed = replay(&dir, &store, None, EVERY).await.unwrap();
        assert_eq!(replayed, Replayed::default());
        assert!(store.audit_records((0, 0), 10).await.unwrap().is_empty());
        let totals = store.usage_totals(&LedgerFilter::default()).await.unwrap();
        assert_eq!(totals.requests, 0, "its rows are not taken either");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| n.ends_with(".jsonl.unreplayed")),
            "{names:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Full segments are deleted once every line in them is committed, while the current
    /// one still holds a line waiting.
    #[test]
    fn full_segments_go_once_their_lines_are_committed() {
        let dir = dir();
        let spool = Spool::open(&dir).unwrap();
        let mut seqs = Vec::new();
        while spool.lock().sealed.len() < 2 {
            seqs.push(
                spool
                    .append(Some(&row(seqs.len())), Some((1, &record(1, 2))))
                    .unwrap(),
            );
        }
        let files = || std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files(), 3);
        let last = seqs.pop().unwrap();
        spool.done(seqs.iter().chain(seqs.iter()).copied());
        assert_eq!(files(), 1, "only the current segment is left");
        assert!(
            spool.lock().current.bytes > 0,
            "it still holds the last line"
        );
        spool.done([last, last]);
        assert!(spool.drained());
        assert_eq!(spool.lock().current.bytes, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A line with a row and a record leaves the spool only when both are committed.
    #[test]
    fn a_line_leaves_the_spool_when_all_its_parts_are_committed() {
        let dir = dir();
        let spool = Spool::open(&dir).unwrap();
        let both = spool
            .append(Some(&row(0)), Some((1, &record(1, 2))))
            .unwrap();
        let alone = spool.append(Some(&row(1)), None).unwrap();
        spool.done([alone]);
        assert!(spool.lock().current.bytes > 0, "the first line still waits");
        spool.done([both]);
        assert!(spool.lock().current.bytes > 0, "its record still waits");
        assert!(!spool.drained());
        spool.done([both, 0]);
        assert_eq!(spool.lock().current.bytes, 0);
        assert!(spool.drained());
        spool.close();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
