//! SigV4 request signing (service `bedrock`) with the AWS SDK's own signer, `aws-sigv4`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::credentials::AwsCredentials;
use crate::error::ProviderError;

/// The service name Bedrock Runtime signs under.
pub const SERVICE: &str = "bedrock";

/// The headers that sign a `POST` of `body` to `url`: `x-amz-date`, `authorization`, and
/// `x-amz-security-token` with temporary credentials. `headers` are the other headers the
/// request carries (signed too, except those proxies rewrite, such as `user-agent`); `host`
/// is signed from the URL. All values come back marked sensitive.
pub fn sign_post(
    credentials: &AwsCredentials,
    region: &str,
    url: &http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    time: SystemTime,
) -> Result<HeaderMap, ProviderError> {
    let identity: Identity = Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        credentials.expires,
        "switchyard",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ProviderError::protocol(format!("cannot sign the request: {e}")))?
        .into();
    let signed_headers: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let url = url.to_string();
    let request = SignableRequest::new(
        "POST",
        url.as_str(),
        signed_headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| ProviderError::protocol(format!("cannot sign the request: {e}")))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| ProviderError::protocol(format!("cannot sign the request: {e}")))?
        .into_parts();
    let (new_headers, _params) = instructions.into_parts();
    let mut out = HeaderMap::new();
    for header in new_headers {
        let name = HeaderName::from_bytes(header.name().as_bytes())
            .map_err(|_| ProviderError::protocol("the request signature is not a header"))?;
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| ProviderError::protocol("the request signature is not a header value"))?;
        value.set_sensitive(true);
        out.insert(name, value);
    }
    Ok(out)
}
