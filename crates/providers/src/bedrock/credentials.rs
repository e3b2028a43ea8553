//! AWS credentials: static keys from the config, or the standard AWS credential chain, in
//! the SDKs' order:
//!
//! 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`);
//! 2. the shared files (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, then
//!    `AWS_CONFIG_FILE`, default `~/.aws/config`) for the profile (`aws_profile`,
//!    `AWS_PROFILE`, or `default`): keys, or a `credential_process`;
//! 3. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`: EKS service accounts),
//!    exchanged at STS;
//! 4. the container endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on ECS,
//!    `AWS_CONTAINER_CREDENTIALS_FULL_URI` on EKS Pod Identity);
//! 5. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`.
//!
//! Temporary credentials are cached and renewed five minutes before they expire. Secrets are
//! never logged: errors name where a source failed, never what it returned.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;
use switchyard_config::{AwsConfig, Timeouts};
use tokio::sync::Mutex;

use crate::error::{ProviderError, ProviderErrorKind};
use crate::transport::{self, HttpClient};

pub use crate::upstream::EnvFn;

/// Renew temporary credentials this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const ECS_HOST: &str = "http://169.254.170.2";
const IMDS_ENDPOINT: &str = "http://169.254.169.254";

/// A set of AWS credentials. `Debug` never shows the secret.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub expires: Option<SystemTime>,
    /// Which source they came from (for errors and logs).
    pub source: &'static str,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl AwsCredentials {
    fn fresh(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|at| at > now + REFRESH_MARGIN)
    }
}

/// Where a provider's credentials come from.
pub struct CredentialChain {
    fixed: Option<AwsCredentials>,
    profile: Option<String>,
    region: String,
    env: EnvFn,
    client: HttpClient,
    timeouts: Timeouts,
    cached: Mutex<Option<AwsCredentials>>,
}

