//! Retry policy: how long to back off before trying a deployment again, and a budget that
//! keeps retries to a fraction of requests over a window (so that a failing upstream is not
//! hit with a multiple of the traffic).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The budget's window.
const WINDOW: Duration = Duration::from_secs(10);
/// Retries always allowed per window, so that a quiet gateway still falls back.
const MIN_RETRIES: u64 = 10;
/// Longest single backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct RetryBudget {
    permille: u32,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    requests: u64,
    retries: u64,
}

impl RetryBudget {
    /// `permille`: retries allowed per thousand requests in a window (at least ten retries
    /// per window are always allowed, so that a quiet gateway still retries).
    pub fn new(permille: u32) -> Self {
        RetryBudget {
            permille,
            window: Mutex::new(Window {
                started: Instant::now(),
                requests: 0,
                retries: 0,
            }),
        }
    }

    fn with_window<T>(&self, f: impl FnOnce(&mut Window) -> T) -> Option<T> {
        let mut window = self.window.lock().ok()?;
        if window.started.elapsed() >= WINDOW {
            *window = Window {
                started: Instant::now(),
                requests: 0,
                retries: 0,
            };
        }
        Some(f(&mut window))
    }

    pub fn record_request(&self) {
        self.with_window(|w| w.requests += 1);
    }

    /// Takes one retry from the budget, if any is left.
    pub fn try_retry(&self) -> bool {
        let permille = u64::from(self.permille);
        self.with_window(|w| {
            let allowed = (w.requests * permille / 1000).max(MIN_RETRIES);
            if w.retries < allowed {
                w.retries += 1;
                true
            } else {
                false
            }
        })
        .unwrap_or(false)
    }
}

/// The wait before retry number `retry` (1-based) of the same deployment: `base` doubled
/// each time, with +-50 % jitter, at most 5 s.
pub fn backoff(base: Duration, retry: u32) -> Duration {
    let doubled = base.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
    let jitter = 0.5 + fastrand::f64();
    doubled.mul_f64(jitter).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_a_fraction_of_requests() {
        let budget = RetryBudget::new(200);
        let quiet = (0..20).filter(|_| budget.try_retry()).count();
        assert_eq!(quiet, 10, "ten retries per window are always allowed");
        for _ in 0..100 {
            budget.record_request();
        }
        let granted = (0..20).filter(|_| budget.try_retry()).count();
        assert_eq!(granted, 10, "20 of 100 requests, ten already used");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let base = Duration::from_millis(100);
        for _ in 0..100 {
            let first = backoff(base, 1);
            assert!(first >= Duration::from_millis(50) && first < Duration::from_millis(150));
            let third = backoff(base, 3);
            assert!(third >= Duration::from_millis(200) && third < Duration::from_millis(600));
            assert!(backoff(base, 40) <= MAX_BACKOFF);
        }
    }
}
