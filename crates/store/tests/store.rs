//! One suite for both backends: SQLite always (in memory and in a file), PostgreSQL when
//! `SWITCHYARD_TEST_POSTGRES_URL` names a database (scripts/test starts one).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use switchyard_store::admin_tokens::AdminTokenRow;
use switchyard_store::keys::KeyRow;
use switchyard_store::ledger::{LedgerFilter, LedgerRow};
use switchyard_store::tenants::TenantRow;
use switchyard_store::Store;

/// Every backend to run against, each in a fresh database or file.
async fn stores() -> Vec<(String, Store, Option<tempdir::Dir>)> {
    let mut out = Vec::new();
    out.push((
        "sqlite memory".to_owned(),
        Store::open("sqlite::memory:").await.unwrap(),
        None,
    ));
    let dir = tempdir::Dir::new();
    let file = Store::open_file(&dir.path.join("nested").join("switchyard.db"))
        .await
        .unwrap();
    out.push(("sqlite file".to_owned(), file, Some(dir)));
    if let Ok(url) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") {
        out.push(("postgres".to_owned(), fresh_postgres(&url).await, None));
    }
    out
}

/// A database of its own on the test server, so tests run in parallel.
async fn fresh_postgres(url: &str) -> Store {
    let admin = Store::open(url).await.unwrap();
    let name = format!("sy_test_{:016x}", fastrand::u64(..));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    Store::open(&format!("{base}/{name}")).await.unwrap()
}

