//! Receipts and the audit log through the real server: every inference answer carries
//! `x-switchyard-receipt` (deployment, jurisdiction, policies with versions, decision, hashes
//! of the request and answer bytes); its record is in the hash chain byte for byte; refusals
//! and blocks get receipts too; admin actions are recorded without secrets; the chain verifies
//! against the audit key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod governed;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchyard_governance::Governance;
use switchyard_store::audit::{hex, verify, Signer};
use switchyard_store::Store;
use switchyard_testkit::{MockOpenAi, Reply};

const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn start() -> (String, Arc<Governance>, Store, MockOpenAi) {
    let mock = MockOpenAi::start().await.unwrap();
    let text = format!(
        "[[providers]]\nid = \"de\"\ntype = \"openai\"\nbase_url = \"{}\"\njurisdiction = \"DE\"\n\n\
         [[models]]\nname = \"chat\"\nroute = [{{ provider = \"de\", model = \"gpt-4o-mini\" }}]\n\n\
         [[policies]]\nname = \"eu-only\"\nallow_jurisdictions = [\"EU\"]\n\n\
         [[policies]]\nname = \"us-only\"\nallow_jurisdictions = [\"US\"]\n\n\
         [[policies]]\nname = \"no-pii\"\npii = \"block\"\n",
        mock.base_url()
    );
    let config = switchyard_config::load_str(&text, &|_| None).unwrap();
    let store = Store::open("sqlite::memory:").await.unwrap();
    let governance = Governance::start(store.clone(), Some(governed::pepper()), None, None, None)
        .await
        .unwrap();
    governance
        .audit
        .set_signer(Signer::from_base64(SEED).unwrap());
    let state =
        switchyard_server::AppState::build_governed(&config, Some(governance.clone())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchyard_server::serve(
        state,
        listener,
        Box::pin(std::future::pending()),
        Duration::from_secs(1),
    ));
    (url, governance, store, mock)
}

fn receipt(headers: &reqwest::header::HeaderMap) -> (String, Value) {
    let value = headers
        .get("x-switchyard-receipt")
        .expect("every answer carries a receipt")
        .to_str()
        .unwrap();
    let text = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .unwrap(),
    )
    .unwrap();
    let json = serde_json::from_str(&text).unwrap();
    (text, json)
}

async fn post(url: &str, policy: &str, body: &Value) -> (u16, String, Value, Vec<u8>, Vec<u8>) {
    let sent = serde_json::to_vec(body).unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-switchyard-policy", policy)
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let (text, json) = receipt(resp.headers());
    let answer = resp.bytes().await.unwrap().to_vec();
    (status, text, json, sent, answer)
}

