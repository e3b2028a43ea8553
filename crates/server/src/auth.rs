//! Client authentication: the API keys in the config file, and the virtual keys in the store
//! (through governance's key cache).
//!
//! Config keys are held only as SHA-256 digests and compared in constant time; virtual keys
//! as HMACs under the pepper. Unknown and missing keys are told apart (as OpenAI does), but
//! unknown, revoked, expired and malformed keys get the same answer, and no answer repeats
//! any part of the key. With no key anywhere the gateway is open (loopback only, checked at
//! start).

use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_config::Secret;
use switchyard_dialects::{ErrorClass, GatewayError};
use switchyard_governance::{Caller, KeyCache};

pub struct Auth {
    digests: Vec<[u8; 32]>,
    virtual_keys: Option<Arc<KeyCache>>,
}

/// Headers a reverse proxy adds: a request carrying one did not come from this machine's own
/// client, whatever the peer address says.
const FORWARDING_HEADERS: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
    "via",
];

/// Open mode (no key anywhere) trusts loopback clients only; a request that came through a
/// proxy on this machine (it carries forwarding headers) is refused, and the log says why
/// (once, then every power of two, so that a flood cannot fill it).
fn open_mode(headers: &HeaderMap) -> Result<Option<Arc<Caller>>, GatewayError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let Some(header) = FORWARDING_HEADERS
        .iter()
        .find(|name| headers.contains_key(**name))
    else {
        return Ok(None);
    };
    let n = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        tracing::warn!(
            target: "switchyard::auth",
            header,
            refused = n,
            "open mode (no API keys) refused a request that came through a proxy; create a key to serve proxied clients"
        );
    }
    Err(GatewayError::new(
        ErrorClass::PermissionDenied,
        format!(
            "This gateway has no API keys and serves only clients on its own machine; the request came through a proxy (`{header}`). Create a key (`switchyard keys create`) to serve it."
        ),
    ))
}

impl Auth {
    pub fn new(keys: &[Secret]) -> Self {
        Auth::with_virtual_keys(keys, None)
    }

    pub fn with_virtual_keys(keys: &[Secret], virtual_keys: Option<Arc<KeyCache>>) -> Self {
        Auth {
            digests: keys.iter().map(|k| digest(k.expose())).collect(),
            virtual_keys,
        }
    }

    /// Whether keys are required at all: none in the config and none ever created.
    pub fn is_open(&self) -> bool {
        self.digests.is_empty() && !self.virtual_keys.as_ref().is_some_and(|k| k.has_keys())
    }

    /// Checks the key a client sent: `Authorization: Bearer`, `api-key` (Azure clients),
    /// `x-api-key` (Anthropic clients), `x-goog-api-key` (Gemini clients) or the SigV4
    /// access key id (AWS clients). A virtual key names its caller; a config key and an open
    /// gateway name none.
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<Arc<Caller>>, GatewayError> {
        if self.is_open() {
            return open_mode(headers);
        }
        let Some(key) = presented_key(headers) else {
            return Err(GatewayError::new(
                ErrorClass::Authentication,
                "You didn't provide an API key. Send it in the Authorization header as `Bearer YOUR_KEY`.",
            ));
        };
        if let Some(caller) = self
            .virtual_keys
            .as_ref()
            .and_then(|keys| keys.check(key, switchyard_store::now_ms()))
        {
            return Ok(Some(caller));
        }
        let candidate = digest(key);
        let mut matched = subtle::Choice::from(0u8);
        for known in &self.digests {
            matched |= known.ct_eq(&candidate);
        }
        if bool::from(matched) {
            Ok(None)
        } else {
            Err(
                GatewayError::new(ErrorClass::Authentication, "Incorrect API key provided.")
                    .with_code("invalid_api_key"),
            )
        }
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        // SigV4 (boto3 and the AWS SDKs): the access key id in the credential scope is the
        // key; the signature cannot be checked without AWS secrets and is not.
        if let Some(scope) = value.strip_prefix("AWS4-HMAC-SHA256") {
            let akid = scope
                .split([',', ' '])
                .find_map(|part| part.trim().strip_prefix("Credential="))
                .and_then(|cred| cred.split('/').next())
                .filter(|k| !k.is_empty());
            if akid.is_some() {
                return akid;
            }
        }
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        if !token.is_empty() {
            return Some(token);
        }
    }
    ["api-key", "x-api-key", "x-goog-api-key"]
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .find(|v| !v.is_empty())
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    #[test]
    fn open_when_no_keys() {
        assert!(Auth::new(&[]).check(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn open_mode_refuses_proxied_requests() {
        let auth = Auth::new(&[]);
        for name in FORWARDING_HEADERS {
            let err = auth.check(&headers(name, "203.0.113.9")).unwrap_err();
            assert_eq!(err.class, ErrorClass::PermissionDenied, "{name}");
            assert!(err.message.contains(name), "{}", err.message);
        }
        // With keys, forwarding headers change nothing.
        let keyed = Auth::new(&[Secret::new("sk-good")]);
        let mut h = headers("authorization", "Bearer sk-good");
        h.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert!(keyed.check(&h).is_ok());
    }

    #[test]
    fn bearer_api_key_and_x_api_key_are_accepted() {
        let auth = Auth::new(&[Secret::new("sk-good")]);
        assert!(auth
            .check(&headers("authorization", "Bearer sk-good"))
            .is_ok());
        assert!(auth.check(&headers("api-key", "sk-good")).is_ok());
        assert!(auth.check(&headers("x-api-key", "sk-good")).is_ok());
    }

    #[test]
    fn sigv4_access_key_id_is_the_key() {
        let auth = Auth::new(&[Secret::new("AKIASWITCHYARD")]);
        let signed = "AWS4-HMAC-SHA256 Credential=AKIASWITCHYARD/20261128/eu-central-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert!(auth.check(&headers("authorization", signed)).is_ok());
        let other = signed.replace("AKIASWITCHYARD", "AKIAOTHER");
        assert!(auth.check(&headers("authorization", &other)).is_err());
    }

    #[test]
    fn missing_and_wrong_keys_are_authentication_errors_without_the_key() {
        let auth = Auth::new(&[Secret::new("sk-good")]);
        let missing = auth.check(&HeaderMap::new()).unwrap_err();
        assert_eq!(missing.class, ErrorClass::Authentication);
        let wrong = auth
            .check(&headers("authorization", "Bearer sk-bad-guess"))
            .unwrap_err();
        assert_eq!(wrong.class, ErrorClass::Authentication);
        assert!(!wrong.message.contains("sk-bad"));
    }
}
