//! Images and documents given by URL, fetched for upstreams that only take inline data
//! (Gemini, Ollama, Bedrock), under a size cap, a time limit and an SSRF guard.
//!
//! The guard sits in the DNS resolver of the fetcher's own HTTP client, so the address that
//! was checked is the address connected to (a name that resolves to a public address for the
//! check and to a private one for the connection cannot slip through). Literal IP hosts are
//! checked before the request; every redirect is checked again. Loopback, private, link-local
//! (cloud metadata at 169.254.169.254 included), carrier-grade NAT, documentation, multicast
//! and reserved ranges are refused unless `media.allow_private_networks` is set.
//!
//! Error messages name the URL without its query string (signed URLs carry credentials there).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use switchyard_config::MediaConfig;
use switchyard_types::{ChatRequest, ContentBlock, ImageSource};

use crate::error::ProviderError;

/// Redirects followed per fetch.
const MAX_REDIRECTS: usize = 5;
/// URLs fetched per request.
const MAX_URLS: usize = 32;

type GuardedClient = Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

/// Fetches media for upstreams that need it inline.
#[derive(Debug, Clone)]
pub struct MediaFetcher {
    client: GuardedClient,
    config: MediaConfig,
}

impl MediaFetcher {
    pub fn new(config: MediaConfig) -> Result<Self, ProviderError> {
        let resolver = GuardedResolver {
            allow_private: config.allow_private_networks,
        };
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.set_connect_timeout(Some(config.timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::transport::tls_config(None)?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(MediaFetcher { client, config })
    }

    /// `request` with every image and document URL replaced by the fetched data, or `None`
    /// when it has none.
    pub async fn inline(
        &self,
        request: &ChatRequest,
    ) -> Result<Option<ChatRequest>, ProviderError> {
        if !has_remote_media(request) {
            return Ok(None);
        }
        if self.config.offline {
            return Err(ProviderError::unsupported(
                "offline mode: the gateway fetches no URLs; send images and documents inline (base64)",
            ));
        }
        let mut out = request.clone();
        let mut fetched: Vec<(String, ImageSource)> = Vec::new();
        for message in &mut out.messages {
            for block in &mut message.content {
                self.inline_block(block, &mut fetched).await?;
            }
        }
        Ok(Some(out))
    }

    async fn inline_block(
        &self,
        block: &mut ContentBlock,
        fetched: &mut Vec<(String, ImageSource)>,
    ) -> Result<(), ProviderError> {
        let (source, image) = match block {
            ContentBlock::Image { source, .. } => (source, true),
            ContentBlock::Document { source, .. } => (source, false),
            ContentBlock::ToolResult { content, .. } => {
                for inner in content {
                    Box::pin(self.inline_block(inner, fetched)).await?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        let ImageSource::Url { url } = source else {
            return Ok(());
        };
        if let Some((_, done)) = fetched.iter().find(|(u, _)| u == url) {
            *source = done.clone();
            return Ok(());
        }
        if fetched.len() >= MAX_URLS {
            return Err(ProviderError::unsupported(format!(
                "more than {MAX_URLS} image or document URLs in one request"
            )));
        }
        let (media_type, data) = self.fetch(url).await?;
        if image && !media_type.starts_with("image/") {
            return Err(ProviderError::unsupported(format!(
                "the image URL {} returned {media_type}, not an image",
                redacted(url)
            )));
        }
        let inline = ImageSource::Base64 {
            media_type,
            data: base64::engine::general_purpose::STANDARD.encode(&data),
        };
        fetched.push((url.clone(), inline.clone()));
        *source = inline;
        Ok(())
    }

    /// The body and media type at `url`, following redirects, within the limits.
    pub async fn fetch(&self, url: &str) -> Result<(String, Bytes), ProviderError> {
        let shown = redacted(url);
        let fail = |why: String| {
            ProviderError::unsupported(format!("the media URL {shown} could not be fetched: {why}"))
        };
        let work = async {
            let mut current = parse_http_url(url).map_err(&fail)?;
            for _ in 0..=MAX_REDIRECTS {
                self.check(&current).map_err(&fail)?;
                let request = http::Request::get(current.clone())
                    .header(
                        http::header::USER_AGENT,
                        concat!("switchyard/", env!("CARGO_PKG_VERSION")),
                    )
                    .header(
                        http::header::ACCEPT,
                        "image/*, application/pdf, text/*;q=0.5, */*;q=0.1",
                    )
                    .body(Full::new(Bytes::new()))
                    .map_err(|_| fail("not a valid URL".into()))?;
                let response = self
                    .client
                    .request(request)
                    .await
                    .map_err(|e| fail(crate::transport::describe(&e)))?;
                let status = response.status();
                if status.is_redirection() {
                    let location = response
                        .headers()
                        .get(http::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .ok_or_else(|| {
                            fail(format!("HTTP {} without a Location", status.as_u16()))
                        })?;
                    current = resolve_location(&current, location).map_err(&fail)?;
                    continue;
                }
                if !status.is_success() {
                    return Err(fail(format!(
                        "the server answered HTTP {}",
                        status.as_u16()
                    )));
                }
                let declared = response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| {
                        v.split(';')
                            .next()
                            .unwrap_or("")
                            .trim()
                            .to_ascii_lowercase()
                    });
                let length = response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if length.is_some_and(|n| n > self.config.max_bytes) {
                    return Err(fail(format!(
                        "it is larger than {} bytes",
                        self.config.max_bytes
                    )));
                }
                let mut body = response.into_body();
                let mut data = BytesMut::new();
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| fail(crate::transport::describe(&e)))?;
                    if let Ok(chunk) = frame.into_data() {
                        if (data.len() + chunk.len()) as u64 > self.config.max_bytes {
                            return Err(fail(format!(
                                "it is larger than {} bytes",
                                self.config.max_bytes
                            )));
                        }
                        data.extend_from_slice(&chunk);
                    }
                }
                let media_type =
                    match declared.filter(|d| !d.is_empty() && d != "application/octet-stream") {
                        Some(d) => d,
                        None => sniff(&data)
                            .ok_or_else(|| fail("its media type is unknown".into()))?
                            .to_owned(),
                    };
                return Ok((media_type, data.freeze()));
            }
            Err(fail(format!("more than {MAX_REDIRECTS} redirects")))
        };
        tokio::time::timeout(self.config.timeout, work)
            .await
            .map_err(|_| {
                fail(format!(
                    "no complete answer within {:.1} s",
                    self.config.timeout.as_secs_f64()
                ))
            })?
    }

    /// Scheme and literal-address checks (names are checked by the resolver).
    fn check(&self, uri: &http::Uri) -> Result<(), String> {
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err("only http and https URLs are fetched".into()),
        }
        let host = uri.host().ok_or("the URL has no host")?;
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            if !self.config.allow_private_networks && !is_public(ip) {
                return Err(format!("{ip} is not a public address"));
            }
        }
        Ok(())
    }
}

/// Whether `request` has an image or document given by URL.
pub fn has_remote_media(request: &ChatRequest) -> bool {
    fn remote(block: &ContentBlock) -> bool {
        match block {
            ContentBlock::Image { source, .. } | ContentBlock::Document { source, .. } => {
                matches!(source, ImageSource::Url { .. })
            }
            ContentBlock::ToolResult { content, .. } => content.iter().any(remote),
            _ => false,
        }
    }
    request
        .messages
        .iter()
        .any(|m| m.content.iter().any(remote))
}

/// The URL without query or fragment, for messages.
fn redacted(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let mut shown: String = url[..end].chars().take(200).collect();
    if end < url.len() {
        shown.push_str("?…");
    }
    shown
}

/// An absolute `http` or `https` URL.
fn parse_http_url(url: &str) -> Result<http::Uri, String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err("only http and https URLs are fetched".into());
    }
    url.parse().map_err(|_| "not a valid URL".into())
}

