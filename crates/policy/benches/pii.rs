//! PII scan throughput: plain prose (the common case), and prose with personal data in
//! every few lines; every default kind on.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchyard_policy::pii::{Detector, Mode, Rule, Vault};

const PROSE: &str = "The committee met on 14 March 2024 to review the quarterly figures. \
Revenue rose by 12.5% to $4.2 million, while costs fell in 3 of the 7 regions. \
Version 2.1.3 of the reporting tool shipped at 09:30, and the team closed 48 tickets. \
Please read chapter 11, pages 200-215, before the next session in room 4B. ";

const WITH_PII: &str = "Contact jane.doe@example.com or call +44 20 7946 0958 about invoice 2291. \
Transfer to DE89 3704 0044 0532 0130 00 and keep card 4111 1111 1111 1111 on file; \
the server at 192.168.10.24 logged the request. ";

fn corpus(unit: &str, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + unit.len());
    while text.len() < bytes {
        text.push_str(unit);
    }
    text
}

fn scan(c: &mut Criterion) {
    let detector = Detector::default();
    let kinds = detector.kinds(None).unwrap_or_default();
    let mut group = c.benchmark_group("pii");
    let plain = corpus(PROSE, 1 << 20);
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("scan_plain_1MiB", |b| {
        b.iter(|| detector.scan(std::hint::black_box(&plain), kinds))
    });
    let mixed = corpus(&format!("{PROSE}{WITH_PII}"), 1 << 20);
    group.throughput(Throughput::Bytes(mixed.len() as u64));
    group.bench_function("mask_with_pii_1MiB", |b| {
        b.iter(|| {
            let mut vault = Vault::default();
            let rule = Rule {
                mode: Mode::MaskAndRestore,
                kinds,
            };
            vault.mask(&detector, rule, std::hint::black_box(&mixed))
        })
    });
    // 30,000 distinct e-mail addresses in prose (each its own placeholder): masking and
    // restoring must stay linear however many findings there are.
    let mut many = String::new();
    for i in 0..30_000 {
        many.push_str(&format!(
            "Write to user{i}.name@example.org about ticket {i}. {PROSE}"
        ));
    }
    let rule = Rule {
        mode: Mode::MaskAndRestore,
        kinds,
    };
    group.throughput(Throughput::Bytes(many.len() as u64));
    group.sample_size(10);
    group.bench_function("mask_30k_distinct_findings", |b| {
        b.iter(|| {
            let mut vault = Vault::default();
            vault.mask(&detector, rule, std::hint::black_box(&many))
        })
    });
    let mut vault = Vault::default();
    let masked = vault.mask(&detector, rule, &many).unwrap_or_default();
    group.throughput(Throughput::Bytes(masked.len() as u64));
    group.bench_function("restore_30k_distinct_findings", |b| {
        b.iter(|| vault.restore(std::hint::black_box(&masked)).len())
    });
    group.bench_function("restore_stream_30k_distinct_findings", |b| {
        b.iter(|| {
            let mut restorer = switchyard_policy::pii::StreamRestorer::default();
            let mut n = 0;
            let mut rest = masked.as_str();
            while !rest.is_empty() {
                let mut cut = rest.len().min(7);
                while !rest.is_char_boundary(cut) {
                    cut += 1;
                }
                n += restorer.push(&vault, &rest[..cut]).len();
                rest = &rest[cut..];
            }
            n + restorer.finish(&vault).len()
        })
    });
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
