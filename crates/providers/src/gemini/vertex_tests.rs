//! Vertex AI: the URL layout, OAuth tokens from each credential source (against the mock as
//! token endpoint and metadata server), the JWT a service-account key signs, and Vertex's
//! own count and embedding bodies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use ring::signature::{KeyPair, RsaKeyPair, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::{json, Value};
use switchyard_config::{GcpConfig, ProviderConfig, ProviderKind};
use switchyard_testkit::{MockOpenAi, Reply};
use switchyard_types::{
    ChatRequest, ContentBlock, EmbeddingInput, EmbeddingRequest, Message, Role,
};

use super::google_auth::{self, GoogleTokens};
use super::*;

const PEM: &str = include_str!("../../testdata/vertex-test-key.pem");

fn key() -> RsaKeyPair {
    let der = PrivatePkcs8KeyDer::from_pem_slice(PEM.as_bytes()).unwrap();
    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap()
}

fn env_of(pairs: Vec<(&'static str, String)>) -> crate::upstream::EnvFn {
    let map: HashMap<&'static str, String> = pairs.into_iter().collect();
    Arc::new(move |name: &str| map.get(name).cloned())
}

fn gcp(file: Option<std::path::PathBuf>) -> GcpConfig {
    GcpConfig {
        project: "acme-ai".into(),
        location: "europe-west4".into(),
        credentials_file: file,
    }
}

fn config(root: &str, file: Option<std::path::PathBuf>) -> ProviderConfig {
    let mut c = crate::test_support::provider_config("vertex-eu", ProviderKind::Vertex, root, None);
    c.gcp = Some(gcp(file));
    c
}

fn service_account(dir: &std::path::Path, token_uri: &str) -> std::path::PathBuf {
    let path = dir.join("sa.json");
    std::fs::write(
        &path,
        json!({"type": "service_account", "project_id": "acme-ai", "private_key_id": "kid-1",
               "private_key": PEM, "client_email": "gateway@acme-ai.iam.gserviceaccount.com",
               "client_id": "1", "token_uri": token_uri})
        .to_string(),
    )
    .unwrap();
    path
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-vertex-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token_reply(token: &str) -> Reply {
    Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
            .to_string(),
    }
}

fn ask() -> ChatRequest {
    ChatRequest {
        model: "alias".into(),
        messages: vec![Message::text(Role::User, "hi")],
        ..Default::default()
    }
}

/// Checks a JWT's RS256 signature against the test key's public half; returns its claims.
fn verified_claims(jwt: &str) -> (Value, Value) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let public = key().public_key().as_ref().to_vec();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &b64.decode(parts[2]).unwrap(),
        )
        .expect("the signature verifies with the key's public half");
    (
        serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap(),
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap(),
    )
}

#[test]
fn service_account_jwt_is_rs256_signed_with_googles_claims() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_867_200);
    let jwt = google_auth::jwt(
        "gw@p.iam.gserviceaccount.com",
        Some("kid-1"),
        &key(),
        "https://oauth2.googleapis.com/token",
        now,
    )
    .unwrap();
    let (header, claims) = verified_claims(&jwt);
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
    );
    assert_eq!(
        claims,
        json!({"iss": "gw@p.iam.gserviceaccount.com", "scope": google_auth::SCOPE,
               "aud": "https://oauth2.googleapis.com/token",
               "iat": 1_795_867_200u64, "exp": 1_795_870_800u64})
    );
}