/// A redirect's `Location`, absolute or relative to `base`.
fn resolve_location(base: &http::Uri, location: &str) -> Result<http::Uri, String> {
    let has_scheme = location.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if has_scheme {
        return parse_http_url(location);
    }
    let invalid = || "a redirect to an invalid URL".to_owned();
    let scheme = base.scheme_str().ok_or_else(invalid)?;
    if let Some(rest) = location.strip_prefix("//") {
        return parse_http_url(&format!("{scheme}://{rest}"));
    }
    let authority = base.authority().ok_or_else(invalid)?.as_str();
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    parse_http_url(&format!("{scheme}://{authority}{path}"))
}

/// The media type from the first bytes, for servers that do not say.
fn sniff(data: &[u8]) -> Option<&'static str> {
    Some(match data {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'%', b'P', b'D', b'F', ..] => "application/pdf",
        _ => return None,
    })
}

/// Whether `ip` is a globally routable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0                                  // "this network"
        || a == 10                                        // private
        || a == 127                                       // loopback
        || (a == 100 && (64..128).contains(&b))           // carrier-grade NAT
        || (a == 169 && b == 254)                         // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))            // private
        || (a == 192 && b == 0 && c == 0)                 // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                 // documentation
        || (a == 192 && b == 88 && c == 99)               // 6to4 relay anycast
        || (a == 192 && b == 168)                         // private
        || (a == 198 && (18..20).contains(&b))            // benchmarking
        || (a == 198 && b == 51 && c == 100)              // documentation
        || (a == 203 && b == 0 && c == 113)               // documentation
        || a >= 224; // multicast, reserved, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded_v4 =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    match s[0] {
        // NAT64: the IPv4 address in the last 32 bits decides.
        0x0064 if s[1] == 0xff9b => is_public_v4(embedded_v4(s[6], s[7])),
        // 6to4: the IPv4 address in bits 16-48 decides.
        0x2002 => is_public_v4(embedded_v4(s[1], s[2])),
        // Teredo, documentation.
        0x2001 if s[1] == 0 || s[1] == 0x0db8 => false,
        // Discard-only.
        0x0100 if s[1..4] == [0, 0, 0] => false,
        // Unique local, link-local, site-local, multicast.
        x if (x & 0xfe00) == 0xfc00 || (x & 0xffc0) == 0xfe80 || (x & 0xffc0) == 0xfec0 => false,
        x if (x & 0xff00) == 0xff00 => false,
        // IPv4-compatible (deprecated) and other addresses in ::/8.
        x if x & 0xff00 == 0 => false,
        _ => true,
    }
}

/// The fetcher's DNS resolver: system resolution, then only allowed addresses.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private: bool,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{host} resolves only to non-public addresses"),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

#[cfg(test)]
mod tests;
