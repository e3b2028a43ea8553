//! Everything governance holds while the gateway runs, opened once at start and kept over
//! config reloads: the store, the key cache following it, budgets, rate limits and the
//! ledger and audit writers (with their spool).

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_store::audit::{Position, Signer};
use switchyard_store::ledger::LedgerRow;
use switchyard_store::{Store, StoreError};
use tokio::task::JoinHandle;

use crate::budget::{Budgets, SharedBudgets};
use crate::rate::RateLimits;
use crate::shared::Shared;
use crate::spool::Spool;
use crate::{KeyCache, LedgerWriter, Pepper};

pub struct Governance {
    pub store: Store,
    pub keys: Arc<KeyCache>,
    pub ledger: LedgerWriter,
    /// The tamper-evident audit log's writer.
    pub audit: crate::audit::AuditWriter,
    pub budgets: Budgets,
    /// This replica's own rate windows (all of them without Redis; the fallback with it).
    pub rates: RateLimits,
    /// Counters shared by every replica, when Redis is configured.
    pub shared: Option<Shared>,
    /// How many replicas share the limits: without Redis each enforces limit / replicas.
    pub replicas: u32,
    /// Times a shared counter could not be reached and the local fallback decided.
    pub fallbacks: AtomicU64,
    follower: Mutex<Option<JoinHandle<()>>>,
    spool: Option<Arc<Spool>>,
}

/// Redis-shared counters and how to degrade without them.
pub struct SharedSettings {
    pub shared: Shared,
    pub replicas: u32,
    /// Nano-dollars per budget a replica may reserve on its own while Redis is unreachable.
    pub fallback_allowance: i64,
    /// How long a shared budget hold outlives a request that never settled it.
    pub hold_ms: i64,
}

impl Governance {
    /// Loads the store's keys and starts following it; with a spool folder, first replays
    /// the usage rows and audit records stopped processes left there (their lanes' heads
    /// signed with `signer`), then spools this process's. The audit log is signed with
    /// `signer` from the start.
    pub async fn start(
        store: Store,
        pepper: Option<Pepper>,
        spool_dir: Option<&Path>,
        shared: Option<SharedSettings>,
        signer: Option<Signer>,
    ) -> Result<Arc<Governance>, StoreError> {
        let keys = Arc::new(KeyCache::load(pepper, &store).await?);
        let spool = match spool_dir {
            None => None,
            Some(dir) => {
                crate::spool::replay(dir, &store, signer.as_ref(), crate::audit::EVERY).await?;
                let spool = Spool::open(dir).map_err(|e| {
                    StoreError::Invalid(format!("cannot open the spool in {}: {e}", dir.display()))
                })?;
                Some(Arc::new(spool))
            }
        };
        let audit = crate::audit::AuditWriter::open(
            store.clone(),
            crate::audit::EVERY,
            &crate::audit::process_name("serve"),
            spool.clone(),
        )
        .await?;
        if let Some(signer) = signer {
            audit.set_signer(signer);
        }
        let follower = tokio::spawn(keys.clone().follow(store.clone()));
        Ok(Arc::new(Governance {
            ledger: LedgerWriter::start(store.clone(), spool.clone()),
            audit,
            budgets: match &shared {
                Some(s) => Budgets::shared(
                    store.clone(),
                    SharedBudgets {
                        shared: s.shared.clone(),
                        fallback_allowance: s.fallback_allowance,
                        hold_ms: s.hold_ms,
                    },
                ),
                None => Budgets::new(store.clone()),
            },
            rates: RateLimits::default(),
            replicas: shared.as_ref().map_or(1, |s| s.replicas.max(1)),
            shared: shared.map(|s| s.shared),
            fallbacks: AtomicU64::new(0),
            store,
            keys,
            follower: Mutex::new(Some(follower)),
            spool,
        }))
    }

    /// A request's audit record (`build` gets its position) and its usage row, spooled on
    /// one line (one write) and queued to their writers; the record's position, `None` when
    /// it was not recorded (the log is full and told to serve, or shut down). The row is
    /// kept whatever happens to the record.
    pub fn record_request(
        &self,
        at: i64,
        request_id: &str,
        build: impl FnOnce(Position) -> String,
        usage: Option<LedgerRow>,
    ) -> Option<Position> {
        let (position, line) =
            self.audit
                .record_with(at, "request", request_id, build, usage.as_ref());
        if let Some(row) = usage {
            match line {
                0 => self.ledger.record(row),
                line => self.ledger.queue(line, row),
            }
        }
        position
    }

    /// Stops following the store and writes every queued ledger row and audit record.
    pub async fn shutdown(&self, limit: Duration) {
        let follower = match self.follower.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = follower {
            task.abort();
        }
        self.ledger.shutdown(limit).await;
        self.audit.shutdown(limit).await;
        // Every row and record is in the store: the spool has nothing left to keep.
        if let Some(spool) = self.spool.as_ref().filter(|s| s.drained()) {
            spool.close();
        }
        self.store.close().await;
    }
}
