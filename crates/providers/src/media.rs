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
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use switchyard_config::MediaConfig;
use switchyard_types::{ChatRequest, ContentBlock, ImageSource};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ProviderError;

/// The code of a fetch refused because the process-wide limits are in use: the gateway is
/// busy (503), the request is not at fault.
pub const GATEWAY_BUSY: &str = "media_capacity_exhausted";

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
    /// Fetches running now, process-wide (`max_concurrent_fetches`).
    fetches: Arc<Semaphore>,
    /// Fetched bytes held now, process-wide, in KiB (`max_in_flight_bytes`).
    held: Arc<Semaphore>,
}

/// What one request's inlined media holds of the process-wide byte limit; given back when
/// the request is done with it (dropped).
#[derive(Debug, Default)]
pub struct MediaHold {
    permits: Option<OwnedSemaphorePermit>,
}

impl MediaHold {
    fn add(&mut self, permit: OwnedSemaphorePermit) {
        match &mut self.permits {
            Some(held) => held.merge(permit),
            None => self.permits = Some(permit),
        }
    }
}

/// One request's fetching so far: the bytes fetched (against `max_request_bytes`) and what
/// it holds of the process-wide limit.
struct Budget {
    fetched: u64,
    hold: MediaHold,
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
        let kib = usize::try_from(config.max_in_flight_bytes.div_ceil(1024))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Ok(MediaFetcher {
            client,
            fetches: Arc::new(Semaphore::new(config.max_concurrent_fetches as usize)),
            held: Arc::new(Semaphore::new(kib)),
            config,
        })
    }

    /// `request` with every image and document URL replaced by the fetched data, or `None`
    /// when it has none.
    ///
    /// Bounded per request (`max_request_bytes` for all its URLs together, each fetched once)
    /// and per process (`max_concurrent_fetches`, `max_in_flight_bytes`, held by the returned
    /// [`MediaHold`] until the request is done). Each file is held once, as the base64 text
    /// it is sent as, encoded as its bytes arrive.
    pub async fn inline(
        &self,
        request: &ChatRequest,
    ) -> Result<Option<(ChatRequest, MediaHold)>, ProviderError> {
        if !has_remote_media(request) {
            return Ok(None);
        }
        if self.config.offline {
            return Err(ProviderError::unsupported(
                "offline mode: the gateway fetches no URLs; send images and documents inline (base64)",
            ));
        }
        let mut out = request.clone();
        // Each URL once, in order of appearance, with how many blocks name it.
        let mut urls: Vec<(String, usize)> = Vec::new();
        let mut too_many = false;
        for_each_source(&mut out, &mut |source, _| {
            if let ImageSource::Url { url } = source {
                if let Some((_, uses)) = urls.iter_mut().find(|(u, _)| u == url) {
                    *uses += 1;
                } else if urls.len() < MAX_URLS {
                    urls.push((url.clone(), 1));
                } else {
                    too_many = true;
                }
            }
        });
        if too_many {
            return Err(ProviderError::unsupported(format!(
                "more than {MAX_URLS} image or document URLs in one request"
            )));
        }
        let mut budget = Budget {
            fetched: 0,
            hold: MediaHold::default(),
        };
        let mut fetched: Vec<(String, String)> = Vec::with_capacity(urls.len());
        for (url, _) in &urls {
            fetched.push(self.fetch_base64(url, &mut budget).await?);
        }
        // Each block takes its file's text; only a URL named twice is copied.
        let mut refused = None;
        for_each_source(&mut out, &mut |source, image| {
            let ImageSource::Url { url } = source else {
                return;
            };
            let Some(at) = urls.iter().position(|(u, _)| u == url) else {
                return;
            };
            let (media_type, data) = &mut fetched[at];
            if image && !media_type.starts_with("image/") {
                refused.get_or_insert_with(|| {
                    format!(
                        "the image URL {} returned {media_type}, not an image",
                        redacted(url)
                    )
                });
                return;
            }
            urls[at].1 -= 1;
            let data = if urls[at].1 == 0 {
                std::mem::take(data)
            } else {
                data.clone()
            };
            *source = ImageSource::Base64 {
                media_type: media_type.clone(),
                data,
            };
        });
        if let Some(why) = refused {
            return Err(ProviderError::unsupported(why));
        }
        Ok(Some((out, budget.hold)))
    }

    /// The body and media type at `url`, following redirects, within the limits.
    pub async fn fetch(&self, url: &str) -> Result<(String, Bytes), ProviderError> {
        let mut budget = Budget {
            fetched: 0,
            hold: MediaHold::default(),
        };
        let (media_type, data) = self.fetch_base64(url, &mut budget).await?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| ProviderError::protocol("fetched media could not be re-read"))?;
        Ok((media_type, Bytes::from(bytes)))
    }

    /// The media type and base64 text of the body at `url`, following redirects: encoded as
    /// it arrives, counted against the request's and the process's limits.
    async fn fetch_base64(
        &self,
        url: &str,
        budget: &mut Budget,
    ) -> Result<(String, String), ProviderError> {
        let shown = redacted(url);
        let fail = |why: String| {
            ProviderError::unsupported(format!("the media URL {shown} could not be fetched: {why}"))
        };
        let limit = self.config.max_bytes;
        let request_room = self.config.max_request_bytes.saturating_sub(budget.fetched);
        let too_large = |n: u64| {
            if n > limit {
                fail(format!("it is larger than {limit} bytes"))
            } else {
                ProviderError::unsupported(format!(
                    "the media URLs of this request come to more than {} bytes in all (media.max_request_bytes)",
                    self.config.max_request_bytes
                ))
            }
        };
        let work = async {
            let _slot = self
                .fetches
                .acquire()
                .await
                .map_err(|_| fail("the fetcher is shutting down".into()))?;
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
                let room = limit.min(request_room);
                if let Some(n) = length.filter(|&n| n > room) {
                    return Err(too_large(n));
                }
                let mut body = response.into_body();
                let mut encoder = Base64Stream::default();
                if let Some(n) = length {
                    // Known size: the text is allocated once, at its final length.
                    let text = usize::try_from(n.div_ceil(3) * 4).unwrap_or(0);
                    self.hold(&mut budget.hold, text)?;
                    encoder.text.reserve_exact(text);
                }
                let mut size = 0u64;
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| fail(crate::transport::describe(&e)))?;
                    let Ok(chunk) = frame.into_data() else {
                        continue;
                    };
                    size += chunk.len() as u64;
                    if size > room {
                        return Err(too_large(size));
                    }
                    let before = encoder.held();
                    encoder.push(&chunk);
                    self.hold(&mut budget.hold, encoder.held().saturating_sub(before))?;
                }
                let media_type =
                    match declared.filter(|d| !d.is_empty() && d != "application/octet-stream") {
                        Some(d) => d,
                        None => sniff(encoder.head())
                            .ok_or_else(|| fail("its media type is unknown".into()))?
                            .to_owned(),
                    };
                return Ok((media_type, encoder.finish(), size));
            }
            Err(fail(format!("more than {MAX_REDIRECTS} redirects")))
        };
        let (media_type, data, size) = tokio::time::timeout(self.config.timeout, work)
            .await
            .map_err(|_| {
                fail(format!(
                    "no complete answer within {:.1} s",
                    self.config.timeout.as_secs_f64()
                ))
            })??;
        budget.fetched += size;
        Ok((media_type, data))
    }

    /// Takes `bytes` more of the process-wide limit for `hold`; when every request together
    /// already holds the limit, the request is refused (the gateway is busy, not the request
    /// wrong), never waited on with bytes already held.
    fn hold(&self, hold: &mut MediaHold, bytes: usize) -> Result<(), ProviderError> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        if kib == 0 {
            return Ok(());
        }
        match self.held.clone().try_acquire_many_owned(kib) {
            Ok(permit) => {
                hold.add(permit);
                Ok(())
            }
            Err(_) => {
                let mut err = ProviderError::unsupported(
                    "the gateway holds as much fetched media as it may (media.max_in_flight_bytes); try again shortly",
                );
                err.code = Some(GATEWAY_BUSY.to_owned());
                err.retry_after = Some(Duration::from_secs(1));
                Err(err)
            }
        }
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

