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

/// The longest wait honoured: an upstream asking for more gets this.
const MAX_WAIT: Duration = Duration::from_secs(86_400);

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
    let cap = |d: Duration| d.min(MAX_WAIT);
    if let Some(wait) = text("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|ms| capped_seconds(ms / 1000.0))
    {
        return Some(wait);
    }
    if let Some(value) = text("retry-after") {
        if let Some(wait) = value.parse::<f64>().ok().and_then(capped_seconds) {
            return Some(wait);
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
    capped_seconds(total)
}

/// A number of seconds from an upstream as a wait, capped at [`MAX_WAIT`] before it becomes
/// a `Duration` (whose constructor panics on values it cannot hold, such as `1e300`); `None`
/// for NaN and negative values.
fn capped_seconds(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds.min(MAX_WAIT.as_secs_f64())))
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
    fn huge_values_are_capped_not_panics() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |pairs| retry_after_at(&headers(pairs), now);
        for pairs in [
            &[("retry-after", "1e300")][..],
            &[("retry-after-ms", "1e300")],
            &[("retry-after", "18446744073709551616")],
            &[("retry-after-ms", "1.7e308")],
            &[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "99999999999999999999999h"),
            ],
        ] {
            assert_eq!(at(pairs), Some(MAX_WAIT), "{pairs:?}");
        }
        assert_eq!(at(&[("retry-after", "-5")]), None);
        assert_eq!(at(&[("retry-after-ms", "NaN")]), None);
        assert_eq!(at(&[("retry-after", "inf")]), None);
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
