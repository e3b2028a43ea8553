//! The usage ledger's writer: requests hand their row to a bounded queue and go on; one task
//! writes rows to the store in batches (one transaction each). A failed write is retried with
//! backoff, never dropped, and never duplicated (the store ignores a request id it already
//! has). On shutdown the queue is closed and drained before the process exits.
//!
//! With a [`Spool`], each row is first appended to a local file (with its request's audit
//! record, when it has one: [`crate::Governance::record_request`]), so that rows of answers
//! already delivered survive a killed process (replayed at the next start).
//!
//! When the queue is full (the database is slower than the traffic, or down), a row waits in
//! an overflow task instead of being dropped, up to [`OVERFLOW`] rows; beyond that rows are
//! counted as lost and logged loudly, so memory stays bounded during a long outage.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_store::ledger::LedgerRow;
use switchyard_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::spool::Spool;

/// Rows held in the queue.
pub const CAPACITY: usize = 8_192;
/// Rows allowed to wait beyond a full queue.
pub const OVERFLOW: usize = 65_536;
/// Rows per transaction.
const BATCH: usize = 512;

/// A row and its spool sequence number (0: not spooled).
type Queued = (u64, LedgerRow);

pub struct LedgerWriter {
    sender: Mutex<Option<mpsc::Sender<Queued>>>,
    spool: Option<Arc<Spool>>,
    task: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    written: AtomicU64,
    lost: AtomicU64,
    overflow: AtomicUsize,
}

impl LedgerWriter {
    pub fn start(store: Store, spool: Option<Arc<Spool>>) -> LedgerWriter {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(write_loop(store, receiver, stats.clone(), spool.clone()));
        LedgerWriter {
            sender: Mutex::new(Some(sender)),
            spool,
            task: Mutex::new(Some(task)),
            stats,
        }
    }

    /// Spools a row and queues it; never waits.
    pub fn record(&self, row: LedgerRow) {
        let seq = match &self.spool {
            None => 0,
            Some(spool) => spool.append(Some(&row), None).unwrap_or_else(|err| {
                tracing::error!(%err, "cannot append a usage row to the spool; it goes to the store only");
                0
            }),
        };
        self.queue(seq, row);
    }

    /// Queues a row already spooled as part of line `seq` (0: not spooled); never waits.
    pub fn queue(&self, seq: u64, row: LedgerRow) {
        let sender = match self.sender.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let Some(sender) = sender else {
            self.lose(&row, "the ledger is shut down");
            return;
        };
        match sender.try_send((seq, row)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(queued)) => {
                if self.stats.overflow.fetch_add(1, Ordering::Relaxed) >= OVERFLOW {
                    self.stats.overflow.fetch_sub(1, Ordering::Relaxed);
                    self.lose(&queued.1, "the ledger queue and its overflow are full");
                    return;
                }
                let stats = self.stats.clone();
                tokio::spawn(async move {
                    let result = sender.send(queued).await;
                    stats.overflow.fetch_sub(1, Ordering::Relaxed);
                    if let Err(mpsc::error::SendError((_, row))) = result {
                        stats.lost.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(request_id = %row.request_id, "usage row lost: the ledger closed");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed((_, row))) => {
                self.lose(&row, "the ledger is shut down")
            }
        }
    }

    fn lose(&self, row: &LedgerRow, why: &str) {
        self.stats.lost.fetch_add(1, Ordering::Relaxed);
        tracing::error!(request_id = %row.request_id, why, "usage row lost");
    }

    /// Rows written to the store so far.
    pub fn written(&self) -> u64 {
        self.stats.written.load(Ordering::Relaxed)
    }

    /// Rows that could not be queued.
    pub fn lost(&self) -> u64 {
        self.stats.lost.load(Ordering::Relaxed)
    }

    /// Closes the queue and waits until every queued row is written (or `limit` passes).
    pub async fn shutdown(&self, limit: Duration) {
        // Rows waiting in overflow tasks go in first.
        let deadline = tokio::time::Instant::now() + limit;
        while self.stats.overflow.load(Ordering::Relaxed) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        match self.sender.lock() {
            Ok(mut guard) => *guard = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
        let task = match self.task.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = task {
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::error!(
                    "the usage ledger could not be written before shutdown ended; its spool keeps the rest for the next start"
                );
            }
        }
    }
}

async fn write_loop(
    store: Store,
    mut receiver: mpsc::Receiver<Queued>,
    stats: Arc<Stats>,
    spool: Option<Arc<Spool>>,
) {
    let mut batch: Vec<Queued> = Vec::with_capacity(BATCH);
    let mut rows: Vec<LedgerRow> = Vec::with_capacity(BATCH);
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(queued) => batch.push(queued),
                Err(_) => break,
            }
        }
        rows.clear();
        rows.extend(batch.iter().map(|(_, row)| row.clone()));
        let mut wait = Duration::from_millis(50);
        loop {
            match store.append_usage(&rows).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::error!(error = %err, rows = rows.len(), retry_in_ms = wait.as_millis() as u64, "cannot write usage rows; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        stats
            .written
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        if let Some(spool) = &spool {
            spool.done(batch.iter().map(|(seq, _)| *seq));
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_store::ledger::LedgerFilter;

    fn row(i: usize) -> LedgerRow {
        LedgerRow {
            request_id: format!("req_{i:06}"),
            at: i as i64,
            model: "chat".into(),
            cost_nano_usd: 7,
            status: 200,
            ..LedgerRow::default()
        }
    }

    #[tokio::test]
    async fn every_row_is_written_once_by_shutdown_even_past_the_queue() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let writer = LedgerWriter::start(store.clone(), None);
        let n = CAPACITY + 3_000;
        for i in 0..n {
            writer.record(row(i));
        }
        writer.record(row(0)); // a duplicate id is ignored by the store
        writer.shutdown(Duration::from_secs(30)).await;
        assert_eq!(writer.lost(), 0);
        let totals = store.usage_totals(&LedgerFilter::default()).await.unwrap();
        assert_eq!(totals.requests, n as i64);
        assert_eq!(totals.cost_nano_usd, 7 * n as i64);
        // After shutdown nothing is accepted silently.
        writer.record(row(n));
        assert_eq!(writer.lost(), 1);
    }
}
