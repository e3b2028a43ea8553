//! Policy evaluation per candidate deployment: target <= 2 us.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchyard_policy::{first_refusal, Policy, PolicySpec, Tags};
use switchyard_types::{Hosting, Retention};

fn bench(c: &mut Criterion) {
    let list = |items: &[&str]| Some(items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let eu = Policy::new(&PolicySpec {
        name: "eu-only".into(),
        allow_jurisdictions: list(&["EU", "CH"]),
        deny_jurisdictions: vec!["RU".into()],
        allow_operators: list(&["AWS", "Mistral AI", "self"]),
        hosting: list(&["cloud", "on-prem", "embedded"]),
        zero_retention: true,
        allow_models: list(&["chat", "auto", "embed"]),
        ..PolicySpec::default()
    })
    .unwrap();
    let tenant = Policy::new(&PolicySpec {
        name: "tenant".into(),
        deny_jurisdictions: vec!["US".into()],
        ..PolicySpec::default()
    })
    .unwrap();
    let passing = Tags::new("DE", "AWS", Hosting::Cloud, Retention::Zero).unwrap();
    let failing = Tags::new("US", "OpenAI", Hosting::Cloud, Retention::Days(30)).unwrap();
    let policies = [&eu, &tenant];
    c.bench_function("two policies, a passing candidate", |b| {
        b.iter(|| black_box(first_refusal(black_box(&policies), "auto", &passing)))
    });
    c.bench_function(
        "two policies, a refused candidate (reason text made)",
        |b| b.iter(|| black_box(first_refusal(black_box(&policies), "auto", &failing))),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
