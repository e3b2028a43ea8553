//! Ordering a route's deployments for one request: capability and health filtering first,
//! then the model's strategy. Every deployment comes out with the reason it was admitted
//! (and where) or skipped, which is what `route explain` shows.
//!
//! Pure: the health snapshot, the clock and the random draw are arguments.

use switchyard_types::Deployment;

use crate::catalog::ModelInfo;
use crate::health::{Admission, DeploymentHealth};
use crate::needs::Needs;

/// How a model's admitted deployments are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// In the configured order; later ones are fallbacks.
    #[default]
    Priority,
    /// Drawn at random in proportion to the configured weights (later draws are fallbacks).
    Weighted,
    /// Power of two choices on the EWMA of time to first token; untimed ones first.
    LeastLatency,
    /// Fewest requests in flight first.
    LeastBusy,
    /// Lowest expected cost for this request first (unknown prices last).
    Cheapest,
}

impl Strategy {
    pub const ALL: [(&'static str, Strategy); 5] = [
        ("priority", Strategy::Priority),
        ("weighted", Strategy::Weighted),
        ("least-latency", Strategy::LeastLatency),
        ("least-busy", Strategy::LeastBusy),
        ("cheapest", Strategy::Cheapest),
    ];

    pub fn name(self) -> &'static str {
        Strategy::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("priority", |(n, _)| n)
    }

    pub fn parse(name: &str) -> Option<Strategy> {
        Strategy::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }
}

/// One deployment of a route, with what routing knows of it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub deployment: &'a Deployment,
    /// For [`Strategy::Weighted`].
    pub weight: u32,
    /// Capabilities and price, when the catalog or config knows them.
    pub info: Option<&'a ModelInfo>,
    pub health: &'a DeploymentHealth,
}

/// Why a deployment was admitted or skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// Admitted: its position in the config.
    Priority(usize),
    /// Admitted: drawn with this weight out of the total left.
    Weighted { weight: u32, of: u32 },
    /// Admitted: EWMA time to first token (`None`: not timed yet).
    Latency(Option<f64>),
    /// Admitted: requests in flight.
    Busy(u32),
    /// Admitted: expected cost in USD (`None`: price unknown).
    Cost(Option<f64>),
    /// Admitted as the half-open breaker's probe.
    Probe,
    /// Skipped: lacks what the request needs.
    Incapable(&'static str),
    /// Skipped: its provider cannot do what the request asks (the adapter's own check).
    Unable(String),
    /// Skipped: breaker open until this time.
    Ejected { until_ms: u64 },
    /// Skipped: cooling down after a 429 until this time.
    CoolingDown { until_ms: u64 },
    /// Skipped: the breaker's probe is in flight.
    ProbeInFlight,
    /// Skipped: a sovereignty policy of the request refuses it.
    Refused { policy: String, reason: String },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Priority(p) => write!(f, "priority {p}"),
            Why::Weighted { weight, of } => write!(f, "weighted draw ({weight} of {of})"),
            Why::Latency(Some(ms)) => write!(f, "time to first token {ms:.0} ms"),
            Why::Latency(None) => f.write_str("not timed yet"),
            Why::Busy(n) => write!(f, "{n} in flight"),
            Why::Cost(Some(usd)) => write!(f, "expected cost ${usd:.6}"),
            Why::Cost(None) => f.write_str("price unknown"),
            Why::Probe => f.write_str("half-open: probe"),
            Why::Incapable(what) => write!(f, "skipped: {what}"),
            Why::Unable(why) => write!(f, "skipped: {why}"),
            Why::Ejected { until_ms } => write!(f, "skipped: ejected until {until_ms} ms"),
            Why::CoolingDown { until_ms } => {
                write!(f, "skipped: rate-limited until {until_ms} ms")
            }
            Why::ProbeInFlight => f.write_str("skipped: probe in flight"),
            Why::Refused { policy, reason } => {
                write!(f, "refused by policy `{policy}`: {reason}")
            }
        }
    }
}

/// A deployment's place in the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked<'a> {
    pub deployment: &'a Deployment,
    /// Index in the route's configured list.
    pub position: usize,
    pub why: Why,
}

/// The admitted deployments in the order to try them, and the skipped ones.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ranking<'a> {
    pub admitted: Vec<Ranked<'a>>,
    pub skipped: Vec<Ranked<'a>>,
}

