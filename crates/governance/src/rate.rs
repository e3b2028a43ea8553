//! Per-key rate limits on one replica: requests per minute and tokens per minute over a
//! sliding 60-second window, exact: no 60-second span ever holds more than the limit (a token
//! bucket or GCRA would let up to twice the limit through a span that straddles a burst).
//! Each key keeps the times of its admissions in the last minute (at most the limit) and its
//! token charges, behind one short lock.
//!
//! Tokens are known only after the answer: a request is admitted while the key's tokens in
//! the window are under the limit, and its tokens are charged when it ends.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

const MINUTE_NS: i64 = 60_000_000_000;

/// What a limit looks like after a check, for `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u32,
    pub remaining: u32,
    /// Nanoseconds until the limit is whole again.
    pub reset_ns: u64,
}

/// A refusal: which limit, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub tokens: bool,
    pub retry_after_ns: u64,
    pub window: Window,
}

#[derive(Debug, Default)]
struct KeyRate {
    /// Admission times (ns) within the last minute, oldest first.
    requests: VecDeque<i64>,
    /// `(time, tokens)` charged within the last minute, oldest first, and their sum.
    tokens: VecDeque<(i64, u64)>,
    token_sum: u64,
}

impl KeyRate {
    fn expire(&mut self, now: i64) {
        while self.requests.front().is_some_and(|t| *t <= now - MINUTE_NS) {
            self.requests.pop_front();
        }
        while let Some(&(t, n)) = self.tokens.front() {
            if t > now - MINUTE_NS {
                break;
            }
            self.token_sum -= n;
            self.tokens.pop_front();
        }
    }

    fn request_window(&self, limit: u32, now: i64) -> Window {
        let used = u32::try_from(self.requests.len()).unwrap_or(u32::MAX);
        Window {
            limit,
            remaining: limit.saturating_sub(used),
            reset_ns: self
                .requests
                .back()
                .map_or(0, |t| nonneg(t + MINUTE_NS - now)),
        }
    }

    fn token_window(&self, limit: u32, now: i64) -> Window {
        Window {
            limit,
            remaining: u32::try_from(u64::from(limit).saturating_sub(self.token_sum)).unwrap_or(0),
            reset_ns: self
                .tokens
                .back()
                .map_or(0, |(t, _)| nonneg(t + MINUTE_NS - now)),
        }
    }
}

/// One counter's limits, as [`RateLimits::admit_all`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct RateScope<'a> {
    pub id: &'a str,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

/// Why `scope` refuses one more request now, if it does.
fn refusal(rate: &KeyRate, scope: &RateScope<'_>, now_ns: i64) -> Result<(), Refused> {
    if let Some(tpm) = scope.tpm {
        if rate.token_sum >= u64::from(tpm) {
            // Wait until enough old charges leave the window to get under the limit.
            let mut sum = rate.token_sum;
            let mut at = now_ns;
            for &(t, n) in &rate.tokens {
                sum -= n;
                at = t + MINUTE_NS;
                if sum < u64::from(tpm) {
                    break;
                }
            }
            return Err(Refused {
                tokens: true,
                retry_after_ns: nonneg(at - now_ns),
                window: rate.token_window(tpm, now_ns),
            });
        }
    }
    if let Some(rpm) = scope.rpm {
        if rate.requests.len() >= rpm as usize {
            let oldest = rate.requests.front().copied().unwrap_or(now_ns);
            return Err(Refused {
                tokens: false,
                retry_after_ns: nonneg(oldest + MINUTE_NS - now_ns),
                window: rate.request_window(rpm, now_ns),
            });
        }
    }
    Ok(())
}

/// The window with less room left.
pub fn tighter(current: Option<Window>, other: Window) -> Option<Window> {
    match current {
        Some(w) if w.remaining <= other.remaining => Some(w),
        _ => Some(other),
    }
}

fn nonneg(ns: i64) -> u64 {
    u64::try_from(ns.max(0)).unwrap_or(0)
}

#[derive(Default)]
pub struct RateLimits {
    keys: RwLock<HashMap<String, Arc<Mutex<KeyRate>>>>,
}

impl RateLimits {
    fn entry(&self, key: &str) -> Arc<Mutex<KeyRate>> {
        if let Some(found) = self.keys.read().ok().and_then(|m| m.get(key).cloned()) {
            return found;
        }
        match self.keys.write() {
            Ok(mut map) => map.entry(key.to_owned()).or_default().clone(),
            Err(_) => Arc::new(Mutex::new(KeyRate::default())),
        }
    }

    /// Admits one request at `now_ns` (any monotonic clock) against one key's limits, or
    /// says which limit refuses it and for how long (see [`RateLimits::admit_all`]).
    pub fn admit(
        &self,
        key: &str,
        rpm: Option<u32>,
        tpm: Option<u32>,
        now_ns: i64,
    ) -> Result<(Option<Window>, Option<Window>), Refused> {
        self.admit_all(&[RateScope { id: key, rpm, tpm }], now_ns)
            .map_err(|(_, refused)| refused)
    }

