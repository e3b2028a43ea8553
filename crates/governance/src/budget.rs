//! Per-key spending budgets on one replica, exact under concurrency: before the upstream
//! call a request **reserves** the most it could cost (its output cap at the dearest
//! deployment's price, plus its prompt); the reservation is refused if committed spend plus
//! open reservations plus it would pass the budget. When the request ends the reservation is
//! **settled** to what the answer really cost, in the same critical section; a request that
//! is dropped (client gone, error) releases it. Nothing leaks: a [`Reservation`] that is
//! neither settled nor released releases itself when dropped.
//!
//! A key's committed spend for the current period is read from the ledger the first time the
//! key is seen after start, then kept in memory; periods roll over at UTC midnight / month
//! start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use switchyard_store::ledger::LedgerFilter;
use switchyard_store::{Store, StoreError};
use tokio::sync::OnceCell;

use crate::limits::Period;
use crate::shared::{Reserved, Shared};

#[derive(Debug, Default)]
struct State {
    period_start: i64,
    spent: i64,
    reserved: i64,
}

#[derive(Default)]
struct Entry {
    loaded: OnceCell<()>,
    state: Mutex<State>,
}

impl Entry {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The budget would be passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: i64,
    pub spent: i64,
    /// Unix ms when the next period starts (`None` for a total budget).
    pub resets_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("budget exceeded")]
    Exceeded(Exceeded),
    #[error("cannot read the key's spend: {0}")]
    Store(#[from] StoreError),
}

pub struct Budgets {
    store: Store,
    keys: RwLock<HashMap<String, Arc<Entry>>>,
    shared: Option<SharedBudgets>,
    /// Reservations made from the local allowance because Redis could not be reached.
    pub fallbacks: AtomicU64,
}

/// Budgets kept in Redis for every replica, and what each replica may still spend on its
/// own while Redis cannot be reached.
#[derive(Clone)]
pub struct SharedBudgets {
    pub shared: Shared,
    /// Nano-dollars per key a replica may reserve on its own while Redis is unreachable.
    pub fallback_allowance: i64,
}

impl Budgets {
    pub fn new(store: Store) -> Budgets {
        Budgets {
            store,
            keys: RwLock::new(HashMap::new()),
            shared: None,
            fallbacks: AtomicU64::new(0),
        }
    }

    /// Budgets shared through Redis.
    pub fn shared(store: Store, shared: SharedBudgets) -> Budgets {
        Budgets {
            store,
            keys: RwLock::new(HashMap::new()),
            shared: Some(shared),
            fallbacks: AtomicU64::new(0),
        }
    }

    async fn ledger_spend(&self, key: &str, period: Period, start: i64) -> Result<i64, StoreError> {
        Ok(self
            .store
            .usage_totals(&LedgerFilter {
                from: (period != Period::Total).then_some(start),
                key_id: Some(key.to_owned()),
                ..LedgerFilter::default()
            })
            .await?
            .cost_nano_usd)
    }

    fn entry(&self, key: &str) -> Arc<Entry> {
        if let Some(found) = self.keys.read().ok().and_then(|m| m.get(key).cloned()) {
            return found;
        }
        match self.keys.write() {
            Ok(mut map) => map.entry(key.to_owned()).or_default().clone(),
            Err(_) => Arc::new(Entry::default()),
        }
    }

    /// Reserves `amount` nano-dollars of `key`'s budget of `limit` per `period`: in Redis
    /// when budgets are shared (falling back to this replica's allowance when Redis cannot
    /// be reached), else here.
    pub async fn reserve(
        &self,
        key: &str,
        limit: i64,
        period: Period,
        amount: i64,
        now_ms: i64,
    ) -> Result<Reservation, BudgetError> {
        let Some(shared) = &self.shared else {
            return self
                .reserve_local(key, key, limit, period, amount, now_ms, true)
                .await;
        };
        let start = period.start_ms(now_ms);
        let ttl = period
            .next_ms(now_ms)
            .map_or(0, |next| next - now_ms + 86_400_000);
        let amount = amount.max(0);
        let mut seed = None;
        let outcome = loop {
            match shared
                .shared
                .reserve(key, start, limit, amount, seed, ttl)
                .await
            {
                Ok(Reserved::NeedsSeed) if seed.is_none() => {
                    seed = Some(self.ledger_spend(key, period, start).await?);
                }
                other => break other,
            }
        };
        match outcome {
            Ok(Reserved::Yes) => Ok(Reservation {
                hold: Hold::Shared {
                    shared: Box::new(shared.shared.clone()),
                    key: key.to_owned(),
                    period_start: start,
                },
                amount,
                open: true,
            }),
            Ok(Reserved::No { spent }) => Err(BudgetError::Exceeded(Exceeded {
                limit,
                spent,
                resets_at: period.next_ms(now_ms),
            })),
            Ok(Reserved::NeedsSeed) => Err(BudgetError::Store(StoreError::Invalid(
                "the shared budget could not be seeded".into(),
            ))),
            Err(err) => {
                let n = self.fallbacks.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    tracing::warn!(
                        error = %err,
                        key_id = key,
                        fallbacks = n + 1,
                        "shared budgets unreachable: this replica reserves from its own fallback allowance"
                    );
                }
                let fallback = format!("fallback:{key}");
                let allowance = limit.min(shared.fallback_allowance);
                self.reserve_local(&fallback, key, allowance, period, amount, now_ms, false)
                    .await
            }
        }
    }

    /// A reservation against this replica's own counter `entry_key` (seeded from the ledger
    /// for `key` when `seed` says so).
    #[allow(clippy::too_many_arguments)]
    async fn reserve_local(
        &self,
        entry_key: &str,
        key: &str,
        limit: i64,
        period: Period,
        amount: i64,
        now_ms: i64,
        seed: bool,
    ) -> Result<Reservation, BudgetError> {
        let entry = self.entry(entry_key);
        let start = period.start_ms(now_ms);
        entry
            .loaded
            .get_or_try_init(|| async {
                let spent = if seed {
                    self.ledger_spend(key, period, start).await?
                } else {
                    0
                };
                let mut state = entry.lock();
                state.period_start = start;
                state.spent += spent;
                Ok::<(), StoreError>(())
            })
            .await?;
        let amount = amount.max(0);
        let mut state = entry.lock();
        if state.period_start != start {
            // A new period: what was spent belongs to the old one.
            state.period_start = start;
            state.spent = 0;
        }
        if state.spent + state.reserved + amount > limit {
            return Err(BudgetError::Exceeded(Exceeded {
                limit,
                spent: state.spent,
                resets_at: period.next_ms(now_ms),
            }));
        }
        state.reserved += amount;
        drop(state);
        Ok(Reservation {
            hold: Hold::Local(entry),
            amount,
            open: true,
        })
    }

    /// Committed spend and open reservations of a key (for reports and tests).
    pub fn standing(&self, key: &str) -> (i64, i64) {
        let entry = self.entry(key);
        let state = entry.lock();
        (state.spent, state.reserved)
    }
}