/// Base64 text made as the bytes arrive, so that a file is held once (as the text it is sent
/// as) and never whole as raw bytes too. The first bytes are kept for sniffing the type.
#[derive(Default)]
struct Base64Stream {
    text: String,
    /// Bytes not yet encoded (fewer than three).
    carry: Vec<u8>,
    head: Vec<u8>,
}

/// Bytes kept from the start of a file for [`sniff`].
const SNIFF_BYTES: usize = 16;

impl Base64Stream {
    fn push(&mut self, mut bytes: &[u8]) {
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
        }
        let engine = &base64::engine::general_purpose::STANDARD;
        if !self.carry.is_empty() {
            let need = (3 - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..need]);
            bytes = &bytes[need..];
            if self.carry.len() < 3 {
                return;
            }
            engine.encode_string(&self.carry, &mut self.text);
            self.carry.clear();
        }
        let whole = bytes.len() - bytes.len() % 3;
        engine.encode_string(&bytes[..whole], &mut self.text);
        self.carry.extend_from_slice(&bytes[whole..]);
    }

    /// Bytes held so far (the text and what is not encoded yet).
    fn held(&self) -> usize {
        self.text.capacity() + self.carry.len()
    }

    fn head(&self) -> &[u8] {
        &self.head
    }

    fn finish(mut self) -> String {
        if !self.carry.is_empty() {
            base64::engine::general_purpose::STANDARD.encode_string(&self.carry, &mut self.text);
        }
        self.text
    }
}

/// Calls `visit` on every image (`true`) and document (`false`) source of `request`, those
/// inside tool results included.
fn for_each_source(request: &mut ChatRequest, visit: &mut impl FnMut(&mut ImageSource, bool)) {
    fn block(b: &mut ContentBlock, visit: &mut impl FnMut(&mut ImageSource, bool)) {
        match b {
            ContentBlock::Image { source, .. } => visit(source, true),
            ContentBlock::Document { source, .. } => visit(source, false),
            ContentBlock::ToolResult { content, .. } => {
                for inner in content {
                    block(inner, visit);
                }
            }
            _ => {}
        }
    }
    for message in &mut request.messages {
        for b in &mut message.content {
            block(b, visit);
        }
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
