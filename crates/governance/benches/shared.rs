//! Governance on the Redis path: a key's request-window check plus a budget reservation
//! and its settlement, against the Redis named by `SWITCHYARD_TEST_REDIS_URL` (skipped
//! without it). Prints p50 / p99 of 10,000 sequential admissions (each two round trips:
//! window + reserve; the settlement's round trip is the third, timed too). Target: p99 <= 1 ms
//! on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use switchyard_governance::rate::RateScope;
use switchyard_governance::shared::{Reserved, Shared, SharedBudget};

fn main() {
    let Ok(url) = std::env::var("SWITCHYARD_TEST_REDIS_URL") else {
        eprintln!("SWITCHYARD_TEST_REDIS_URL not set: Redis bench skipped");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let shared = Shared::connect(&url)
            .await
            .unwrap()
            .with_prefix(&format!("bench{:08x}:", std::process::id()));
        // A team key: its own, its team's and its organisation's counters, each call one
        // script over all three.
        let ids = ["key_bench", "t:team", "t:org"];
        let rates: Vec<RateScope> = ids
            .iter()
            .map(|id| RateScope {
                id,
                rpm: Some(1_000_000),
                tpm: Some(u32::MAX),
            })
            .collect();
        let budgets: Vec<SharedBudget> = ids
            .iter()
            .map(|id| SharedBudget {
                id: (*id).to_owned(),
                period_start: 0,
                limit: i64::MAX / 2,
                seed: Some(0),
                ttl_ms: 0,
            })
            .collect();
        let settle_ids: Vec<(String, i64)> = ids.iter().map(|id| ((*id).to_owned(), 0)).collect();
        let mut admit = Vec::with_capacity(10_000);
        let mut settle = Vec::with_capacity(10_000);
        for i in 0..10_500u64 {
            let now = 1_000_000 + i as i64;
            let started = Instant::now();
            let member = format!("r{i}");
            let window = shared.admit_all(&rates, now, &member).await.unwrap();
            assert!(window.is_ok());
            let reserved = shared
                .reserve(&budgets, 11_100, &member, now, now + 900_000)
                .await
                .unwrap();
            assert_eq!(reserved, Reserved::Yes);
            let admitted = started.elapsed();
            let started = Instant::now();
            shared
                .settle(&settle_ids, &member, 11_100, 7_200)
                .await
                .unwrap();
            let settled = started.elapsed();
            if i >= 500 {
                admit.push(admitted);
                settle.push(settled);
            }
        }
        for (name, mut samples) in [("window + reserve", admit), ("settle", settle)] {
            samples.sort();
            let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
            println!(
                "{name}: p50 {:?} p99 {:?} max {:?}",
                at(0.5),
                at(0.99),
                samples[samples.len() - 1]
            );
        }
    });
}
