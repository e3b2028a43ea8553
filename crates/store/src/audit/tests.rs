#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

use super::*;

const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn entry(i: usize) -> Entry {
    Entry {
        at: 1_700_000_000_000 + i as i64,
        kind: "request".into(),
        ref_id: format!("req_{i:04}"),
        record: format!(r#"{{"kind":"request","request_id":"req_{i:04}","status":200}}"#),
    }
}

async fn filled(n: usize, batch: usize) -> (Store, Signer) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let signer = Signer::from_base64(SEED).unwrap();
    let every = CheckpointEvery {
        records: 10,
        millis: i64::MAX,
    };
    let entries: Vec<Entry> = (1..=n).map(entry).collect();
    for chunk in entries.chunks(batch) {
        store
            .append_audit(chunk, Some(&signer), every)
            .await
            .unwrap();
    }
    (store, signer)
}

async fn check(store: &Store, key: &str) -> Verdict {
    let records = store.audit_records(i64::MIN, i64::MAX).await.unwrap();
    let checkpoints = store.audit_checkpoints().await.unwrap();
    let head = store.audit_head().await.unwrap();
    verify(&records, &checkpoints, head.as_ref(), Some(key))
}

async fn sql(store: &Store, text: &str) {
    sqlx::query(text).execute(store.pool()).await.unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_untouched_log_verifies_with_checkpoints_and_head() {
    runtime().block_on(async {
        let (store, signer) = filled(35, 4).await;
        let verdict = check(&store, &signer.public_key()).await;
        assert_eq!(verdict.first_bad, None);
        assert_eq!(verdict.records, 35);
        assert_eq!(verdict.head, Some(35));
        assert!(verdict.checkpoints >= 3, "{verdict:?}");
        // Another key does not vouch for it.
        let (_, other) = Signer::generate().unwrap();
        let verdict = check(&store, &other).await;
        assert!(!verdict.ok());
        // The chain is the issue's formula.
        let records = store.audit_records(1, 2).await.unwrap();
        let h1 = chain(&[0u8; 32], &records[0].record);
        assert_eq!(hex(&h1), records[0].hash);
        assert_eq!(hex(&chain(&h1, &records[1].record)), records[1].hash);
    });
}

#[test]
fn rewriting_a_record_and_every_later_hash_is_caught_by_the_signatures() {
    runtime().block_on(async {
        let (store, signer) = filled(30, 1).await;
        // An attacker edits record 14 and recomputes the chain from there.
        sql(
            &store,
            "UPDATE audit_log SET record = replace(record, '200', '500') WHERE seq = 14",
        )
        .await;
        let records = store.audit_records(1, 100).await.unwrap();
        let mut previous = unhex(&records[12].hash).unwrap();
        for r in &records[13..] {
            previous = chain(&previous, &r.record);
            sql(
                &store,
                &format!(
                    "UPDATE audit_log SET hash = '{}' WHERE seq = {}",
                    hex(&previous),
                    r.seq
                ),
            )
            .await;
        }
        let verdict = check(&store, &signer.public_key()).await;
        let (seq, why) = verdict.first_bad.unwrap();
        // The checkpoint at 10 still holds; the one at 20 does not: 11-20 is named.
        assert_eq!(seq, 11, "{why}");
        assert!(why.contains("11-20"), "{why}");
    });
}

#[derive(Debug, Clone)]
enum Tamper {
    Edit(usize),
    Delete(usize),
    Swap(usize, usize),
    Truncate(usize),
    EditHash(usize),
}

fn tamper(n: usize) -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (1..=n).prop_map(Tamper::Edit),
        (1..=n).prop_map(Tamper::Delete),
        (1..=n, 1..=n)
            .prop_filter("two records", |(a, b)| a != b)
            .prop_map(|(a, b)| Tamper::Swap(a.min(b), a.max(b))),
        (0..n).prop_map(Tamper::Truncate),
        (1..=n).prop_map(Tamper::EditHash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every edit, deletion, reordering and truncation is caught, and the first bad
    /// position named is the first one touched.
    #[test]
    fn every_tampering_is_caught_and_the_first_bad_record_named(
        (n, batch, change) in (2usize..40, 1usize..6).prop_flat_map(|(n, b)| (Just(n), Just(b), tamper(n)))
    ) {
        let (seq, expected, why) = runtime().block_on(async {
            let (store, signer) = filled(n, batch).await;
            let expected = match change {
                Tamper::Edit(k) => {
                    sql(&store, &format!("UPDATE audit_log SET record = record || ' ' WHERE seq = {k}")).await;
                    k
                }
                Tamper::EditHash(k) => {
                    sql(&store, &format!("UPDATE audit_log SET hash = '{}' WHERE seq = {k}", "0".repeat(64))).await;
                    k
                }
                Tamper::Delete(k) => {
                    sql(&store, &format!("DELETE FROM audit_log WHERE seq = {k}")).await;
                    k
                }
                Tamper::Swap(a, b) => {
                    sql(&store, &format!("UPDATE audit_log SET seq = -1 WHERE seq = {a}")).await;
                    sql(&store, &format!("UPDATE audit_log SET seq = {a} WHERE seq = {b}")).await;
                    sql(&store, &format!("UPDATE audit_log SET seq = {b} WHERE seq = -1")).await;
                    a
                }
                Tamper::Truncate(keep) => {
                    sql(&store, &format!("DELETE FROM audit_log WHERE seq > {keep}")).await;
                    keep + 1
                }
            };
            let verdict = check(&store, &signer.public_key()).await;
            let (seq, why) = verdict.first_bad.clone().unwrap_or((0, format!("not caught: {verdict:?}")));
            (seq, expected as i64, why)
        });
        prop_assert_eq!(seq, expected, "{}", why);
    }
}
