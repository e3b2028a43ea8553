//! The audit log's writer: this process's own lane of the log, opened at start. Requests,
//! admin actions and config reloads take the lane's next position (known at once, so a
//! receipt can name it), hand their record to a queue and go on (appending is off the
//! request path); one task appends them in order, in batches (gathered for up to 50 ms),
//! signing the lane's head and, every N records or minutes, a checkpoint. A failed append is
//! retried with backoff, never dropped; on shutdown the queue is drained. The queue is
//! bounded (`[audit] queue`): while it is full, new requests are refused (the default) or
//! served without a record (`when_full = "serve"`, counted).
//!
//! With a [`Spool`], each record is also appended to the local spool as it is queued (a
//! request's on the same line as its usage row), before its receipt is handed out: a killed
//! process's records are appended to its lane at the next start, so every receipt a client
//! received verifies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_store::audit::{CheckpointEvery, Entry, Position, Signer};
use switchyard_store::ledger::LedgerRow;
use switchyard_store::{Store, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::spool::Spool;

/// The environment variable holding the audit signing key (base64 of an Ed25519 seed).
pub const KEY_ENV: &str = "SWITCHYARD_AUDIT_KEY";

/// Records per append transaction.
const BATCH: usize = 256;
/// How long a batch may wait for more records.
const LINGER: Duration = Duration::from_millis(50);

/// The default checkpoint interval: 1,000 records or 5 minutes.
pub const EVERY: CheckpointEvery = CheckpointEvery {
    records: 1_000,
    millis: 300_000,
};

pub struct AuditWriter {
    tail: Mutex<Tail>,
    task: Mutex<Option<JoinHandle<()>>>,
    signer: Arc<Mutex<Option<Arc<Signer>>>>,
    stats: Arc<Stats>,
    spool: Option<Arc<Spool>>,
}

/// A record and the spool line holding it (0: not spooled).
type Queued = (u64, Entry);

/// The lane, its next free position, and the queue: one lock, so positions are handed out
/// in the order records enter the queue.
struct Tail {
    lane: i64,
    next: i64,
    sender: Option<mpsc::UnboundedSender<Queued>>,
}

#[derive(Default)]
struct Stats {
    queued: AtomicU64,
    written: AtomicU64,
    /// Records not queued because the queue was full (`serve` when full).
    dropped: AtomicU64,
    /// The most records waiting at once (`[audit] queue`).
    capacity: AtomicU64,
    /// When full: serve without a record (true), or refuse new requests (false).
    serve_when_full: std::sync::atomic::AtomicBool,
}

/// The default bound on records waiting to be written.
pub const QUEUE: u64 = 100_000;

impl AuditWriter {
    /// Opens this process's lane (`opened_by`: which process) and starts its writer; with a
    /// spool, every record is spooled before its position is handed out.
    pub async fn open(
        store: Store,
        every: CheckpointEvery,
        opened_by: &str,
        spool: Option<Arc<Spool>>,
    ) -> Result<AuditWriter, StoreError> {
        let lane = store.open_audit_lane(opened_by, None, every).await?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let signer = Arc::new(Mutex::new(None));
        let stats = Arc::new(Stats::default());
        stats.capacity.store(QUEUE, Ordering::Relaxed);
        let task = tokio::spawn(write_loop(
            store,
            lane,
            receiver,
            signer.clone(),
            every,
            stats.clone(),
            spool.clone(),
        ));
        Ok(AuditWriter {
            // Position 1 is the lane's opening.
            tail: Mutex::new(Tail {
                lane,
                next: 2,
                sender: Some(sender),
            }),
            task: Mutex::new(Some(task)),
            signer,
            stats,
            spool,
        })
    }

    /// This writer's lane.
    pub fn lane(&self) -> i64 {
        self.lock_tail(|tail| tail.lane)
    }

    fn lock_tail<T>(&self, f: impl FnOnce(&mut Tail) -> T) -> T {
        match self.tail.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Signs heads and checkpoints from now on.
    pub fn set_signer(&self, signer: Signer) {
        let mut guard = match self.signer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *guard = Some(Arc::new(signer));
    }

    /// The signing key's public half, when there is one.
    pub fn public_key(&self) -> Option<String> {
        let guard = match self.signer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.as_ref().map(|s| s.public_key())
    }

    /// Bounds the queue at `capacity` records waiting; when it is full, `serve_when_full`
    /// says whether records are dropped (and counted) or new requests refused
    /// ([`AuditWriter::refuses`]).
    pub fn set_limits(&self, capacity: u64, serve_when_full: bool) {
        self.stats
            .capacity
            .store(capacity.max(1), Ordering::Relaxed);
        self.stats
            .serve_when_full
            .store(serve_when_full, Ordering::Relaxed);
    }

    /// Records queued and not yet written.
    pub fn pending(&self) -> u64 {
        self.queued().saturating_sub(self.written())
    }

    fn is_full(&self) -> bool {
        self.pending() >= self.stats.capacity.load(Ordering::Relaxed)
    }

    /// Whether a new request must be refused now: the queue is full and the policy is to
    /// refuse rather than serve unrecorded. The queue then grows by no more than the records
    /// of requests already in flight.
    pub fn refuses(&self) -> bool {
        !self.stats.serve_when_full.load(Ordering::Relaxed) && self.is_full()
    }

    /// Records dropped because the queue was full (`serve` when full).
    pub fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// Takes the lane's next position, makes the record (`build` gets the position, to
    /// write it into the record) and queues it; never waits. `None`: the log is shut down
    /// and the record is lost (reported).
    pub fn record(
        &self,
        at: i64,
        kind: &str,
        ref_id: &str,
        build: impl FnOnce(Position) -> String,
    ) -> Option<Position> {
        self.record_with(at, kind, ref_id, build, None).0
    }

    /// [`AuditWriter::record`], the record spooled on one line with `usage` (a request's
    /// row, queued to the ledger by the caller); also returns that line (0: not spooled, the
    /// row is not on it).
    pub fn record_with(
        &self,
        at: i64,
        kind: &str,
        ref_id: &str,
        build: impl FnOnce(Position) -> String,
        usage: Option<&LedgerRow>,
    ) -> (Option<Position>, u64) {
        if self.stats.serve_when_full.load(Ordering::Relaxed) && self.is_full() {
            let n = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::error!(
                    dropped = n,
                    "audit queue full: records dropped (audit.when_full = \"serve\")"
                );
            }
            return (None, 0);
        }
        // Position, spool line and queue under one lock: positions enter the queue in order,
        // and no position is handed out before its record is on disk.
        let queued = self.lock_tail(|tail| {
            let sender = tail.sender.as_ref()?;
            let position = Position {
                lane: tail.lane,
                position: tail.next,
            };
            let entry = Entry {
                at,
                kind: kind.to_owned(),
                ref_id: ref_id.to_owned(),
                record: build(position),
                seq: Some(tail.next),
            };
            let line = match &self.spool {
                None => 0,
                Some(spool) => spool.append(usage, Some((tail.lane, &entry))).unwrap_or_else(|err| {
                    tracing::error!(%err, "cannot append an audit record to the spool; it goes to the store only");
                    0
                }),
            };
            if sender.send((line, entry)).is_err() {
                // The writer is gone; the spooled line (if any) is replayed at the next start.
                return None;
            }
            tail.next += 1;
            Some((position, line))
        });
        match queued {
            Some((position, line)) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                (Some(position), line)
            }
            None => {
                tracing::error!(%ref_id, "audit record lost: the audit log is shut down");
                (None, 0)
            }
        }
    }

    /// Records appended so far.
    pub fn written(&self) -> u64 {
        self.stats.written.load(Ordering::Relaxed)
    }

    /// Records queued so far.
    pub fn queued(&self) -> u64 {
        self.stats.queued.load(Ordering::Relaxed)
    }

    /// Waits until every record queued so far is appended (or `limit` passes).
    pub async fn flush(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.written() < self.queued() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Closes the queue and waits until every queued record is appended.
    pub async fn shutdown(&self, limit: Duration) {
        self.lock_tail(|tail| tail.sender = None);
        let task = match self.task.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = task {
            if tokio::time::timeout(limit, task).await.is_err() {
                tracing::error!("audit records still queued at shutdown were not written");
            }
        }
    }
}

async fn write_loop(
    store: Store,
    lane: i64,
    mut receiver: mpsc::UnboundedReceiver<Queued>,
    signer: Arc<Mutex<Option<Arc<Signer>>>>,
    every: CheckpointEvery,
    stats: Arc<Stats>,
    spool: Option<Arc<Spool>>,
) {
    let mut batch: Vec<Queued> = Vec::with_capacity(BATCH);
    let mut entries: Vec<Entry> = Vec::with_capacity(BATCH);
    let mut lines: Vec<u64> = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        // Let a batch gather: one transaction (and one signature) per LINGER, not per record.
        if batch.len() < BATCH {
            tokio::time::sleep(LINGER).await;
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(entry) => batch.push(entry),
                    Err(_) => break,
                }
            }
        }
        let signer = match signer.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for (line, entry) in batch.drain(..) {
            lines.push(line);
            entries.push(entry);
        }
        let mut wait = Duration::from_millis(50);
        loop {
            match store
                .append_audit(lane, &entries, signer.as_deref(), every)
                .await
            {
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(%err, lane, records = entries.len(), "audit append failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        stats
            .written
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        if let Some(spool) = &spool {
            spool.done(lines.drain(..));
        }
        lines.clear();
        entries.clear();
    }
}

/// The signer from the environment: `None` when unset, an error when set but unusable.
pub fn signer_from_env() -> Result<Option<Signer>, String> {
    match std::env::var(KEY_ENV) {
        Ok(value) if !value.trim().is_empty() => Signer::from_base64(&value)
            .map(Some)
            .map_err(|e| format!("{KEY_ENV}: {e}")),
        _ => Ok(None),
    }
}

/// Which process opens a lane: `role`, host and process id (for the lane register).
pub fn process_name(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".to_owned());
    format!(
        "switchyard {} {role} on {host} pid {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    )
}
