use switchyard_types::{Deployment, Hosting, Jurisdiction};

use super::*;
use crate::catalog::{Capabilities, Price};
use crate::health::BreakerState;

fn deployment(id: &str) -> Deployment {
    Deployment {
        id: id.to_owned(),
        provider_index: 0,
        provider_id: id.to_owned(),
        upstream_model: id.to_owned(),
        jurisdiction: Jurisdiction("EU".to_owned()),
        hosting: Hosting::Cloud,
        operator: "test".to_owned(),
        retention: switchyard_types::Retention::Unknown,
    }
}

fn info(tools: bool, vision: bool, input: f64, output: f64) -> ModelInfo {
    ModelInfo {
        capabilities: Capabilities {
            tools,
            vision,
            json_schema: true,
            reasoning: false,
            context_window: 128_000,
            max_output: 16_000,
        },
        price: Some(Price {
            input,
            output,
            cached_input: input / 10.0,
        }),
        tier: 3,
    }
}

fn ids<'a>(ranked: &[Ranked<'a>]) -> Vec<&'a str> {
    ranked.iter().map(|r| r.deployment.id.as_str()).collect()
}

struct Fixture {
    deployments: Vec<Deployment>,
    infos: Vec<Option<ModelInfo>>,
    health: Vec<DeploymentHealth>,
    weights: Vec<u32>,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        Fixture {
            deployments: (0..n).map(|i| deployment(&format!("d{i}"))).collect(),
            infos: vec![None; n],
            health: vec![DeploymentHealth::default(); n],
            weights: vec![1; n],
        }
    }

    fn targets(&self) -> Vec<Target<'_>> {
        (0..self.deployments.len())
            .map(|i| Target {
                deployment: &self.deployments[i],
                weight: self.weights[i],
                info: self.infos[i].as_ref(),
                health: &self.health[i],
            })
            .collect()
    }
}

#[test]
fn capabilities_filter_first_and_say_why() {
    let mut f = Fixture::new(3);
    f.infos[0] = Some(info(false, true, 1.0, 1.0));
    f.infos[1] = Some(info(true, false, 1.0, 1.0));
    let needs = Needs {
        tools: true,
        vision: true,
        ..Needs::default()
    };
    let r = rank(Strategy::Priority, &f.targets(), &needs, 0, 0, 100);
    assert_eq!(
        ids(&r.admitted),
        ["d2"],
        "unknown capabilities are not excluded"
    );
    assert_eq!(r.skipped[0].why, Why::Incapable("no tool calling"));
    assert_eq!(r.skipped[1].why, Why::Incapable("no image input"));
    assert_eq!(r.skipped[1].why.to_string(), "skipped: no image input");
}

#[test]
fn ejected_and_cooling_deployments_get_no_traffic_until_their_probe() {
    let mut f = Fixture::new(3);
    f.health[0].breaker = BreakerState::Open { until_ms: 5_000 };
    f.health[1].cooldown_until_ms = 2_000;
    let r = rank(
        Strategy::Priority,
        &f.targets(),
        &Needs::default(),
        1_000,
        0,
        0,
    );
    assert_eq!(ids(&r.admitted), ["d2"]);
    assert_eq!(r.skipped[0].why, Why::Ejected { until_ms: 5_000 });
    assert_eq!(r.skipped[1].why, Why::CoolingDown { until_ms: 2_000 });
    let r = rank(
        Strategy::Priority,
        &f.targets(),
        &Needs::default(),
        5_000,
        0,
        0,
    );
    assert_eq!(ids(&r.admitted), ["d0", "d1", "d2"]);
    assert_eq!(r.admitted[0].why, Why::Probe);
    f.health[0].breaker = BreakerState::HalfOpen;
    let r = rank(
        Strategy::Priority,
        &f.targets(),
        &Needs::default(),
        5_001,
        0,
        0,
    );
    assert_eq!(ids(&r.admitted), ["d1", "d2"]);
    assert_eq!(r.skipped[0].why, Why::ProbeInFlight);
}

#[test]
fn cheapest_busy_and_latency_orders() {
    let mut f = Fixture::new(4);
    f.infos[0] = Some(info(true, true, 3.0, 15.0));
    f.infos[1] = Some(info(true, true, 0.15, 0.6));
    f.infos[2] = Some(info(true, true, 1.25, 10.0));
    let needs = Needs {
        prompt_tokens: 1_000,
        ..Needs::default()
    };
    let r = rank(Strategy::Cheapest, &f.targets(), &needs, 0, 0, 500);
    assert_eq!(
        ids(&r.admitted),
        ["d1", "d2", "d0", "d3"],
        "unknown price last"
    );
    assert_eq!(
        r.admitted[0].why,
        Why::Cost(Some((1_000.0 * 0.15 + 500.0 * 0.6) / 1e6))
    );

    f.health[0].in_flight = 5;
    f.health[1].in_flight = 2;
    f.health[2].in_flight = 0;
    f.health[3].in_flight = 2;
    let r = rank(Strategy::LeastBusy, &f.targets(), &needs, 0, 0, 0);
    assert_eq!(ids(&r.admitted), ["d2", "d1", "d3", "d0"]);

    for (i, ms) in [300.0, 100.0, 200.0, 400.0].into_iter().enumerate() {
        f.health[i].ttft_ewma_ms = Some(ms);
    }
    for seed in 0..50 {
        let r = rank(Strategy::LeastLatency, &f.targets(), &needs, 0, seed, 0);
        assert_eq!(r.admitted.len(), 4);
        // The first is the better of two random picks: never the slowest.
        assert_ne!(r.admitted[0].deployment.id, "d3", "seed {seed}");
        let rest: Vec<f64> = r.admitted[1..]
            .iter()
            .map(|c| f.health[c.position].ttft_ewma_ms.unwrap())
            .collect();
        assert!(rest.windows(2).all(|w| w[0] <= w[1]), "the rest by latency");
    }
}

#[test]
fn weighted_draws_follow_the_weights_within_three_percent() {
    let mut f = Fixture::new(3);
    f.weights = vec![50, 30, 20];
    let targets = f.targets();
    let mut firsts = [0u32; 3];
    let runs = 10_000u64;
    for seed in 0..runs {
        let r = rank(
            Strategy::Weighted,
            &targets,
            &Needs::default(),
            0,
            seed.wrapping_mul(0x9E37_79B9),
            0,
        );
        assert_eq!(r.admitted.len(), 3, "the others stay as fallbacks");
        firsts[r.admitted[0].position] += 1;
    }
    for (i, expected) in [0.5, 0.3, 0.2].into_iter().enumerate() {
        let share = f64::from(firsts[i]) / runs as f64;
        assert!(
            (share - expected).abs() <= 0.03,
            "d{i}: {share} vs {expected}"
        );
    }
}

#[test]
fn strategies_parse_by_name() {
    assert_eq!(
        Strategy::parse("least-latency"),
        Some(Strategy::LeastLatency)
    );
    assert_eq!(Strategy::parse("fastest"), None);
}
