//! Ranking a route of 10 deployments for one request (capability and health filtering, then
//! the strategy), as the gateway will do per request. Target: <= 5 us.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchyard_routing::catalog::Catalog;
use switchyard_routing::health::DeploymentHealth;
use switchyard_routing::needs::Needs;
use switchyard_routing::strategy::{rank, Strategy, Target};
use switchyard_types::{Deployment, Hosting, Jurisdiction};

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin().unwrap();
    let models = [
        "gpt-4o-mini",
        "gpt-4.1-mini",
        "claude-haiku-4-5",
        "gemini-2.5-flash",
        "mistral-small-latest",
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "command-r",
        "gpt-5-mini",
        "nova-lite",
        "unknown-model",
    ];
    let deployments: Vec<Deployment> = models
        .iter()
        .enumerate()
        .map(|(i, m)| Deployment {
            id: format!("p{i}/{m}"),
            provider_index: i,
            provider_id: format!("p{i}"),
            upstream_model: (*m).to_owned(),
            jurisdiction: Jurisdiction("EU".to_owned()),
            hosting: Hosting::Cloud,
            operator: "test".to_owned(),
            retention: switchyard_types::Retention::Unknown,
        })
        .collect();
    let health: Vec<DeploymentHealth> = (0..10)
        .map(|i| DeploymentHealth {
            in_flight: (i * 7 % 5) as u32,
            ttft_ewma_ms: Some(100.0 + f64::from(i) * 13.0),
            ..DeploymentHealth::default()
        })
        .collect();
    let infos: Vec<_> = deployments
        .iter()
        .map(|d| catalog.lookup(&d.upstream_model))
        .collect();
    let targets: Vec<Target<'_>> = (0..10)
        .map(|i| Target {
            deployment: &deployments[i],
            weight: 10 + i as u32,
            info: infos[i],
            health: &health[i],
        })
        .collect();
    let needs = Needs {
        tools: true,
        prompt_tokens: 1_200,
        max_output: 256,
        ..Needs::default()
    };
    let mut group = c.benchmark_group("plan_10_deployments");
    for (name, strategy) in Strategy::ALL {
        let mut seed = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                seed = seed.wrapping_add(1);
                black_box(rank(
                    strategy,
                    black_box(&targets),
                    &needs,
                    1_000,
                    seed,
                    256,
                ))
            })
        });
    }
    group.bench_function("catalog_lookup", |b| {
        b.iter(|| {
            black_box(catalog.lookup(black_box("eu.anthropic.claude-sonnet-4-5-20250929-v1:0")))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
