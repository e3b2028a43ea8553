//! Everything governance holds while the gateway runs, opened once at start and kept over
//! config reloads: the store, the key cache following it, budgets, rate limits and the
//! ledger writer (with its spool).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_store::{Store, StoreError};
use tokio::task::JoinHandle;

use crate::budget::Budgets;
use crate::rate::RateLimits;
use crate::spool::Spool;
use crate::{KeyCache, LedgerWriter, Pepper};

pub struct Governance {
    pub store: Store,
    pub keys: Arc<KeyCache>,
    pub ledger: LedgerWriter,
    pub budgets: Budgets,
    pub rates: RateLimits,
    follower: Mutex<Option<JoinHandle<()>>>,
}

impl Governance {
    /// Loads the store's keys and starts following it; with a spool folder, first replays
    /// the usage rows stopped processes left there, then spools this process's rows.
    pub async fn start(
        store: Store,
        pepper: Option<Pepper>,
        spool_dir: Option<&Path>,
    ) -> Result<Arc<Governance>, StoreError> {
        let keys = Arc::new(KeyCache::load(pepper, &store).await?);
        let spool = match spool_dir {
            None => None,
            Some(dir) => {
                crate::spool::replay(dir, &store).await?;
                let spool = Spool::open(dir).map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot open the ledger spool in {}: {e}",
                        dir.display()
                    ))
                })?;
                Some(Arc::new(spool))
            }
        };
        let follower = tokio::spawn(keys.clone().follow(store.clone()));
        Ok(Arc::new(Governance {
            ledger: LedgerWriter::start(store.clone(), spool),
            budgets: Budgets::new(store.clone()),
            rates: RateLimits::default(),
            store,
            keys,
            follower: Mutex::new(Some(follower)),
        }))
    }

    /// Stops following the store and writes every queued ledger row.
    pub async fn shutdown(&self, limit: Duration) {
        let follower = match self.follower.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(task) = follower {
            task.abort();
        }
        self.ledger.shutdown(limit).await;
        self.store.close().await;
    }
}