#[tokio::test]
async fn receipts_name_what_happened_and_are_in_the_chain() {
    let (url, governance, store, mock) = start().await;
    mock.push(Reply::text("Guten Tag"));
    let body = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    let (status, allowed_text, allowed, sent, answer) = post(&url, "eu-only", &body).await;
    assert_eq!(status, 200);
    assert_eq!(allowed["decision"], "allowed");
    assert_eq!(allowed["deployment"], "de/gpt-4o-mini");
    assert_eq!(allowed["jurisdiction"], "DE");
    assert_eq!(allowed["model"], "chat");
    assert_eq!(allowed["policies"][0]["name"], "eu-only");
    assert_eq!(
        allowed["policies"][0]["version"].as_str().unwrap().len(),
        16
    );
    assert_eq!(allowed["prompt_sha256"], hex(&Sha256::digest(&sent)));
    assert_eq!(allowed["answer_sha256"], hex(&Sha256::digest(&answer)));

    // Refused by policy: a 403 with a receipt naming no deployment.
    let (status, _, refused, _, _) = post(&url, "us-only", &body).await;
    assert_eq!(status, 403);
    assert_eq!(refused["decision"], "refused");
    assert_eq!(refused["deployment"], Value::Null);
    assert_eq!(refused["policies"][0]["name"], "us-only");

    // Blocked by the PII guard.
    let pii = json!({"model": "chat", "messages": [{"role": "user", "content": "mail me: a.b@example.org"}]});
    let (status, _, blocked, _, _) = post(&url, "no-pii", &pii).await;
    assert_eq!(status, 400);
    assert_eq!(blocked["decision"], "blocked");
    assert_eq!(blocked["pii_findings"], 1);

    // A stream's receipt: the answer's hash is not known when the headers leave.
    mock.push(Reply::text("streamed"));
    let stream =
        json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, streamed, _, sse) = post(&url, "eu-only", &stream).await;
    assert_eq!(status, 200);
    assert_eq!(streamed["answer_sha256"], Value::Null);
    assert_eq!(streamed["decision"], "allowed");
    assert_eq!(streamed["stream"], "started");
    // ... and just before its last event, its closing receipt, hashing the whole body but
    // that comment.
    let sse = String::from_utf8(sse).unwrap();
    let cut = sse.rfind(": x-switchyard-receipt=").unwrap();
    let end = cut + sse[cut..].find("\n\n").unwrap() + 2;
    assert_eq!(&sse[end..], "data: [DONE]\n\n");
    let encoded = sse[cut..end]
        .trim()
        .trim_start_matches(": x-switchyard-receipt=");
    let closing_text = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    let without = format!("{}{}", &sse[..cut], &sse[end..]);
    let closing: Value = serde_json::from_str(&closing_text).unwrap();
    assert_eq!(closing["stream"], "ended");
    assert_eq!(closing["status"], 200);
    assert_eq!(closing["request_id"], streamed["request_id"]);
    assert_eq!(
        closing["answer_sha256"],
        hex(&Sha256::digest(without.as_bytes()))
    );
    assert_eq!(closing["chain"]["lane"], streamed["chain"]["lane"]);

    governance.audit.flush(Duration::from_secs(5)).await;
    let records = store
        .audit_for(allowed["request_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].record, allowed_text,
        "the receipt is the record, byte for byte"
    );
    // The receipt names its place: that record is at that lane and position.
    let at = store
        .audit_record(
            allowed["chain"]["lane"].as_i64().unwrap(),
            allowed["chain"]["position"].as_i64().unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at.record, allowed_text);
    for (r, n) in [(&refused, 1), (&blocked, 1), (&streamed, 2)] {
        let found = store
            .audit_for(r["request_id"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(found.len(), n);
    }
    let closing_record = store
        .audit_for(streamed["request_id"].as_str().unwrap())
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(closing_record.record, closing_text);
    let all = store.audit_records((0, 0), 1000).await.unwrap();
    assert_eq!(
        all.len(),
        6,
        "opening, three answers, a stream started and ended"
    );
    let public = Signer::from_base64(SEED).unwrap().public_key();
    let verdict = verify(
        &all,
        &store.audit_checkpoints().await.unwrap(),
        &store.audit_heads().await.unwrap(),
        &store.audit_lanes().await.unwrap(),
        &[public.as_str()],
    );
    assert!(verdict.ok(), "{verdict:?}");
    assert_eq!(verdict.head(1), Some(all.len() as i64));
    // Content never reaches the log: neither the prompt nor the answer nor the address.
    for r in &all {
        assert!(!r.record.contains("Guten Tag") && !r.record.contains("a.b@example.org"));
    }
}

#[tokio::test]
async fn admin_changes_are_audited_without_secrets() {
    let (_url, governance, store, _mock) = start().await;
    let admin = governed::admin(governance.clone()).await;
    let client = reqwest::Client::new();
    let made: Value = client
        .post(format!("{admin}/admin/keys"))
        .bearer_auth(governed::ADMIN_TOKEN)
        .json(&json!({"name": "audited"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap().to_owned();
    let secret = made["key"].as_str().unwrap().to_owned();
    let resp = client
        .delete(format!("{admin}/admin/keys/{id}"))
        .bearer_auth(governed::VIEWER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Reads are not recorded.
    client
        .get(format!("{admin}/admin/keys"))
        .bearer_auth(governed::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    governance.audit.flush(Duration::from_secs(5)).await;
    let all = store.audit_records((0, 0), 100).await.unwrap();
    let admin_records: Vec<Value> = all
        .iter()
        .filter(|r| r.kind == "admin")
        .map(|r| serde_json::from_str(&r.record).unwrap())
        .collect();
    assert_eq!(admin_records.len(), 2, "{admin_records:?}");
    assert_eq!(admin_records[0]["actor"], "admin");
    assert_eq!(admin_records[0]["action"], "POST /admin/keys");
    assert_eq!(admin_records[0]["created"], id.as_str());
    assert_eq!(admin_records[1]["actor"], "viewer");
    assert_eq!(admin_records[1]["status"], 403);
    for r in &all {
        assert!(!r.record.contains(&secret));
        assert!(!r.record.contains(governed::ADMIN_TOKEN));
    }
}