impl std::fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialChain")
            .field("static", &self.fixed.is_some())
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl CredentialChain {
    pub fn new(config: &AwsConfig, env: EnvFn, timeouts: Timeouts) -> Result<Self, ProviderError> {
        let fixed = config.static_keys.as_ref().map(|k| AwsCredentials {
            access_key_id: k.access_key_id.clone(),
            secret_access_key: k.secret_access_key.expose().to_owned(),
            session_token: k.session_token.as_ref().map(|t| t.expose().to_owned()),
            expires: None,
            source: "the provider config",
        });
        Ok(CredentialChain {
            fixed,
            profile: config.profile.clone(),
            region: config.region.clone(),
            env,
            client: transport::client(&timeouts, None)?,
            timeouts,
            cached: Mutex::new(None),
        })
    }

    /// The secret parts of static keys (to scrub from upstream text).
    pub fn static_secrets(&self) -> Vec<String> {
        self.fixed
            .iter()
            .flat_map(|c| {
                std::iter::once(c.secret_access_key.clone()).chain(c.session_token.clone())
            })
            .collect()
    }

    /// Current credentials, from the cache while they are fresh.
    pub async fn get(&self) -> Result<AwsCredentials, ProviderError> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some(c) = cached.as_ref().filter(|c| c.fresh(now)) {
            return Ok(c.clone());
        }
        let loaded = self.load().await?;
        *cached = Some(loaded.clone());
        Ok(loaded)
    }

    async fn load(&self) -> Result<AwsCredentials, ProviderError> {
        let env = |name: &str| (self.env)(name).filter(|v| !v.is_empty());
        let mut tried: Vec<String> = Vec::new();
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            return Ok(AwsCredentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: env("AWS_SESSION_TOKEN"),
                expires: None,
                source: "the environment",
            });
        }
        tried.push("environment variables (not set)".to_owned());

        let profile = self
            .profile
            .clone()
            .or_else(|| env("AWS_PROFILE"))
            .unwrap_or_else(|| "default".to_owned());
        match self.shared_files(&profile).await {
            Ok(Some(c)) => return Ok(c),
            Ok(None) => tried.push(format!("shared files (no profile `{profile}`)")),
            Err(e) => return Err(e),
        }

        if let (Some(token_file), Some(role)) =
            (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN"))
        {
            let session = env("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| "switchyard".to_owned());
            return self.web_identity(&token_file, &role, &session).await;
        }
        tried.push("web identity (not configured)".to_owned());

        if let Some(relative) = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return self.container(&format!("{ECS_HOST}{relative}"), None).await;
        }
        if let Some(full) = env("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            let token = match env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
                Some(file) => Some(read_trimmed(&file, "the container authorization token")?),
                None => env("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            };
            return self.container(&full, token).await;
        }
        tried.push("container endpoint (not configured)".to_owned());

        let imds_disabled =
            env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if !imds_disabled {
            let endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .unwrap_or_else(|| IMDS_ENDPOINT.to_owned());
            match self.instance_metadata(endpoint.trim_end_matches('/')).await {
                Ok(c) => return Ok(c),
                Err(e) => tried.push(format!("instance metadata ({})", e.message)),
            }
        } else {
            tried.push("instance metadata (disabled)".to_owned());
        }
        Err(no_credentials(&format!("tried {}", tried.join(", "))))
    }

    /// Keys or a `credential_process` for `profile`, from the shared files.
    async fn shared_files(&self, profile: &str) -> Result<Option<AwsCredentials>, ProviderError> {
        let home = (self.env)("HOME").map(PathBuf::from);
        let path = |var: &str, default: &str| {
            (self.env)(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let credentials = path("AWS_SHARED_CREDENTIALS_FILE", "credentials")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| ini_section(&text, profile));
        let config_section = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        let config = path("AWS_CONFIG_FILE", "config")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| ini_section(&text, &config_section));
        for section in [credentials, config].into_iter().flatten() {
            let get = |key: &str| {
                section
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            };
            if let (Some(id), Some(secret)) =
                (get("aws_access_key_id"), get("aws_secret_access_key"))
            {
                return Ok(Some(AwsCredentials {
                    access_key_id: id,
                    secret_access_key: secret,
                    session_token: get("aws_session_token"),
                    expires: None,
                    source: "the shared credentials file",
                }));
            }
            if let Some(command) = get("credential_process") {
                return credential_process(&command, self.timeouts.total)
                    .await
                    .map(Some);
            }
        }
        Ok(None)
    }

    /// STS `AssumeRoleWithWebIdentity` (an unsigned call: the token is the proof).
    async fn web_identity(
        &self,
        token_file: &str,
        role: &str,
        session: &str,
    ) -> Result<AwsCredentials, ProviderError> {
        let token = read_trimmed(token_file, "the web identity token")?;
        let endpoint = (self.env)("AWS_ENDPOINT_URL_STS")
            .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", self.region));
        let form = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
            form_encode(role),
            form_encode(session),
            form_encode(&token)
        );
        let request = http::Request::post(endpoint.trim_end_matches('/'))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/xml")
            .body(Full::new(Bytes::from(form)))
            .map_err(|_| no_credentials("the STS endpoint is not a valid URL"))?;
        let body = self.fetch(request, "STS").await?;
        let text = String::from_utf8_lossy(&body);
        let field = |name: &str| xml_field(&text, name);
        match (field("AccessKeyId"), field("SecretAccessKey")) {
            (Some(id), Some(secret)) => Ok(AwsCredentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: field("SessionToken"),
                expires: field("Expiration").and_then(|e| parse_timestamp(&e)),
                source: "web identity (STS)",
            }),
            _ => Err(no_credentials("STS answered without credentials")),
        }
    }

    /// The ECS / EKS Pod Identity credentials endpoint.
    async fn container(
        &self,
        url: &str,
        token: Option<String>,
    ) -> Result<AwsCredentials, ProviderError> {
        let mut request = http::Request::get(url);
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|_| no_credentials("the container credentials URI is not valid"))?;
        let body = self.fetch(request, "the container endpoint").await?;
        json_credentials(&body, "the container endpoint")
    }

    /// IMDSv2: a session token, the instance role's name, then its credentials.
    async fn instance_metadata(&self, endpoint: &str) -> Result<AwsCredentials, ProviderError> {
        let request = http::Request::put(format!("{endpoint}/latest/api/token"))
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            .body(Full::new(Bytes::new()))
            .map_err(|_| no_credentials("invalid metadata endpoint"))?;
        let token = self.fetch(request, "instance metadata").await?;
        let token = String::from_utf8_lossy(&token).trim().to_owned();
        let get = |path: String| {
            http::Request::get(format!("{endpoint}{path}"))
                .header("x-aws-ec2-metadata-token", token.as_str())
                .body(Full::new(Bytes::new()))
                .map_err(|_| no_credentials("invalid metadata endpoint"))
        };
        let roles = self
            .fetch(
                get("/latest/meta-data/iam/security-credentials/".to_owned())?,
                "instance metadata",
            )
            .await?;
        let role = String::from_utf8_lossy(&roles)
            .lines()
            .next()
            .map(str::trim)
            .unwrap_or("")
            .to_owned();
        if role.is_empty() {
            return Err(no_credentials("the instance has no IAM role"));
        }
        let body = self
            .fetch(
                get(format!("/latest/meta-data/iam/security-credentials/{role}"))?,
                "instance metadata",
            )
            .await?;
        json_credentials(&body, "instance metadata")
    }

    /// One small call, under the provider's connect timeout and at most 5 s in all.
    async fn fetch(
        &self,
        request: http::Request<Full<Bytes>>,
        source: &str,
    ) -> Result<Bytes, ProviderError> {
        let (status, body) =
            transport::fetch_small(&self.client, self.timeouts, Duration::from_secs(5), request)
                .await
                .map_err(|e| no_credentials(&format!("{source} {e}")))?;
        if !status.is_success() {
            return Err(no_credentials(&format!(
                "{source} answered {}",
                status.as_u16()
            )));
        }
        Ok(body)
    }
}