/// Where a reservation's money is held.
enum Hold {
    Local(Arc<Entry>),
    Shared {
        shared: Box<Shared>,
        key: String,
        period_start: i64,
    },
}

/// Money held for one request until it ends.
pub struct Reservation {
    hold: Hold,
    amount: i64,
    open: bool,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Reservation({} nano-USD, open: {})",
            self.amount, self.open
        )
    }
}

impl Reservation {
    /// The request ended having cost `actual` nano-dollars.
    pub fn settle(mut self, actual: i64) {
        self.close(actual.max(0));
    }

    fn close(&mut self, actual: i64) {
        if !self.open {
            return;
        }
        self.open = false;
        match &self.hold {
            Hold::Local(entry) => {
                let mut state = entry.lock();
                state.reserved -= self.amount;
                state.spent += actual;
            }
            Hold::Shared {
                shared,
                key,
                period_start,
            } => {
                // Settled off the request's path; if Redis cannot be reached the amount stays
                // reserved there (the budget errs on the safe side) and the failure is logged.
                let (shared, key, start, amount) = (
                    shared.as_ref().clone(),
                    key.clone(),
                    *period_start,
                    self.amount,
                );
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(err) = shared.settle(&key, start, amount, actual).await {
                            tracing::error!(error = %err, key_id = %key, "cannot settle a shared budget reservation; it stays held");
                        }
                    });
                }
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.close(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_store::ledger::LedgerRow;

    const DOLLAR: i64 = 1_000_000_000;

    #[tokio::test]
    async fn reservations_never_let_spend_pass_the_budget() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let budgets = Arc::new(Budgets::new(store));
        // 200 concurrent requests of up to $0.10 against $5: at most 50 are admitted at
        // once, and every settlement keeps the total within the budget.
        let mut tasks = Vec::new();
        for i in 0..200 {
            let budgets = budgets.clone();
            tasks.push(tokio::spawn(async move {
                match budgets
                    .reserve("k", 5 * DOLLAR, Period::Total, DOLLAR / 10, 0)
                    .await
                {
                    Ok(r) => {
                        tokio::task::yield_now().await;
                        // Real cost: between 1 and 10 cents.
                        r.settle(DOLLAR / 100 * (1 + i % 10));
                        true
                    }
                    Err(BudgetError::Exceeded(_)) => false,
                    Err(e) => panic!("{e}"),
                }
            }));
        }
        let mut admitted = 0;
        for t in tasks {
            admitted += usize::from(t.await.unwrap());
        }
        let (spent, reserved) = budgets.standing("k");
        assert_eq!(reserved, 0, "no open reservation is left");
        assert!(spent <= 5 * DOLLAR, "{spent}");
        assert!(admitted >= 50, "{admitted}");
    }

    #[tokio::test]
    async fn a_dropped_reservation_is_released_and_periods_roll_over() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        store
            .append_usage(&[LedgerRow {
                request_id: "r1".into(),
                at: 1_000,
                key_id: Some("k".into()),
                model: "m".into(),
                cost_nano_usd: 3 * DOLLAR,
                ..LedgerRow::default()
            }])
            .await
            .unwrap();
        let budgets = Budgets::new(store);
        // Spend already in the ledger for today counts.
        let day = 86_400_000;
        let err = budgets
            .reserve("k", 4 * DOLLAR, Period::Daily, 2 * DOLLAR, 5_000)
            .await
            .err()
            .unwrap();
        match err {
            BudgetError::Exceeded(e) => {
                assert_eq!(e.spent, 3 * DOLLAR);
                assert_eq!(e.resets_at, Some(day));
            }
            other => panic!("{other}"),
        }
        let held = budgets
            .reserve("k", 4 * DOLLAR, Period::Daily, DOLLAR, 5_000)
            .await
            .unwrap();
        assert_eq!(budgets.standing("k"), (3 * DOLLAR, DOLLAR));
        drop(held);
        assert_eq!(
            budgets.standing("k"),
            (3 * DOLLAR, 0),
            "released, not spent"
        );
        // The next day starts from nothing.
        budgets
            .reserve("k", 4 * DOLLAR, Period::Daily, 4 * DOLLAR, day + 1)
            .await
            .unwrap()
            .settle(DOLLAR);
        assert_eq!(budgets.standing("k"), (DOLLAR, 0));
    }
}
