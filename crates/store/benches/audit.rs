//! Audit appends (off the request path, in batches): records per second into the chain on
//! SQLite (a file, WAL), with the signed head rewritten per batch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchyard_store::audit::{CheckpointEvery, Entry, Signer};
use switchyard_store::Store;

fn entries(n: usize, from: usize) -> Vec<Entry> {
    (from..from + n)
        .map(|i| Entry {
            at: 1_700_000_000_000 + i as i64,
            kind: "request".into(),
            ref_id: format!("req_{i:024x}"),
            record: format!(
                r#"{{"v":1,"request_id":"req_{i:024x}","at":1700000000000,"model":"chat","deployment":"de/gpt-4o-mini","jurisdiction":"DE","policies":[{{"name":"eu-only","version":"0123456789abcdef"}}],"decision":"allowed","status":200,"pii_findings":0,"key_id":"key_0123","tenant_id":null,"prompt_sha256":"{:064x}","answer_sha256":"{:064x}"}}"#,
                i, i
            ),
            seq: None,
        })
        .collect()
}

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("sy-audit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = runtime
        .block_on(Store::open(&format!(
            "sqlite://{}",
            dir.join("bench.db").display()
        )))
        .unwrap();
    let (seed, _) = Signer::generate().unwrap();
    let signer = Signer::from_base64(&seed).unwrap();
    let every = CheckpointEvery {
        records: 1_000,
        millis: 300_000,
    };
    let lane = runtime
        .block_on(store.open_audit_lane("bench", Some(&signer), every))
        .unwrap();
    let mut group = c.benchmark_group("audit");
    group.sample_size(20);
    let mut next = 0usize;
    group.throughput(Throughput::Elements(256));
    group.bench_function("append_batch_256_signed_sqlite_file", |b| {
        b.iter(|| {
            let batch = entries(256, next);
            next += 256;
            runtime
                .block_on(store.append_audit(lane, &batch, Some(&signer), every))
                .unwrap()
        })
    });
    group.finish();
    runtime.block_on(store.close());
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, append);
criterion_main!(benches);
