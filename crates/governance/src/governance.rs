//! Everything governance holds while the gateway runs, opened once at start and kept over
//! config reloads: the store, the key cache following it, and the ledger writer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_store::{Store, StoreError};
use tokio::task::JoinHandle;

use crate::budget::Budgets;
use crate::rate::RateLimits;
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
    /// Opens the store (migrating it), loads its keys and starts following it.
    pub async fn open(url: &str, pepper: Option<Pepper>) -> Result<Arc<Governance>, StoreError> {
        let store = Store::open(url).await?;
        Governance::start(store, pepper).await
    }

    pub async fn start(
        store: Store,
        pepper: Option<Pepper>,
    ) -> Result<Arc<Governance>, StoreError> {
        let keys = Arc::new(KeyCache::load(pepper, &store).await?);
        let follower = tokio::spawn(keys.clone().follow(store.clone()));
        Ok(Arc::new(Governance {
            ledger: LedgerWriter::start(store.clone()),
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
