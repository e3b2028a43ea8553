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
        seq: None,
    }
}

const EVERY10: CheckpointEvery = CheckpointEvery {
    records: 10,
    millis: i64::MAX,
};

/// A store whose lane 1 holds its opening and then `n - 1` records, appended `batch` at a time.
async fn filled(n: usize, batch: usize) -> (Store, Signer) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let signer = Signer::from_base64(SEED).unwrap();
    let lane = store
        .open_audit_lane("test", Some(&signer), EVERY10)
        .await
        .unwrap();
    assert_eq!(lane, 1);
    let entries: Vec<Entry> = (2..=n).map(entry).collect();
    for chunk in entries.chunks(batch) {
        store
            .append_audit(1, chunk, Some(&signer), EVERY10)
            .await
            .unwrap();
    }
    (store, signer)
}

async fn check(store: &Store, key: &str) -> Verdict {
    let records = store.audit_records((i64::MIN, 0), i64::MAX).await.unwrap();
    let checkpoints = store.audit_checkpoints().await.unwrap();
    let heads = store.audit_heads().await.unwrap();
    let lanes = store.audit_lanes().await.unwrap();
    verify(&records, &checkpoints, &heads, &lanes, &[key])
}

fn bad(verdict: &Verdict) -> (i64, i64, String) {
    verdict
        .first_bad
        .clone()
        .map_or((0, 0, format!("not caught: {verdict:?}")), |b| {
            (b.lane, b.seq, b.why)
        })
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
        assert_eq!(verdict.head(1), Some(35));
        assert!(verdict.checkpoints >= 3, "{verdict:?}");
        // Another key does not vouch for it.
        let (_, other) = Signer::generate().unwrap();
        let verdict = check(&store, &other).await;
        assert!(!verdict.ok());
        // The chain is the issue's formula.
        let records = store.audit_records((1, 1), 2).await.unwrap();
        assert_eq!(records[0].kind, "lane");
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
            "UPDATE audit_chain SET record = replace(record, '200', '500') WHERE lane = 1 AND seq = 14",
        )
        .await;
        let records = store.audit_records((1, 1), 100).await.unwrap();
        let mut previous = unhex(&records[12].hash).unwrap();
        for r in &records[13..] {
            previous = chain(&previous, &r.record);
            sql(
                &store,
                &format!(
                    "UPDATE audit_chain SET hash = '{}' WHERE lane = 1 AND seq = {}",
                    hex(&previous),
                    r.seq
                ),
            )
            .await;
        }
        let verdict = check(&store, &signer.public_key()).await;
        let (lane, seq, why) = bad(&verdict);
        // The checkpoint at 10 still holds; the one at 20 does not: 11-20 is named.
        assert_eq!((lane, seq), (1, 11), "{why}");
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
                    sql(&store, &format!("UPDATE audit_chain SET record = record || ' ' WHERE lane = 1 AND seq = {k}")).await;
                    k
                }
                Tamper::EditHash(k) => {
                    sql(&store, &format!("UPDATE audit_chain SET hash = '{}' WHERE lane = 1 AND seq = {k}", "0".repeat(64))).await;
                    k
                }
                Tamper::Delete(k) => {
                    sql(&store, &format!("DELETE FROM audit_chain WHERE lane = 1 AND seq = {k}")).await;
                    k
                }
                Tamper::Swap(a, b) => {
                    sql(&store, &format!("UPDATE audit_chain SET seq = -1 WHERE lane = 1 AND seq = {a}")).await;
                    sql(&store, &format!("UPDATE audit_chain SET seq = {a} WHERE lane = 1 AND seq = {b}")).await;
                    sql(&store, &format!("UPDATE audit_chain SET seq = {b} WHERE lane = 1 AND seq = -1")).await;
                    a
                }
                Tamper::Truncate(keep) => {
                    sql(&store, &format!("DELETE FROM audit_chain WHERE lane = 1 AND seq > {keep}")).await;
                    keep + 1
                }
            };
            let verdict = check(&store, &signer.public_key()).await;
            let (lane, seq, why) = bad(&verdict);
            ((lane, seq), expected as i64, why)
        });
        prop_assert_eq!(seq, (1, expected), "{}", why);
    }
}

/// Two lanes, as two replicas write them: lane 1 and lane 2 interleaved in time.
async fn two_lanes() -> (Store, Signer) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let signer = Signer::from_base64(SEED).unwrap();
    let a = store
        .open_audit_lane("a", Some(&signer), EVERY10)
        .await
        .unwrap();
    let b = store
        .open_audit_lane("b", Some(&signer), EVERY10)
        .await
        .unwrap();
    assert_eq!((a, b), (1, 2));
    for i in 0..12 {
        let lane = 1 + (i % 2) as i64;
        let mut e = entry(i);
        // The writer's own numbering: opening is 1, then 2, 3, ...
        e.seq = Some(2 + (i / 2) as i64);
        store
            .append_audit(lane, &[e], Some(&signer), EVERY10)
            .await
            .unwrap();
    }
    (store, signer)
}

