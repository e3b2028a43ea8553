//! Google Cloud OAuth access tokens for Vertex AI, from (in this order) the provider's
//! `credentials_file`, `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application-default file
//! (`~/.config/gcloud/application_default_credentials.json`), or the metadata server of the
//! VM / container the gateway runs on.
//!
//! A service-account key signs an RS256 JWT (with `ring`) that is exchanged at the key's
//! `token_uri`; an authorized-user file (from `gcloud auth application-default login`)
//! exchanges its refresh token; the metadata server hands out tokens directly. Tokens are
//! cached and renewed five minutes before they expire. Keys and tokens are never logged, and
//! errors name the source that failed, never what it returned.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde::Deserialize;
use switchyard_config::{GcpConfig, Timeouts};
use tokio::sync::Mutex;

use crate::error::{ProviderError, ProviderErrorKind};
use crate::transport::{self, HttpClient};
use crate::upstream::EnvFn;

/// The scope every token is asked for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const METADATA_HOST: &str = "metadata.google.internal";
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

enum Source {
    ServiceAccount {
        email: String,
        key_id: Option<String>,
        key: Box<RsaKeyPair>,
        token_uri: String,
    },
    AuthorizedUser {
        client_id: String,
        client_secret: String,
        refresh_token: String,
        token_uri: String,
    },
    Metadata {
        host: String,
    },
}

impl Source {
    fn name(&self) -> &'static str {
        match self {
            Source::ServiceAccount { .. } => "the service-account key",
            Source::AuthorizedUser { .. } => "the authorized-user credentials",
            Source::Metadata { .. } => "the metadata server",
        }
    }
}

/// Access tokens for one provider.
pub struct GoogleTokens {
    source: Source,
    client: HttpClient,
    timeouts: Timeouts,
    cached: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for GoogleTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleTokens")
            .field("source", &self.source.name())
            .finish_non_exhaustive()
    }
}

/// The fields of a credentials JSON file that Switchyard reads.
#[derive(Deserialize)]
struct CredentialsFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: Option<String>,
    #[serde(default)]
    private_key: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

fn auth_error(message: String) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Connect, message)
}

impl GoogleTokens {
    /// Finds the credentials now (a broken file fails at start, not at the first request).
    pub fn new(config: &GcpConfig, env: EnvFn, timeouts: Timeouts) -> Result<Self, ProviderError> {
        let explicit = config.credentials_file.clone().or_else(|| {
            env("GOOGLE_APPLICATION_CREDENTIALS")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        });
        let gcloud = env("HOME")
            .map(|h| Path::new(&h).join(".config/gcloud/application_default_credentials.json"));
        let source = match (explicit, gcloud) {
            (Some(path), _) => from_file(&path)?,
            (None, Some(path)) if path.is_file() => from_file(&path)?,
            _ => Source::Metadata {
                host: env("GCE_METADATA_HOST")
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| METADATA_HOST.to_owned()),
            },
        };
        Ok(GoogleTokens {
            source,
            client: transport::client(&timeouts, None)?,
            timeouts,
            cached: Mutex::new(None),
        })
    }

    /// A valid access token, from the cache while it has more than five minutes left.
    pub async fn token(&self) -> Result<String, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref() {
            if *expires > Instant::now() + REFRESH_MARGIN {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.fetch().await?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    async fn fetch(&self) -> Result<(String, Duration), ProviderError> {
        let request = match &self.source {
            Source::ServiceAccount {
                email,
                key_id,
                key,
                token_uri,
            } => {
                let assertion = jwt(email, key_id.as_deref(), key, token_uri, SystemTime::now())?;
                form_post(
                    token_uri,
                    &format!(
                        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
                    ),
                )?
            }
            Source::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => form_post(
                token_uri,
                &format!(
                    "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                    crate::upstream::path_segment(client_id),
                    crate::upstream::path_segment(client_secret),
                    crate::upstream::path_segment(refresh_token)
                ),
            )?,
            Source::Metadata { host } => http::Request::get(format!(
                "http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={}",
                crate::upstream::path_segment(SCOPE)
            ))
            .header("metadata-flavor", "Google")
            .body(Full::new(Bytes::new()))
            .map_err(|_| auth_error("invalid metadata server host".into()))?,
        };
        let source = self.source.name();
        let (status, body) = transport::fetch_small(
            &self.client,
            self.timeouts,
            Duration::from_secs(10),
            request,
        )
        .await
        .map_err(|e| auth_error(format!("no Google access token: {source} {e}")))?;
        if !status.is_success() {
            return Err(auth_error(format!(
                "no Google access token: the token endpoint refused {source} (HTTP {})",
                status.as_u16()
            )));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            auth_error(format!(
                "no Google access token: {source} gave a malformed answer"
            ))
        })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600).max(60));
        Ok((parsed.access_token, lifetime))
    }
}

fn from_file(path: &Path) -> Result<Source, ProviderError> {
    let bad = |why: &str| {
        ProviderError::unsupported(format!("Google credentials file {}: {why}", path.display()))
    };
    let text = std::fs::read(path).map_err(|e| bad(&format!("cannot read it ({})", e.kind())))?;
    let file: CredentialsFile =
        serde_json::from_slice(&text).map_err(|_| bad("not a credentials JSON file"))?;
    let token_uri = file
        .token_uri
        .clone()
        .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
    match file.kind.as_str() {
        "service_account" => {
            let (Some(email), Some(pem)) = (file.client_email, file.private_key) else {
                return Err(bad("a service account needs client_email and private_key"));
            };
            let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
                .map_err(|_| bad("private_key is not a PKCS#8 PEM key"))?;
            let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
                .map_err(|_| bad("private_key is not a usable RSA key"))?;
            Ok(Source::ServiceAccount {
                email,
                key_id: file.private_key_id,
                key: Box::new(key),
                token_uri,
            })
        }
        "authorized_user" => {
            let (Some(client_id), Some(client_secret), Some(refresh_token)) =
                (file.client_id, file.client_secret, file.refresh_token)
            else {
                return Err(bad(
                    "authorized_user needs client_id, client_secret and refresh_token",
                ));
            };
            Ok(Source::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            })
        }
        other => Err(bad(&format!(
            "type `{other}` is not supported (service_account or authorized_user)"
        ))),
    }
}

fn form_post(uri: &str, form: &str) -> Result<http::Request<Full<Bytes>>, ProviderError> {
    http::Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(form.to_owned())))
        .map_err(|_| auth_error(format!("the token_uri `{uri}` is not a valid URL")))
}

/// A signed JWT asking `token_uri` for a cloud-platform token for `email`, valid one hour.
pub(crate) fn jwt(
    email: &str,
    key_id: Option<&str>,
    key: &RsaKeyPair,
    token_uri: &str,
    now: SystemTime,
) -> Result<String, ProviderError> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = key_id {
        header["kid"] = serde_json::Value::from(kid);
    }
    let claims = serde_json::json!({
        "iss": email, "scope": SCOPE, "aud": token_uri, "iat": iat, "exp": iat + 3600,
    });
    let signing_input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| auth_error("could not sign the Google token request".into()))?;
    Ok(format!("{signing_input}.{}", b64.encode(signature)))
}
