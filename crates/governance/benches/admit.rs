//! The per-request governance work on the local path, without IO: checking a virtual key
//! (HMAC-SHA256 + lookup + constant-time compare), a requests- and tokens-per-minute check,
//! and a budget reservation settled to its cost (the key's spend already loaded), and the
//! hand-off of its ledger row. Target: <= 20 us p50 together.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchyard_governance::budget::BudgetScope;
use switchyard_governance::keys::{self, KeySecret};
use switchyard_governance::limits::Period;
use switchyard_governance::rate::RateLimits;
use switchyard_governance::rate::RateScope;
use switchyard_governance::tenants::SpendOf;
use switchyard_governance::{budget::Budgets, KeyCache, Pepper};
use switchyard_store::keys::KeyRow;
use switchyard_store::Store;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pepper = || Pepper::new("bench-pepper-0123456789abcdef0123456789").unwrap();
    let cache = KeyCache::new(Some(pepper()));
    // 10,000 keys in the cache, as a large deployment might hold.
    let mut secrets = Vec::new();
    let rows: Vec<KeyRow> = (0..10_000)
        .map(|i| {
            let secret = KeySecret::generate().unwrap();
            let row = KeyRow {
                id: format!("key_{i:016x}"),
                name: format!("k{i}"),
                prefix: secret.display_prefix().to_owned(),
                hash: keys::to_hex(&pepper().hash(secret.expose())),
                created_at: 1,
                updated_at: 1,
                ..KeyRow::default()
            };
            secrets.push(secret);
            row
        })
        .collect();
    cache.apply(&rows);
    let presented = secrets[4_242].expose().to_owned();
    c.bench_function("key check (10,000 keys)", |b| {
        b.iter(|| black_box(cache.check(black_box(&presented), 0)))
    });

    let rates = RateLimits::default();
    let mut now = 0i64;
    c.bench_function("rpm + tpm check", |b| {
        b.iter(|| {
            // 100 us apart: 600,000 a minute, under the limit of 1,000,000.
            now += 100_000;
            black_box(rates.admit("key_0000000000001092", Some(1_000_000), Some(u32::MAX), now))
        })
    });

    let store = runtime.block_on(Store::open("sqlite::memory:")).unwrap();
    let budgets = Budgets::new(store);
    // First use loads the key's spend from the ledger; afterwards it is memory only.
    runtime
        .block_on(budgets.reserve_key("key_b", i64::MAX / 2, Period::Monthly, 0, 1))
        .unwrap()
        .settle(0);
    c.bench_function("budget reserve + settle", |b| {
        b.iter(|| {
            let reservation = runtime
                .block_on(budgets.reserve_key("key_b", i64::MAX / 2, Period::Monthly, 11_100, 1))
                .unwrap();
            reservation.settle(7_200);
        })
    });

    c.bench_function("key check + rpm/tpm + budget reserve and settle", |b| {
        b.iter(|| {
            let caller = cache.check(&presented, 0).unwrap();
            now += 100_000;
            rates
                .admit(&caller.key_id, Some(1_000_000), Some(u32::MAX), now)
                .unwrap();
            let reservation = runtime
                .block_on(budgets.reserve_key(
                    &caller.key_id,
                    i64::MAX / 2,
                    Period::Monthly,
                    11_100,
                    1,
                ))
                .unwrap();
            reservation.settle(7_200);
        })
    });

    // A team key: its own, its team's and its organisation's limits, all checked at once.
    let spend = [
        SpendOf::Key("key_t".into()),
        SpendOf::Tenants(vec!["team".into()]),
        SpendOf::Tenants(vec!["org".into(), "team".into()]),
    ];
    let ids = ["key_t", "t:team", "t:org"];
    let scopes: Vec<BudgetScope> = (0..3)
        .map(|i| BudgetScope {
            id: ids[i],
            limit: i64::MAX / 2,
            period: Period::Monthly,
            spend: &spend[i],
        })
        .collect();
    let rate_scopes: Vec<RateScope> = ids
        .iter()
        .map(|id| RateScope {
            id,
            rpm: Some(1_000_000),
            tpm: Some(u32::MAX),
        })
        .collect();
    let mut serial = 0u64;
    c.bench_function(
        "key check + key/team/org rpm/tpm + 3 budgets reserve and settle",
        |b| {
            b.iter(|| {
                black_box(cache.check(&presented, 0).unwrap());
                now += 100_000;
                rates.admit_all(&rate_scopes, now).unwrap();
                serial += 1;
                let reservation = runtime
                    .block_on(budgets.reserve(&scopes, 11_100, 1, &serial.to_string()))
                    .unwrap();
                reservation.settle(7_200);
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
