//! The `Retry-After` family of upstream headers (`retry-after-ms`, `retry-after` in seconds or
//! as an HTTP date, the OpenAI and Anthropic rate-limit reset headers): any values give a wait
//! of at most a day, or none, never a panic. Input: `name: value` lines.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use switchyard_providers::decode;

const NAMES: [&str; 8] = [
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let name = match std::str::from_utf8(name) {
            Ok(n) => n.trim().to_ascii_lowercase(),
            Err(_) => continue,
        };
        // A known name by number (`3: 6m0s`) or as written.
        let name = name
            .parse::<usize>()
            .ok()
            .map_or(name.clone(), |i| NAMES[i % NAMES.len()].to_owned());
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    if let Some(wait) = decode::retry_after(&headers) {
        assert!(wait <= Duration::from_secs(86_400), "{wait:?}");
    }
});