fn key(id: &str, updated_at: i64) -> KeyRow {
    KeyRow {
        id: id.to_owned(),
        name: format!("name of {id}"),
        prefix: format!("sy_{id}"),
        hash: format!("hash-{id}"),
        tenant_id: None,
        created_at: updated_at,
        expires_at: Some(updated_at + 1_000),
        revoked_at: None,
        allowed_models: vec!["chat".into(), "auto".into()],
        metadata: Some(r#"{"team":"search"}"#.into()),
        updated_at,
        budget_nano_usd: Some(5_000_000_000),
        budget_period: Some("monthly".into()),
        rpm: Some(100),
        tpm: None,
        model_limits: Some(r#"{"chat":{"rpm":5}}"#.into()),
        policies: vec!["eu-only".into(), "no-training".into()],
        change_seq: 0,
    }
}

fn row(id: &str, at: i64, key: &str, cost: i64) -> LedgerRow {
    LedgerRow {
        request_id: id.to_owned(),
        at,
        key_id: Some(key.to_owned()),
        model: "chat".into(),
        deployment: Some("openai/gpt-4o-mini".into()),
        provider: Some("openai".into()),
        jurisdiction: Some("US".into()),
        input_tokens: 10,
        output_tokens: 5,
        cached_tokens: 2,
        cost_nano_usd: cost,
        latency_ms: 42,
        status: 200,
        ..LedgerRow::default()
    }
}

#[tokio::test]
async fn keys_round_trip_list_and_revoke() {
    for (name, store, _dir) in stores().await {
        assert!(!store.any_key().await.unwrap(), "{name}");
        store.insert_key(&key("a", 1_000)).await.unwrap();
        store.insert_key(&key("b", 2_000)).await.unwrap();
        assert!(store.any_key().await.unwrap());
        // Each write takes the next change number.
        let a = KeyRow {
            change_seq: 1,
            ..key("a", 1_000)
        };
        let b = KeyRow {
            change_seq: 2,
            ..key("b", 2_000)
        };
        let listed = store.list_keys().await.unwrap();
        assert_eq!(listed, vec![b.clone(), a.clone()], "{name}");
        // The hash is unique; the failed write takes no number.
        let mut clash = key("c", 3_000);
        clash.hash = "hash-a".into();
        assert!(store.insert_key(&clash).await.is_err(), "{name}");

        assert_eq!(store.keys_changed_since(1).await.unwrap(), vec![b.clone()]);
        assert_eq!(store.keys_named("a").await.unwrap(), vec![a]);
        assert_eq!(store.keys_named("sy_b").await.unwrap(), vec![b]);
        assert!(store.keys_named("nope").await.unwrap().is_empty());
        assert!(store.revoke_key("a").await.unwrap());
        assert!(store.revoke_key("sy_b").await.unwrap(), "by prefix");
        assert!(!store.revoke_key("nope").await.unwrap());
        let changed = store.keys_changed_since(2).await.unwrap();
        assert_eq!(changed.len(), 2, "{name}");
        assert_eq!(
            changed.iter().map(|k| k.change_seq).collect::<Vec<_>>(),
            [3, 4]
        );
        assert!(changed.iter().all(|k| k.revoked_at.is_some()));
        // Revoking again keeps the first revocation time.
        let first = changed.iter().find(|k| k.id == "a").unwrap().revoked_at;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        store.revoke_key("a").await.unwrap();
        let again = store.list_keys().await.unwrap();
        assert_eq!(
            again.iter().find(|k| k.id == "a").unwrap().revoked_at,
            first,
            "{name}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn tenants_keys_under_them_and_admin_tokens() {
    for (name, store, _dir) in stores().await {
        let org = TenantRow {
            id: "org".into(),
            name: "Acme".into(),
            created_at: 1_000,
            updated_at: 1_000,
            budget_nano_usd: Some(9_000_000_000),
            budget_period: Some("daily".into()),
            rpm: Some(600),
            model_limits: Some(r#"{"big":{"tpm":100}}"#.into()),
            metadata: Some(r#"{"cost_centre":7}"#.into()),
            policies: vec!["eu-only".into()],
            ..TenantRow::default()
        };
        let team = TenantRow {
            id: "team".into(),
            name: "Search".into(),
            parent_id: Some("org".into()),
            created_at: 2_000,
            updated_at: 2_000,
            ..TenantRow::default()
        };
        store.insert_tenant(&org).await.unwrap();
        store.insert_tenant(&team).await.unwrap();
        let org = TenantRow {
            change_seq: 1,
            ..org
        };
        let team = TenantRow {
            change_seq: 2,
            ..team
        };
        assert_eq!(
            store.list_tenants().await.unwrap(),
            vec![org.clone(), team.clone()],
            "{name}"
        );
        assert_eq!(store.tenant("team").await.unwrap(), Some(team.clone()));
        assert_eq!(store.tenant("nope").await.unwrap(), None);
        // A team's parent must exist.
        let orphan = TenantRow {
            id: "orphan".into(),
            parent_id: Some("nope".into()),
            ..team.clone()
        };
        assert!(store.insert_tenant(&orphan).await.is_err(), "{name}");
        assert_eq!(
            store.tenants_changed_since(1).await.unwrap(),
            vec![team.clone()]
        );

        let mut changed = team.clone();
        changed.rpm = Some(60);
        changed.name = "Search & ranking".into();
        assert!(store.update_tenant(&changed).await.unwrap());
        assert!(store.disable_tenant("org").await.unwrap());
        assert!(!store.disable_tenant("nope").await.unwrap());
        let now = store.list_tenants().await.unwrap();
        assert_eq!(now[1].rpm, Some(60));
        assert_eq!(now[1].name, "Search & ranking");
        assert!(now[1].updated_at > 2_000, "{name}");
        assert!(now[0].disabled_at.is_some());
        assert_eq!(
            now[0].budget_nano_usd, org.budget_nano_usd,
            "untouched by disabling"
        );

        // A key under the team, then changed.
        let mut k = key("k", 3_000);
        k.tenant_id = Some("team".into());
        store.insert_key(&k).await.unwrap();
        k.rpm = None;
        k.tpm = Some(1_000);
        k.allowed_models = vec![];
        k.model_limits = None;
        k.policies = vec!["on-prem".into()];
        assert!(store.update_key(&k).await.unwrap());
        assert!(!store.update_key(&key("nope", 1)).await.unwrap());
        let stored = &store.keys_named("k").await.unwrap()[0];
        assert_eq!((stored.rpm, stored.tpm), (None, Some(1_000)));
        assert!(stored.allowed_models.is_empty() && stored.model_limits.is_none());
        assert_eq!(stored.policies, ["on-prem"]);
        assert_eq!(stored.hash, k.hash, "the secret's hash never changes");

        let token = AdminTokenRow {
            id: "tok".into(),
            name: "acme admin".into(),
            prefix: "sya_abc".into(),
            hash: "token-hash".into(),
            tenant_id: "org".into(),
            role: "tenant-admin".into(),
            created_at: 5,
            revoked_at: None,
        };
        store.insert_admin_token(&token).await.unwrap();
        assert_eq!(
            store.admin_token_by_hash("token-hash").await.unwrap(),
            Some(token.clone())
        );
        assert_eq!(store.admin_tokens_of("org").await.unwrap(), vec![token]);
        assert!(store.revoke_admin_token("tok").await.unwrap());
        assert_eq!(
            store.admin_token_by_hash("token-hash").await.unwrap(),
            None,
            "{name}"
        );

        // Usage of a tenant and its teams.
        let mut rows = vec![
            row("r1", 10, "k", 5),
            row("r2", 11, "k", 7),
            row("r3", 12, "x", 11),
        ];
        rows[0].tenant_id = Some("team".into());
        rows[1].tenant_id = Some("org".into());
        store.append_usage(&rows).await.unwrap();
        let spent = |ids: &[&str]| {
            let filter = LedgerFilter {
                tenant_in: ids.iter().map(|s| s.to_string()).collect(),
                ..LedgerFilter::default()
            };
            let store = store.clone();
            async move { store.usage_totals(&filter).await.unwrap().cost_nano_usd }
        };
        assert_eq!(spent(&["org", "team"]).await, 12, "{name}");
        assert_eq!(spent(&["team"]).await, 5);
        assert_eq!(spent(&[]).await, 23, "no filter");
        store.close().await;
    }
}

/// Replicas (several stores on one database) open lanes and append at once: each lane is
/// whole, numbered 1..n with no gap, and the log verifies with every head signed.
#[tokio::test]
async fn audit_lanes_from_replicas_at_once_verify() {
    use switchyard_store::audit::{verify, CheckpointEvery, Entry, Signer};
    let every = CheckpointEvery {
        records: 25,
        millis: i64::MAX,
    };
    let (seed, public) = Signer::generate().unwrap();
    for (name, store, _dir) in stores().await {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                let seed = seed.clone();
                tokio::spawn(async move {
                    let signer = Signer::from_base64(&seed).unwrap();
                    let lane = store
                        .open_audit_lane(&format!("writer {w}"), Some(&signer), every)
                        .await
                        .unwrap();
                    for batch in 0..10i64 {
                        let entries: Vec<Entry> = (0..6i64)
                            .map(|i| Entry {
                                at: 1_000 + batch,
                                kind: "request".into(),
                                ref_id: format!("req_{w}_{batch}_{i}"),
                                record: format!(r#"{{"w":{w},"b":{batch},"i":{i}}}"#),
                                seq: Some(2 + batch * 6 + i),
                            })
                            .collect();
                        store
                            .append_audit(lane, &entries, Some(&signer), every)
                            .await
                            .unwrap();
                    }
                    lane
                })
            })
            .collect();
        let mut lanes = Vec::new();
        for w in writers {
            lanes.push(w.await.unwrap());
        }
        lanes.sort_unstable();
        assert_eq!(lanes, vec![1, 2, 3, 4], "{name}");
        let records = store.audit_records((0, 0), 10_000).await.unwrap();
        let verdict = verify(
            &records,
            &store.audit_checkpoints().await.unwrap(),
            &store.audit_heads().await.unwrap(),
            &store.audit_lanes().await.unwrap(),
            &[public.as_str()],
        );
        assert!(verdict.ok(), "{name}: {verdict:?}");
        assert_eq!((verdict.records, verdict.lanes), (4 * 61, 4), "{name}");
        assert!(
            (1..=4).all(|l| verdict.head(l) == Some(61)),
            "{name}: {verdict:?}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn the_ledger_never_duplicates_and_sums_exactly() {
    for (name, store, _dir) in stores().await {
        let rows: Vec<LedgerRow> = (0..50)
            .map(|i| {
                let key = if i % 2 == 0 { "k1" } else { "k2" };
                row(
                    &format!("req_{i:03}"),
                    1_000 + i,
                    key,
                    1_000_000_007 * (i + 1),
                )
            })
            .collect();
        store.append_usage(&rows[..30]).await.unwrap();
        // A batch written again (a retry) plus new rows: nothing doubles; nor does a row
        // twice in one statement.
        store.append_usage(&rows[20..]).await.unwrap();
        let mut twice = vec![rows[5].clone(), rows[5].clone(), rows[49].clone()];
        twice.extend_from_slice(&rows[..3]);
        store.append_usage(&twice).await.unwrap();
        let all = store
            .usage_rows(&LedgerFilter::default(), 1_000)
            .await
            .unwrap();
        assert_eq!(all, rows, "{name}");
        let totals = store.usage_totals(&LedgerFilter::default()).await.unwrap();
        assert_eq!(totals.requests, 50);
        assert_eq!(totals.input_tokens, 500);
        assert_eq!(
            totals.cost_nano_usd,
            1_000_000_007 * (50 * 51 / 2),
            "{name}"
        );
        let k1 = LedgerFilter {
            key_id: Some("k1".into()),
            from: Some(1_010),
            to: Some(1_020),
            ..LedgerFilter::default()
        };
        let picked = store.usage_rows(&k1, 1_000).await.unwrap();
        assert_eq!(
            picked
                .iter()
                .map(|r| r.request_id.as_str())
                .collect::<Vec<_>>(),
            ["req_010", "req_012", "req_014", "req_016", "req_018"],
            "{name}"
        );
        assert_eq!(store.usage_totals(&k1).await.unwrap().requests, 5);
        assert_eq!(
            store
                .usage_rows(&LedgerFilter::default(), 3)
                .await
                .unwrap()
                .len(),
            3
        );
        store.close().await;
    }
}

#[tokio::test]
async fn a_reopened_file_keeps_its_data_and_migrations_run_once() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("switchyard.db");
    let store = Store::open_file(&path).await.unwrap();
    store.insert_key(&key("a", 1)).await.unwrap();
    store.close().await;
    let store = Store::open_file(&path).await.unwrap();
    assert_eq!(store.list_keys().await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test]
async fn bad_urls_are_clear_and_never_show_a_password() {
    let err = Store::open("mysql://u:hunter2@localhost/x")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unsupported store URL scheme"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = Store::open("postgres://u:hunter2@127.0.0.1:9/x")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

mod tempdir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }

    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!("sy-store-{:016x}", fastrand::u64(..)));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[tokio::test]
async fn replicas_starting_at_once_migrate_a_fresh_database_once() {
    let dir = tempdir::Dir::new();
    let mut urls = vec![format!("sqlite://{}", dir.path.join("fresh.db").display())];
    if let Ok(url) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") {
        let admin = Store::open(&url).await.unwrap();
        let name = format!("sy_race_{:016x}", fastrand::u64(..));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin.pool())
            .await
            .unwrap();
        admin.close().await;
        let base = url
            .rsplit_once('/')
            .map_or(url.as_str(), |(b, _)| b)
            .to_owned();
        urls.push(format!("{base}/{name}"));
    }
    for url in urls {
        if url.starts_with("sqlite") {
            std::fs::File::create(url.trim_start_matches("sqlite://")).unwrap();
        }
        let opened = futures_join(url.clone()).await;
        for store in &opened {
            assert!(store.list_keys().await.is_ok(), "{url}");
        }
        for store in opened {
            store.close().await;
        }
    }
}

async fn futures_join(url: String) -> Vec<Store> {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::open(&url).await.unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
