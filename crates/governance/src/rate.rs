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

    /// Admits one request at `now_ns` (any monotonic clock), or says which limit refuses it
    /// and for how long. Returns the request and token windows after admission.
    pub fn admit(
        &self,
        key: &str,
        rpm: Option<u32>,
        tpm: Option<u32>,
        now_ns: i64,
    ) -> Result<(Option<Window>, Option<Window>), Refused> {
        if rpm.is_none() && tpm.is_none() {
            return Ok((None, None));
        }
        let entry = self.entry(key);
        let mut rate = match entry.lock() {
            Ok(rate) => rate,
            Err(poisoned) => poisoned.into_inner(),
        };
        rate.expire(now_ns);
        if let Some(tpm) = tpm {
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
        let requests = match rpm {
            None => None,
            Some(rpm) => {
                if rate.requests.len() >= rpm as usize {
                    let oldest = rate.requests.front().copied().unwrap_or(now_ns);
                    return Err(Refused {
                        tokens: false,
                        retry_after_ns: nonneg(oldest + MINUTE_NS - now_ns),
                        window: rate.request_window(rpm, now_ns),
                    });
                }
                rate.requests.push_back(now_ns);
                Some(rate.request_window(rpm, now_ns))
            }
        };
        let tokens = tpm.map(|tpm| rate.token_window(tpm, now_ns));
        Ok((requests, tokens))
    }

    /// Charges the tokens a finished request used.
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