#[tokio::test]
async fn chat_stream_count_and_embed_on_vertex_with_a_service_account() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let dir = scratch("sa");
    let file = service_account(&dir, &format!("{root}/token"));
    let p = Gemini::vertex_with_env(&config(&root, Some(file)), env_of(Vec::new())).unwrap();

    mock.push(token_reply("ya29.first"));
    let answer = p.chat(&ask(), "gemini-2.5-flash").await.unwrap();
    assert_eq!(
        answer.content,
        vec![ContentBlock::text(
            "Hello! This is the Switchyard mock Gemini upstream."
        )]
    );
    let seen = mock.requests();
    assert_eq!(seen[0].path, "/token");
    let form = String::from_utf8_lossy(&seen[0].body).into_owned();
    let assertion = form
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .unwrap();
    let (_, claims) = verified_claims(assertion);
    assert_eq!(claims["iss"], "gateway@acme-ai.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], format!("{root}/token"));
    assert_eq!(
        seen[1].path,
        "/v1/projects/acme-ai/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(seen[1].header("authorization"), Some("Bearer ya29.first"));
    assert!(seen[1].header("x-goog-api-key").is_none());

    // The token is reused while fresh: streaming, counting and embedding ask for no other.
    let mut stream = p.chat_stream(&ask(), "gemini-2.5-flash").await.unwrap();
    use futures::StreamExt;
    while let Some(event) = stream.next().await {
        event.unwrap();
    }
    mock.push(Reply::Json {
        status: 200,
        headers: Vec::new(),
        body: json!({"totalTokens": 7, "totalBillableCharacters": 2}).to_string(),
    });
    assert_eq!(p.count_tokens(&ask(), "gemini-2.5-flash").await.unwrap(), 7);
    let embedded = p
        .embed(
            &EmbeddingRequest {
                model: "e".into(),
                input: EmbeddingInput::Texts(vec!["one two".into(), "three".into()]),
                encoding_format: Default::default(),
                dimensions: Some(3),
                user: None,
            },
            "text-embedding-005",
        )
        .await
        .unwrap();
    assert_eq!(embedded.embeddings.len(), 2);
    assert_eq!(embedded.input_tokens, 3);
    let seen = mock.requests();
    assert_eq!(seen.iter().filter(|r| r.path == "/token").count(), 1);
    assert!(seen[2]
        .path
        .ends_with("gemini-2.5-flash:streamGenerateContent?alt=sse"));
    let count = seen[3].json();
    assert!(count.get("contents").is_some() && count.get("generateContentRequest").is_none());
    assert!(seen[4].path.ends_with("/models/text-embedding-005:predict"));
    assert_eq!(
        seen[4].json(),
        json!({"instances": [{"content": "one two"}, {"content": "three"}],
                                      "parameters": {"outputDimensionality": 3}})
    );
    assert!(seen[2..]
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer ya29.first")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn authorized_user_metadata_server_and_refusals() {
    let mock = MockOpenAi::start().await.unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let timeouts =
        crate::test_support::provider_config("x", ProviderKind::Vertex, &root, None).timeouts;

    // gcloud's application-default file (an authorized user) under $HOME.
    let home = scratch("home");
    std::fs::create_dir_all(home.join(".config/gcloud")).unwrap();
    std::fs::write(
        home.join(".config/gcloud/application_default_credentials.json"),
        json!({"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com",
               "client_secret": "s3cr3t", "refresh_token": "1//refresh", "token_uri": format!("{root}/oauth")})
        .to_string(),
    )
    .unwrap();
    let tokens = GoogleTokens::new(
        &gcp(None),
        env_of(vec![("HOME", home.display().to_string())]),
        timeouts,
    )
    .unwrap();
    mock.push(token_reply("ya29.user"));
    assert_eq!(tokens.token().await.unwrap(), "ya29.user");
    let form = String::from_utf8_lossy(&mock.requests()[0].body).into_owned();
    assert!(
        form.starts_with("grant_type=refresh_token&client_id=cid.apps.googleusercontent.com&"),
        "{form}"
    );
    assert!(form.contains("refresh_token=1%2F%2Frefresh"), "{form}");

    // No file anywhere: the metadata server.
    let host = root.trim_start_matches("http://").to_owned();
    let tokens = GoogleTokens::new(
        &gcp(None),
        env_of(vec![("GCE_METADATA_HOST", host)]),
        timeouts,
    )
    .unwrap();
    mock.push(token_reply("ya29.vm"));
    assert_eq!(tokens.token().await.unwrap(), "ya29.vm");
    let asked = mock.requests().pop().unwrap();
    assert!(asked
        .path
        .starts_with("/computeMetadata/v1/instance/service-accounts/default/token"));
    assert_eq!(asked.header("metadata-flavor"), Some("Google"));

    // A refused token request is an error naming the source, never its answer.
    mock.push(Reply::Json {
        status: 400,
        headers: Vec::new(),
        body: json!({"error": "invalid_grant", "error_description": "s3cr3t"}).to_string(),
    });
    let tokens = GoogleTokens::new(
        &gcp(None),
        env_of(vec![("HOME", home.display().to_string())]),
        timeouts,
    )
    .unwrap();
    let err = tokens.token().await.unwrap_err();
    assert!(
        err.message.contains("authorized-user") && err.message.contains("HTTP 400"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("s3cr3t"));

    // A broken credentials file fails when the provider is built.
    let bad = home.join("bad.json");
    std::fs::write(
        &bad,
        json!({"type": "service_account", "client_email": "a@b", "private_key": "nope"})
            .to_string(),
    )
    .unwrap();
    let err = GoogleTokens::new(&gcp(Some(bad)), env_of(Vec::new()), timeouts).unwrap_err();
    assert!(err.message.contains("PKCS#8"), "{}", err.message);
    let _ = std::fs::remove_dir_all(&home);
}
