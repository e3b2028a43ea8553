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
use std::sync::{Arc, Mutex, RwLock};

use switchyard_store::ledger::LedgerFilter;
use switchyard_store::{Store, StoreError};
use tokio::sync::OnceCell;

use crate::limits::Period;

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
}

impl Budgets {
    pub fn new(store: Store) -> Budgets {
        Budgets {
            store,
            keys: RwLock::new(HashMap::new()),
        }
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

    /// Reserves `amount` nano-dollars of `key`'s budget of `limit` per `period`.
    pub async fn reserve(
        &self,
        key: &str,
        limit: i64,
        period: Period,
        amount: i64,
        now_ms: i64,
    ) -> Result<Reservation, BudgetError> {
        let entry = self.entry(key);
        let start = period.start_ms(now_ms);
        entry
            .loaded
            .get_or_try_init(|| async {
                let spent = self
                    .store
                    .usage_totals(&LedgerFilter {
                        from: (period != Period::Total).then_some(start),
                        key_id: Some(key.to_owned()),
                        ..LedgerFilter::default()
                    })
                    .await?
                    .cost_nano_usd;
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
            entry,
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

/// Money held for one request until it ends.
pub struct Reservation {
    entry: Arc<Entry>,
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
        let mut state = self.entry.lock();
        state.reserved -= self.amount;
        state.spent += actual;
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
