//! When an upstream says it may be called again: `retry-after-ms`; `retry-after` in seconds
//! or as an HTTP-date; else the rate-limit reset headers of a limit that is exhausted
//! (OpenAI and Azure `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` with durations such
//! as `6m0s`; Anthropic `anthropic-ratelimit-*-remaining` / `-reset` with RFC 3339 times).

use std::time::{Duration, SystemTime};

/// Limits whose exhaustion the reset headers report: (remaining header, reset header).
const RESET_PAIRS: [(&str, &str); 6] = [
    (
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    (
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    (
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ),
    (
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ),
    (
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
    ),
];

/// The longest wait any of them asks for, capped at a day.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

fn retry_after_at(headers: &http::HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let cap = |d: Duration| d.min(Duration::from_secs(86_400));
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(cap(Duration::from_secs_f64(ms / 1000.0)));
        }
    }
    if let Some(value) = text("retry-after") {
        if let Some(s) = value
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
        {
            return Some(cap(Duration::from_secs_f64(s)));
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(cap(at.duration_since(now).unwrap_or(Duration::ZERO)));
        }
    }
    RESET_PAIRS
        .iter()
        .filter(|(remaining, _)| text(remaining).is_some_and(|r| r == "0"))
        .filter_map(|(_, reset)| {
            let value = text(reset)?;
            go_duration(value).or_else(|| {
                let at = switchyard_types::calendar::parse_rfc3339(value)?;
                Some(at.duration_since(now).unwrap_or(Duration::ZERO))
            })
        })
        .max()
        .map(cap)
}

/// A Go-style duration as OpenAI sends it: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
fn go_duration(text: &str) -> Option<Duration> {
    let mut total = 0.0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..number_end)?.parse().ok()?;
        rest = rest.get(number_end..)?;
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match rest.get(..unit_end)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += number * seconds;
        rest = rest.get(unit_end..)?;
    }
    total.is_finite().then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn explicit_retry_after_wins() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |pairs| retry_after_at(&headers(pairs), now);
        assert_eq!(
            at(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(at(&[("retry-after", "2")]), Some(Duration::from_secs(2)));
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            at(&[("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(at(&[("retry-after", "soon")]), None);
        assert_eq!(at(&[]), None);
    }

    #[test]
    fn reset_headers_of_an_exhausted_limit() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |pairs| retry_after_at(&headers(pairs), now);
        assert_eq!(
            at(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "6m0s"),
                ("x-ratelimit-remaining-tokens", "1500"),
                ("x-ratelimit-reset-tokens", "20ms"),
            ]),
            Some(Duration::from_secs(360)),
            "only the exhausted limit counts"
        );
        assert_eq!(
            at(&[
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "1h2m3.5s"),
            ]),
            Some(Duration::from_secs_f64(3723.5))
        );
        assert_eq!(
            at(&[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", "2023-11-14T22:13:25Z"),
            ]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            at(&[
                ("anthropic-ratelimit-output-tokens-remaining", "0"),
                (
                    "anthropic-ratelimit-output-tokens-reset",
                    "2023-11-14T23:13:22.5+01:00"
                ),
            ]),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            at(&[
                ("x-ratelimit-remaining-requests", "3"),
                ("x-ratelimit-reset-requests", "6m0s"),
            ]),
            None,
            "a limit with room left says nothing"
        );
        assert_eq!(
            at(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "whenever"),
            ]),
            None
        );
    }
}