fn no_credentials(detail: &str) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::Connect,
        format!("no AWS credentials: {detail}"),
    )
}

fn read_trimmed(path: &str, what: &str) -> Result<String, ProviderError> {
    std::fs::read_to_string(path)
        .map(|t| t.trim().to_owned())
        .map_err(|e| no_credentials(&format!("cannot read {what} ({path}): {}", e.kind())))
}

/// The container endpoint's, instance metadata's and `credential_process`'s JSON.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default, alias = "SessionToken")]
    token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

fn json_credentials(body: &[u8], source: &'static str) -> Result<AwsCredentials, ProviderError> {
    let parsed: JsonCredentials = serde_json::from_slice(body)
        .map_err(|_| no_credentials(&format!("{source} sent no usable credentials")))?;
    Ok(AwsCredentials {
        access_key_id: parsed.access_key_id,
        secret_access_key: parsed.secret_access_key,
        session_token: parsed.token,
        expires: parsed.expiration.as_deref().and_then(parse_timestamp),
        source,
    })
}

/// Runs a profile's `credential_process` (through `sh -c`, as the AWS CLI does on Unix).
async fn credential_process(
    command: &str,
    limit: Duration,
) -> Result<AwsCredentials, ProviderError> {
    let run = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| no_credentials("credential_process timed out"))?
        .map_err(|e| {
            no_credentials(&format!("credential_process could not start: {}", e.kind()))
        })?;
    if !output.status.success() {
        return Err(no_credentials(&format!(
            "credential_process exited with {}",
            output.status
        )));
    }
    json_credentials(&output.stdout, "credential_process")
}

/// The `key = value` pairs of `[section]` in an INI file, if the section exists.
fn ini_section(text: &str, section: &str) -> Option<Vec<(String, String)>> {
    let mut inside = false;
    let mut found = None::<Vec<(String, String)>>;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            if inside && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if !inside {
            continue;
        }
        if let (Some(entries), Some((key, value))) = (found.as_mut(), line.split_once('=')) {
            entries.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    found
}

/// The text of the first `<name>...</name>` element.
fn xml_field(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(
        text[start..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(text: &str) -> String {
    crate::upstream::path_segment(text)
}

/// An ISO 8601 / RFC 3339 UTC timestamp (`2026-11-28T12:00:00Z`, fractions and numeric
/// offsets allowed).
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    switchyard_types::calendar::parse_rfc3339(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_utc() {
        let at = parse_timestamp("2026-11-28T12:00:00Z").unwrap();
        let secs = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_795_867_200);
        assert_eq!(
            parse_timestamp("2026-11-28T13:00:00.123+01:00"),
            Some(at + Duration::from_millis(123)),
            "offsets and fractions"
        );
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:00Z"),
            Some(SystemTime::UNIX_EPOCH)
        );
        assert!(parse_timestamp("2026-13-01T00:00:00Z").is_none());
        assert!(parse_timestamp("soon").is_none());
    }

    #[test]
    fn ini_sections_are_found_by_exact_name() {
        let text = "[default]\naws_access_key_id = A\n\n[profile prod]\n# note\nAWS_SECRET_ACCESS_KEY=s = x\n[prod]\nx=y\n";
        assert_eq!(
            ini_section(text, "default").unwrap(),
            vec![("aws_access_key_id".to_owned(), "A".to_owned())]
        );
        assert_eq!(
            ini_section(text, "profile prod").unwrap(),
            vec![("aws_secret_access_key".to_owned(), "s = x".to_owned())]
        );
        assert!(ini_section(text, "missing").is_none());
    }

    #[test]
    fn xml_fields_are_unescaped() {
        let xml = "<R><Credentials><AccessKeyId>ASIA1</AccessKeyId><SessionToken>a&amp;b</SessionToken></Credentials></R>";
        assert_eq!(xml_field(xml, "AccessKeyId").as_deref(), Some("ASIA1"));
        assert_eq!(xml_field(xml, "SessionToken").as_deref(), Some("a&b"));
        assert_eq!(xml_field(xml, "Expiration"), None);
    }
}
