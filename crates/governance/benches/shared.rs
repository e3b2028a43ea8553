//! Governance on the Redis path: a key's request-window check plus a budget reservation
//! and its settlement, against the Redis named by `SWITCHYARD_TEST_REDIS_URL` (skipped
//! without it). Prints p50 / p99 of 10,000 sequential admissions (each two round trips:
//! window + reserve; the settlement's round trip is the third, timed too). Target: p99 <= 1 ms
//! on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use switchyard_governance::shared::{Reserved, Shared};

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
        let mut admit = Vec::with_capacity(10_000);
        let mut settle = Vec::with_capacity(10_000);
        for i in 0..10_500u64 {
            let now = 1_000_000 + i as i64;
            let started = Instant::now();
            let window = shared
                .admit_request("key_bench", 1_000_000, now, &format!("r{i}"))
                .await
                .unwrap();
            assert!(window.is_ok());
            let reserved = shared
                .reserve("key_bench", 0, i64::MAX / 2, 11_100, Some(0), 0)
                .await
                .unwrap();
            assert_eq!(reserved, Reserved::Yes);
            let admitted = started.elapsed();
            let started = Instant::now();
            shared.settle("key_bench", 0, 11_100, 7_200).await.unwrap();
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
