//! Per-deployment health as routing sees it: a circuit breaker (consecutive failures open
//! it; after a cool-down one probe is let through; its success closes it), a cool-down set by
//! a 429's reset time, requests in flight, and an EWMA of time to first token.
//!
//! Pure: times are milliseconds passed in by the caller, so tests drive the clock.

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failures_to_open: u32,
    /// How long it stays open before a probe may go through.
    pub open_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures_to_open: 5,
            open_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    /// Ejected until `until_ms`.
    Open {
        until_ms: u64,
    },
    /// One probe is in flight; everything else stays away.
    HalfOpen,
}

/// One deployment's health.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeploymentHealth {
    pub breaker: BreakerState,
    /// No traffic before this time (a 429 with a reset time).
    pub cooldown_until_ms: u64,
    pub in_flight: u32,
    /// Exponentially weighted mean time to first token, if any request has been timed.
    pub ttft_ewma_ms: Option<f64>,
    /// The last active health check: when, and whether the deployment answered.
    pub last_check: Option<(u64, bool)>,
}

impl Default for DeploymentHealth {
    fn default() -> Self {
        DeploymentHealth {
            breaker: BreakerState::Closed { failures: 0 },
            cooldown_until_ms: 0,
            in_flight: 0,
            ttft_ewma_ms: None,
            last_check: None,
        }
    }
}

/// Weight of the newest sample in the TTFT average.
const EWMA_ALPHA: f64 = 0.2;

/// Whether a deployment may take a request now, and if not why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Yes,
    /// The breaker is half-open and this request is its probe.
    Probe,
    Ejected {
        until_ms: u64,
    },
    CoolingDown {
        until_ms: u64,
    },
    ProbeInFlight,
}

impl DeploymentHealth {
    pub fn admission(&self, now_ms: u64) -> Admission {
        if now_ms < self.cooldown_until_ms {
            return Admission::CoolingDown {
                until_ms: self.cooldown_until_ms,
            };
        }
        match self.breaker {
            BreakerState::Closed { .. } => Admission::Yes,
            BreakerState::Open { until_ms } if now_ms < until_ms => Admission::Ejected { until_ms },
            BreakerState::Open { .. } => Admission::Probe,
            BreakerState::HalfOpen => Admission::ProbeInFlight,
        }
    }

    /// A request is sent (a probe moves the breaker to half-open).
    pub fn on_start(&mut self, now_ms: u64) {
        if self.admission(now_ms) == Admission::Probe {
            self.breaker = BreakerState::HalfOpen;
        }
        self.in_flight += 1;
    }

    /// It succeeded, its first token after `ttft_ms` (if timed).
    pub fn on_success(&mut self, ttft_ms: Option<f64>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.breaker = BreakerState::Closed { failures: 0 };
        if let Some(sample) = ttft_ms {
            self.ttft_ewma_ms = Some(match self.ttft_ewma_ms {
                Some(mean) => mean + EWMA_ALPHA * (sample - mean),
                None => sample,
            });
        }
    }

    /// The request ended without saying anything of the deployment's health (it was never
    /// sent, or the client went away). A probe that ends so is let through again.
    pub fn on_release(&mut self, now_ms: u64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.breaker == BreakerState::HalfOpen {
            self.breaker = BreakerState::Open { until_ms: now_ms };
        }
    }