    /// Admits one request against every scope's limits at once: it is counted in all of
    /// them or in none. A refusal names the index of the scope that refused. The windows
    /// returned are the tightest (least remaining) of the scopes, for `x-ratelimit-*`.
    pub fn admit_all(
        &self,
        scopes: &[RateScope<'_>],
        now_ns: i64,
    ) -> Result<(Option<Window>, Option<Window>), (usize, Refused)> {
        let mut order: Vec<usize> = (0..scopes.len())
            .filter(|&i| scopes[i].rpm.is_some() || scopes[i].tpm.is_some())
            .collect();
        if order.is_empty() {
            return Ok((None, None));
        }
        // One lock order (by id) for every request: no two admissions wait on each other.
        order.sort_by(|&a, &b| scopes[a].id.cmp(scopes[b].id));
        let entries: Vec<_> = order.iter().map(|&i| self.entry(scopes[i].id)).collect();
        let mut locked: Vec<_> = entries
            .iter()
            .map(|e| match e.lock() {
                Ok(rate) => rate,
                Err(poisoned) => poisoned.into_inner(),
            })
            .collect();
        for (rate, &i) in locked.iter_mut().zip(&order) {
            rate.expire(now_ns);
            refusal(rate, &scopes[i], now_ns).map_err(|refused| (i, refused))?;
        }
        let (mut requests, mut tokens) = (None, None);
        for (rate, &i) in locked.iter_mut().zip(&order) {
            if let Some(rpm) = scopes[i].rpm {
                rate.requests.push_back(now_ns);
                requests = tighter(requests, rate.request_window(rpm, now_ns));
            }
            if let Some(tpm) = scopes[i].tpm {
                tokens = tighter(tokens, rate.token_window(tpm, now_ns));
            }
        }
        Ok((requests, tokens))
    }

    /// Charges the tokens a finished request used to one counter.
    pub fn charge_tokens(&self, key: &str, tokens: u64, now_ns: i64) {
        if tokens == 0 {
            return;
        }
        let entry = self.entry(key);
        let mut rate = match entry.lock() {
            Ok(rate) => rate,
            Err(poisoned) => poisoned.into_inner(),
        };
        rate.expire(now_ns);
        rate.tokens.push_back((now_ns, tokens));
        rate.token_sum += tokens;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn no_sixty_second_span_holds_more_than_the_limit() {
        let limits = RateLimits::default();
        let admitted = (0..500)
            .filter(|_| limits.admit("k", Some(100), None, 0).is_ok())
            .count();
        assert_eq!(admitted, 100, "a burst gets exactly the limit");
        let refused = limits.admit("k", Some(100), None, SECOND).unwrap_err();
        assert!(!refused.tokens);
        assert_eq!(refused.retry_after_ns, 59 * SECOND as u64);
        assert_eq!(refused.window.remaining, 0);
        assert!(limits.admit("k", Some(100), None, 60 * SECOND).is_ok());
        // Steady pressure: every span of 60 s holds at most 100.
        let limits = RateLimits::default();
        let mut times = Vec::new();
        for step in 0..20_000 {
            let now = step * SECOND / 100;
            if limits.admit("k", Some(100), None, now).is_ok() {
                times.push(now);
            }
        }
        for (i, start) in times.iter().enumerate() {
            let inside = times[i..]
                .iter()
                .take_while(|t| **t < start + 60 * SECOND)
                .count();
            assert!(inside <= 100, "{inside} in the span from {start}");
        }
        assert!(times.len() >= 300, "{}", times.len());
        assert!(
            limits.admit("other", Some(100), None, 0).is_ok(),
            "keys are independent"
        );
    }

    #[test]
    fn a_request_counts_in_every_scope_or_in_none() {
        let limits = RateLimits::default();
        let scopes = |key: &'static str| {
            [
                RateScope {
                    id: key,
                    rpm: Some(3),
                    tpm: None,
                },
                RateScope {
                    id: "team",
                    rpm: Some(4),
                    tpm: None,
                },
            ]
        };
        for _ in 0..3 {
            assert!(limits.admit_all(&scopes("a"), 0).is_ok());
        }
        // Key `a` is full: refused by scope 0, and the team's count is untouched.
        let (index, refused) = limits.admit_all(&scopes("a"), 0).unwrap_err();
        assert_eq!(index, 0);
        assert!(!refused.tokens);
        let (requests, _) = limits.admit_all(&scopes("b"), 0).unwrap();
        assert_eq!(
            requests.unwrap().remaining,
            0,
            "the tightest window: the team's"
        );
        // The team is full now: key `b` has room but the team refuses.
        let (index, _) = limits.admit_all(&scopes("b"), 0).unwrap_err();
        assert_eq!(index, 1);
        let (requests, _) = limits.admit_all(&scopes("b"), 60 * SECOND).unwrap();
        assert_eq!(requests.unwrap().remaining, 2);
    }

    #[test]
    fn tokens_are_charged_after_and_block_until_they_leave_the_window() {
        let limits = RateLimits::default();
        let (_, tokens) = limits.admit("k", None, Some(1_000), 0).unwrap();
        assert_eq!(tokens.unwrap().remaining, 1_000);
        limits.charge_tokens("k", 600, 0);
        assert!(limits.admit("k", None, Some(1_000), SECOND).is_ok());
        limits.charge_tokens("k", 600, 10 * SECOND);
        let refused = limits
            .admit("k", None, Some(1_000), 20 * SECOND)
            .unwrap_err();
        assert!(refused.tokens);
        assert_eq!(
            refused.retry_after_ns,
            40 * SECOND as u64,
            "when the first charge leaves"
        );
        assert!(limits.admit("k", None, Some(1_000), 60 * SECOND).is_ok());
        let (_, tokens) = limits.admit("k", None, Some(1_000), 71 * SECOND).unwrap();
        assert_eq!(tokens.unwrap().remaining, 1_000);
    }
}