#[test]
fn lanes_verify_apart_and_a_retried_batch_is_not_written_twice() {
    runtime().block_on(async {
        let (store, signer) = two_lanes().await;
        let verdict = check(&store, &signer.public_key()).await;
        assert!(verdict.ok(), "{verdict:?}");
        assert_eq!((verdict.lanes, verdict.records), (2, 14));
        assert_eq!((verdict.head(1), verdict.head(2)), (Some(7), Some(7)));
        // A batch retried after its commit went unseen: skipped, not doubled.
        let mut again = entry(10);
        again.seq = Some(7);
        let seqs = store
            .append_audit(1, &[again], Some(&signer), EVERY10)
            .await
            .unwrap();
        assert_eq!(seqs, vec![7]);
        // A position past the end would leave a gap: refused.
        let mut gap = entry(99);
        gap.seq = Some(9);
        assert!(store
            .append_audit(1, &[gap], Some(&signer), EVERY10)
            .await
            .is_err());
        assert!(check(&store, &signer.public_key()).await.ok());
        let r = store.audit_record(2, 3).await.unwrap().unwrap();
        assert_eq!(r.ref_id, "req_0003");
    });
}

#[test]
fn a_lane_removed_whole_or_moved_is_caught() {
    runtime().block_on(async {
        // Every record, checkpoint and head of lane 1 removed; the register still lists it.
        let (store, signer) = two_lanes().await;
        for table in ["audit_chain", "audit_lane_checkpoints", "audit_lane_heads"] {
            sql(&store, &format!("DELETE FROM {table} WHERE lane = 1")).await;
        }
        let (lane, seq, why) = bad(&check(&store, &signer.public_key()).await);
        assert_eq!((lane, seq), (1, 1), "{why}");
        // ... and removed from the register too: the gap names it.
        sql(&store, "DELETE FROM audit_lanes WHERE lane = 1").await;
        let (lane, seq, why) = bad(&check(&store, &signer.public_key()).await);
        assert_eq!((lane, seq), (1, 1), "{why}");
        assert!(why.contains("register"), "{why}");
        // Lane 2's records relabelled as a lane 3 nobody opened.
        let (store, signer) = two_lanes().await;
        for table in ["audit_chain", "audit_lane_checkpoints", "audit_lane_heads"] {
            sql(
                &store,
                &format!("UPDATE {table} SET lane = 3 WHERE lane = 2"),
            )
            .await;
        }
        let (lane, _, why) = bad(&check(&store, &signer.public_key()).await);
        assert_eq!(lane, 2, "{why}");
    });
}

#[test]
fn after_a_key_rotation_both_keys_verify_the_log_and_one_alone_does_not() {
    runtime().block_on(async {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let old = Signer::from_base64(SEED).unwrap();
        let (new_seed, new_public) = Signer::generate().unwrap();
        let new = Signer::from_base64(&new_seed).unwrap();
        // A process signs its lane with the old key; after the rotation the next process's
        // lane is signed with the new one.
        for (signer, n) in [(&old, 14usize), (&new, 9)] {
            let lane = store
                .open_audit_lane("p", Some(signer), EVERY10)
                .await
                .unwrap();
            let entries: Vec<Entry> = (0..n).map(entry).collect();
            store
                .append_audit(lane, &entries, Some(signer), EVERY10)
                .await
                .unwrap();
        }
        let read = |keys: Vec<String>| {
            let store = store.clone();
            async move {
                let records = store.audit_records((0, 0), 1000).await.unwrap();
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                verify(
                    &records,
                    &store.audit_checkpoints().await.unwrap(),
                    &store.audit_heads().await.unwrap(),
                    &store.audit_lanes().await.unwrap(),
                    &keys,
                )
            }
        };
        let both = read(vec![old.public_key(), new_public.clone()]).await;
        assert!(both.ok(), "{both:?}");
        assert_eq!((both.head(1), both.head(2)), (Some(15), Some(10)));
        let (lane, _, why) = bad(&read(vec![new_public]).await);
        assert_eq!(lane, 1, "{why}");
        assert!(why.contains("not signed by the audit key"), "{why}");
        let (lane, _, why) = bad(&read(vec![old.public_key()]).await);
        assert_eq!(lane, 2, "{why}");
    });
}