    /// It failed in a way that counts against the deployment (connect error, timeout, 5xx);
    /// `retry_after_ms` is a 429's reset time, which cools the deployment down instead.
    pub fn on_failure(&mut self, now_ms: u64, retry_after_ms: Option<u64>, config: &BreakerConfig) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.count_failure(now_ms, retry_after_ms, config);
    }

    /// An active health check's outcome: `Ok` when the deployment answered (a success, or a
    /// client error, which a live deployment sends), closing an open breaker at once; `Err`
    /// counts like a failed request (`Some(ms)`: a 429's reset time). It is not a request:
    /// the in-flight count and a half-open probe's slot are left alone.
    pub fn on_check(
        &mut self,
        now_ms: u64,
        outcome: Result<(), Option<u64>>,
        config: &BreakerConfig,
    ) {
        self.last_check = Some((now_ms, outcome.is_ok()));
        match outcome {
            Ok(()) => {
                if matches!(self.breaker, BreakerState::Open { .. }) {
                    self.breaker = BreakerState::Closed { failures: 0 };
                }
            }
            Err(retry_after_ms) => {
                if self.breaker != BreakerState::HalfOpen {
                    self.count_failure(now_ms, retry_after_ms, config);
                }
            }
        }
    }

    fn count_failure(&mut self, now_ms: u64, retry_after_ms: Option<u64>, config: &BreakerConfig) {
        if let Some(wait) = retry_after_ms {
            self.cooldown_until_ms = self.cooldown_until_ms.max(now_ms + wait);
            return;
        }
        self.breaker = match self.breaker {
            BreakerState::HalfOpen => BreakerState::Open {
                until_ms: now_ms + config.open_ms,
            },
            BreakerState::Closed { failures } if failures + 1 >= config.failures_to_open => {
                BreakerState::Open {
                    until_ms: now_ms + config.open_ms,
                }
            }
            BreakerState::Closed { failures } => BreakerState::Closed {
                failures: failures + 1,
            },
            open @ BreakerState::Open { .. } => open,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_probes_and_closes() {
        let config = BreakerConfig {
            failures_to_open: 3,
            open_ms: 1_000,
        };
        let mut h = DeploymentHealth::default();
        for t in 0..3 {
            assert_eq!(h.admission(t), Admission::Yes);
            h.on_start(t);
            h.on_failure(t, None, &config);
        }
        assert_eq!(h.admission(10), Admission::Ejected { until_ms: 1_002 });
        assert_eq!(h.admission(1_002), Admission::Probe);
        h.on_start(1_002);
        assert_eq!(
            h.admission(1_003),
            Admission::ProbeInFlight,
            "one probe at a time"
        );
        h.on_failure(1_050, None, &config);
        assert_eq!(h.admission(1_051), Admission::Ejected { until_ms: 2_050 });
        h.on_start(2_050);
        h.on_success(Some(120.0));
        assert_eq!(h.admission(2_051), Admission::Yes);
        assert_eq!(h.in_flight, 0);
        assert_eq!(h.ttft_ewma_ms, Some(120.0));
    }

    #[test]
    fn a_released_probe_lets_the_next_request_probe() {
        let config = BreakerConfig {
            failures_to_open: 1,
            open_ms: 100,
        };
        let mut h = DeploymentHealth::default();
        h.on_start(0);
        h.on_failure(0, None, &config);
        h.on_start(100);
        assert_eq!(h.breaker, BreakerState::HalfOpen);
        h.on_release(120);
        assert_eq!(h.admission(120), Admission::Probe);
        assert_eq!(h.in_flight, 0);
    }

    #[test]
    fn a_429_cools_down_without_opening_the_breaker() {
        let config = BreakerConfig::default();
        let mut h = DeploymentHealth::default();
        h.on_start(0);
        h.on_failure(100, Some(2_000), &config);
        assert_eq!(h.admission(500), Admission::CoolingDown { until_ms: 2_100 });
        assert_eq!(h.admission(2_100), Admission::Yes);
        assert_eq!(h.breaker, BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn active_checks_eject_and_restore_without_touching_requests() {
        let config = BreakerConfig {
            failures_to_open: 2,
            open_ms: 10_000,
        };
        let mut h = DeploymentHealth::default();
        h.on_start(0);
        h.on_check(1, Err(None), &config);
        h.on_check(2, Err(None), &config);
        assert_eq!(h.admission(3), Admission::Ejected { until_ms: 10_002 });
        assert_eq!(h.in_flight, 1, "a check is not a request");
        h.on_check(500, Ok(()), &config);
        assert_eq!(
            h.admission(501),
            Admission::Yes,
            "a good check ends ejection early"
        );
        h.on_check(600, Err(Some(3_000)), &config);
        assert_eq!(h.admission(601), Admission::CoolingDown { until_ms: 3_600 });
        assert_eq!(h.breaker, BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn ttft_is_an_exponential_average() {
        let mut h = DeploymentHealth::default();
        for sample in [100.0, 200.0] {
            h.on_start(0);
            h.on_success(Some(sample));
        }
        assert_eq!(h.ttft_ewma_ms, Some(120.0));
    }
}