impl<'a> Ranking<'a> {
    /// Skips every deployment `reason` gives a reason for: admitted ones move to the skipped,
    /// and skipped ones keep a refusal or a missing capability but have a passing reason
    /// (health) replaced, since they could not be used even when well.
    pub fn skip_where(&mut self, mut reason: impl FnMut(&Ranked<'a>) -> Option<Why>) {
        for skipped in &mut self.skipped {
            if !matches!(
                skipped.why,
                Why::Refused { .. } | Why::Incapable(_) | Why::Unable(_)
            ) {
                if let Some(why) = reason(skipped) {
                    skipped.why = why;
                }
            }
        }
        let mut kept = Vec::with_capacity(self.admitted.len());
        for ranked in self.admitted.drain(..) {
            match reason(&ranked) {
                None => kept.push(ranked),
                Some(why) => self.skipped.push(Ranked { why, ..ranked }),
            }
        }
        self.admitted = kept;
    }
}

/// Orders `targets` for a request with `needs` at `now_ms`. `random` seeds the weighted and
/// power-of-two draws; `expected_output` is the output tokens assumed for cost.
pub fn rank<'a>(
    strategy: Strategy,
    targets: &[Target<'a>],
    needs: &Needs,
    now_ms: u64,
    random: u64,
    expected_output: u32,
) -> Ranking<'a> {
    let mut ranking = Ranking::default();
    let mut open: Vec<(usize, bool)> = Vec::with_capacity(targets.len());
    for (position, target) in targets.iter().enumerate() {
        let skip = |why| Ranked {
            deployment: target.deployment,
            position,
            why,
        };
        if let Some(what) = target.info.and_then(|i| needs.unmet(&i.capabilities)) {
            ranking.skipped.push(skip(Why::Incapable(what)));
            continue;
        }
        if needs.min_tier > 0 {
            let below = match target.info {
                Some(info) if info.tier >= needs.min_tier => None,
                Some(_) => Some("below the minimum quality tier"),
                None => Some("quality tier unknown"),
            };
            if let Some(what) = below {
                ranking.skipped.push(skip(Why::Incapable(what)));
                continue;
            }
        }
        match target.health.admission(now_ms) {
            Admission::Yes => open.push((position, false)),
            Admission::Probe => open.push((position, true)),
            Admission::Ejected { until_ms } => {
                ranking.skipped.push(skip(Why::Ejected { until_ms }))
            }
            Admission::CoolingDown { until_ms } => {
                ranking.skipped.push(skip(Why::CoolingDown { until_ms }))
            }
            Admission::ProbeInFlight => ranking.skipped.push(skip(Why::ProbeInFlight)),
        }
    }
    let mut rng = SplitMix(random);
    let order: Vec<(usize, Why)> = match strategy {
        Strategy::Priority => open.iter().map(|&(p, _)| (p, Why::Priority(p))).collect(),
        Strategy::Weighted => weighted(targets, &open, &mut rng),
        Strategy::LeastBusy => {
            let mut order: Vec<(usize, Why)> = open
                .iter()
                .map(|&(p, _)| (p, Why::Busy(targets[p].health.in_flight)))
                .collect();
            order.sort_by_key(|(p, _)| (targets[*p].health.in_flight, *p));
            order
        }
        Strategy::Cheapest => {
            let cost = |p: usize| {
                targets[p].info.and_then(|i| i.price).map(|price| {
                    price.cost(
                        u64::from(needs.prompt_tokens),
                        0,
                        u64::from(expected_output),
                    )
                })
            };
            let mut order: Vec<(usize, Why)> =
                open.iter().map(|&(p, _)| (p, Why::Cost(cost(p)))).collect();
            order.sort_by(|(a, _), (b, _)| {
                let key = |p: usize| cost(p).unwrap_or(f64::INFINITY);
                key(*a).total_cmp(&key(*b)).then(a.cmp(b))
            });
            order
        }
        Strategy::LeastLatency => least_latency(targets, &open, &mut rng),
    };
    for (position, why) in order {
        let probe = open.iter().any(|&(p, probe)| p == position && probe);
        ranking.admitted.push(Ranked {
            deployment: targets[position].deployment,
            position,
            why: if probe { Why::Probe } else { why },
        });
    }
    ranking
}

/// Weighted draws without replacement: each draw picks among those left in proportion to
/// their weights (weight 0 never first unless all left are 0, then in configured order).
fn weighted(
    targets: &[Target<'_>],
    open: &[(usize, bool)],
    rng: &mut SplitMix,
) -> Vec<(usize, Why)> {
    let mut left: Vec<usize> = open.iter().map(|&(p, _)| p).collect();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let total: u32 = left.iter().map(|&p| targets[p].weight).sum();
        let chosen = if total == 0 {
            0
        } else {
            let mut draw = (rng.next() % u64::from(total)) as u32;
            let mut chosen = 0;
            for (i, &p) in left.iter().enumerate() {
                let w = targets[p].weight;
                if draw < w {
                    chosen = i;
                    break;
                }
                draw -= w;
            }
            chosen
        };
        let p = left.remove(chosen);
        order.push((
            p,
            Why::Weighted {
                weight: targets[p].weight,
                of: total,
            },
        ));
    }
    order
}

/// Two candidates drawn at random; the one with the lower EWMA time to first token (untimed
/// counts as 0, so new deployments get explored) goes first; the rest follow by EWMA.
fn least_latency(
    targets: &[Target<'_>],
    open: &[(usize, bool)],
    rng: &mut SplitMix,
) -> Vec<(usize, Why)> {
    let ewma = |p: usize| targets[p].health.ttft_ewma_ms;
    let key = |p: usize| ewma(p).unwrap_or(0.0);
    let mut rest: Vec<usize> = open.iter().map(|&(p, _)| p).collect();
    let mut order = Vec::with_capacity(rest.len());
    if rest.len() >= 2 {
        let a = (rng.next() % rest.len() as u64) as usize;
        let mut b = (rng.next() % (rest.len() as u64 - 1)) as usize;
        if b >= a {
            b += 1;
        }
        let (pa, pb) = (rest[a], rest[b]);
        let first = if key(pb) < key(pa) { b } else { a };
        order.push(rest.remove(first));
    }
    rest.sort_by(|a, b| key(*a).total_cmp(&key(*b)).then(a.cmp(b)));
    order.extend(rest);
    order
        .into_iter()
        .map(|p| (p, Why::Latency(ewma(p))))
        .collect()
}

/// A small, fast, seedable generator (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
