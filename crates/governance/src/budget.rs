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
use crate::shared::{Reserved, Shared, SharedBudget};
use crate::tenants::SpendOf;

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
    /// Which of the budgets asked for refused.
    pub index: usize,
    pub limit: i64,
    pub spent: i64,
    /// Unix ms when the next period starts (`None` for a total budget).
    pub resets_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("budget exceeded")]
    Exceeded(Exceeded),
    #[error("cannot read the spend: {0}")]
    Store(#[from] StoreError),
}

/// One budget a request reserves against: a key's, a team's or an organisation's.
#[derive(Debug, Clone, Copy)]
pub struct BudgetScope<'a> {
    /// The scope's counter id.
    pub id: &'a str,
    /// Nano-dollars per period.
    pub limit: i64,
    pub period: Period,
    /// Whose ledger rows make up its spend.
    pub spend: &'a SpendOf,
}

pub struct Budgets {
    store: Store,
    keys: RwLock<HashMap<String, Arc<Entry>>>,
    shared: Option<SharedBudgets>,
    /// Reservations made from the local allowance because Redis could not be reached.
    pub fallbacks: AtomicU64,
    /// Names holds made without a request id.
    serial: AtomicU64,
}

/// Budgets kept in Redis for every replica, and what each replica may still spend on its
/// own while Redis cannot be reached.
#[derive(Clone)]
pub struct SharedBudgets {
    pub shared: Shared,
    /// Nano-dollars per budget a replica may reserve on its own while Redis is unreachable.
    pub fallback_allowance: i64,
    /// How long a shared hold stays if its request never settles it (its replica died):
    /// then any later reservation releases it.
    pub hold_ms: i64,
}

impl Budgets {
    pub fn new(store: Store) -> Budgets {
        Budgets {
            store,
            keys: RwLock::new(HashMap::new()),
            shared: None,
            fallbacks: AtomicU64::new(0),
            serial: AtomicU64::new(0),
        }
    }

    /// Budgets shared through Redis.
    pub fn shared(store: Store, shared: SharedBudgets) -> Budgets {
        Budgets {
            shared: Some(shared),
            ..Budgets::new(store)
        }
    }

    async fn ledger_spend(
        &self,
        spend: &SpendOf,
        period: Period,
        start: i64,
    ) -> Result<i64, StoreError> {
        let mut filter = LedgerFilter {
            from: (period != Period::Total).then_some(start),
            ..LedgerFilter::default()
        };
        match spend {
            SpendOf::Key(key) => filter.key_id = Some(key.clone()),
            SpendOf::Tenants(ids) if ids.is_empty() => return Ok(0),
            SpendOf::Tenants(ids) => filter.tenant_in = ids.clone(),
        }
        Ok(self.store.usage_totals(&filter).await?.cost_nano_usd)
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

    /// Reserves `amount` nano-dollars of one key's budget (see [`Budgets::reserve`]).
    pub async fn reserve_key(
        &self,
        key: &str,
        limit: i64,
        period: Period,
        amount: i64,
        now_ms: i64,
    ) -> Result<Reservation, BudgetError> {
        let spend = SpendOf::Key(key.to_owned());
        let member = format!("{key}#{}", self.serial.fetch_add(1, Ordering::Relaxed));
        let scope = BudgetScope {
            id: key,
            limit,
            period,
            spend: &spend,
        };
        self.reserve(&[scope], amount, now_ms, &member).await
    }

    /// Reserves `amount` nano-dollars in every budget at once, or in none: in Redis when
    /// budgets are shared (falling back to this replica's allowance when Redis cannot be
    /// reached), else here. `member` names the hold (the request id: unique).
    pub async fn reserve(
        &self,
        scopes: &[BudgetScope<'_>],
        amount: i64,
        now_ms: i64,
        member: &str,
    ) -> Result<Reservation, BudgetError> {
        let amount = amount.max(0);
        let Some(shared) = &self.shared else {
            return self.reserve_local(scopes, amount, now_ms, None).await;
        };
        let mut budgets: Vec<SharedBudget> = scopes
            .iter()
            .map(|s| SharedBudget {
                id: s.id.to_owned(),
                period_start: s.period.start_ms(now_ms),
                limit: s.limit,
                seed: None,
                ttl_ms: s
                    .period
                    .next_ms(now_ms)
                    .map_or(0, |next| next - now_ms + 86_400_000),
            })
            .collect();
        let deadline = now_ms.saturating_add(shared.hold_ms);
        let mut seeded = false;
        let outcome = loop {
            match shared
                .shared
                .reserve(&budgets, amount, member, now_ms, deadline)
                .await
            {
                Ok(Reserved::NeedsSeed(missing)) if !seeded => {
                    seeded = true;
                    for index in missing {
                        if let (Some(budget), Some(scope)) =
                            (budgets.get_mut(index), scopes.get(index))
                        {
                            budget.seed = Some(
                                self.ledger_spend(scope.spend, scope.period, budget.period_start)
                                    .await?,
                            );
                        }
                    }
                }
                other => break other,
            }
        };
        match outcome {
            Ok(Reserved::Yes) => Ok(Reservation {
                holds: vec![Hold::Shared {
                    shared: Box::new(shared.shared.clone()),
                    budgets: budgets
                        .into_iter()
                        .map(|b| (b.id, b.period_start))
                        .collect(),
                    member: member.to_owned(),
                }],
                amount,
                open: true,
            }),
            Ok(Reserved::No { index, spent }) => {
                let scope = scopes.get(index);
                Err(BudgetError::Exceeded(Exceeded {
                    index,
                    limit: scope.map_or(0, |s| s.limit),
                    spent,
                    resets_at: scope.and_then(|s| s.period.next_ms(now_ms)),
                }))
            }
            Ok(Reserved::NeedsSeed(_)) => Err(BudgetError::Store(StoreError::Invalid(
                "the shared budget could not be seeded".into(),
            ))),
            Err(err) => {
                let n = self.fallbacks.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    tracing::warn!(
                        error = %err,
                        fallbacks = n + 1,
                        "shared budgets unreachable: this replica reserves from its own fallback allowance"
                    );
                }
                self.reserve_local(scopes, amount, now_ms, Some(shared.fallback_allowance))
                    .await
            }
        }
    }

    /// A reservation against this replica's own counters: the budgets themselves (seeded
    /// from the ledger), or, with an `allowance`, per-budget fallback counters capped at it.
    async fn reserve_local(
        &self,
        scopes: &[BudgetScope<'_>],
        amount: i64,
        now_ms: i64,
        allowance: Option<i64>,
    ) -> Result<Reservation, BudgetError> {
        let mut holds = Vec::with_capacity(scopes.len());
        for (index, scope) in scopes.iter().enumerate() {
            // One counter per budget and kind of period: a budget whose period is changed
            // (monthly to daily) starts a counter of its own, seeded from the ledger.
            let (entry_key, limit) = match allowance {
                None => (counter(scope.id, scope.period), scope.limit),
                Some(allowance) => (
                    format!("fallback:{}", counter(scope.id, scope.period)),
                    scope.limit.min(allowance),
                ),
            };
            let entry = self.entry(&entry_key);
            let start = scope.period.start_ms(now_ms);
            entry
                .loaded
                .get_or_try_init(|| async {
                    let spent = if allowance.is_none() {
                        self.ledger_spend(scope.spend, scope.period, start).await?
                    } else {
                        0
                    };
                    let mut state = entry.lock();
                    state.period_start = start;
                    state.spent += spent;
                    Ok::<(), StoreError>(())
                })
                .await?;
            let mut state = entry.lock();
            if state.period_start != start {
                // A new period: what was spent belongs to the old one.
                state.period_start = start;
                state.spent = 0;
            }
            if state.spent + state.reserved + amount > limit {
                // The holds taken so far are released when `holds` drops (see `Reservation`).
                drop(state);
                drop(Reservation {
                    holds,
                    amount,
                    open: true,
                });
                return Err(BudgetError::Exceeded(Exceeded {
                    index,
                    limit,
                    spent: entry.lock().spent,
                    resets_at: scope.period.next_ms(now_ms),
                }));
            }
            state.reserved += amount;
            drop(state);
            holds.push(Hold::Local(entry));
        }
        Ok(Reservation {
            holds,
            amount,
            open: true,
        })
    }

    /// Committed spend and open reservations of a budget kept on this replica (for reports
    /// and tests).
    pub fn standing(&self, id: &str, period: Period) -> (i64, i64) {
        let entry = self.entry(&counter(id, period));
        let state = entry.lock();
        (state.spent, state.reserved)
    }
}

/// The name of a budget's local counter.
fn counter(id: &str, period: Period) -> String {
    format!("{id}@{}", period.as_str())
}

/// Where a reservation's money is held.
enum Hold {
    Local(Arc<Entry>),
    Shared {
        shared: Box<Shared>,
        /// `(counter id, period start)` of each budget.
        budgets: Vec<(String, i64)>,
        member: String,
    },
}

/// Money held for one request, in each of its budgets, until it ends.
pub struct Reservation {
    holds: Vec<Hold>,
    amount: i64,
    open: bool,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Reservation({} nano-USD in {} holds, open: {})",
            self.amount,
            self.holds.len(),
            self.open
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
        for hold in self.holds.drain(..) {
            match hold {
                Hold::Local(entry) => {
                    let mut state = entry.lock();
                    state.reserved -= self.amount;
                    state.spent += actual;
                }
                Hold::Shared {
                    shared,
                    budgets,
                    member,
                } => {
                    // Settled off the request's path; if Redis cannot be reached the hold
                    // stays until its deadline (the budget errs on the safe side), logged.
                    let amount = self.amount;
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        runtime.spawn(async move {
                            if let Err(err) = shared.settle(&budgets, &member, amount, actual).await {
                                tracing::error!(error = %err, "cannot settle a shared budget reservation; it stays held until its deadline");
                            }
                        });
                    }
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
                    .reserve_key("k", 5 * DOLLAR, Period::Total, DOLLAR / 10, 0)
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
        let (spent, reserved) = budgets.standing("k", Period::Total);
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
            .reserve_key("k", 4 * DOLLAR, Period::Daily, 2 * DOLLAR, 5_000)
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
            .reserve_key("k", 4 * DOLLAR, Period::Daily, DOLLAR, 5_000)
            .await
            .unwrap();
        assert_eq!(budgets.standing("k", Period::Daily), (3 * DOLLAR, DOLLAR));
        drop(held);
        assert_eq!(
            budgets.standing("k", Period::Daily),
            (3 * DOLLAR, 0),
            "released, not spent"
        );
        // The next day starts from nothing.
        budgets
            .reserve_key("k", 4 * DOLLAR, Period::Daily, 4 * DOLLAR, day + 1)
            .await
            .unwrap()
            .settle(DOLLAR);
        assert_eq!(budgets.standing("k", Period::Daily), (DOLLAR, 0));
        // The budget becomes monthly: its counter is seeded from the ledger again (the $3
        // of day one; the $1 of day two never reached the ledger in this test), not zeroed.
        let err = budgets
            .reserve_key("k", 4 * DOLLAR, Period::Monthly, 2 * DOLLAR, day + 2)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, BudgetError::Exceeded(Exceeded { spent, .. }) if spent == 3 * DOLLAR)
        );
    }
}
