//! When an upstream says it may be called again: `retry-after-ms`; `retry-after` in seconds
//! or as an HTTP-date; else the rate-limit reset headers of a limit that is exhausted
//! (OpenAI and Azure `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` with durations such
//! as `6m0s`; Anthropic `anthropic-ratelimit-*-remaining` / `-reset` with RFC 3339 times).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
                let at = rfc3339(value)?;
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

/// `2025-01-02T03:04:05Z`, with optional fractional seconds and a `±HH:MM` offset.
fn rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        let kept = fraction.get(..digits.min(9))?;
        nanos = format!("{kept:0<9}").parse().ok()?;
        rest = fraction.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let seconds = u64::try_from(seconds).ok()?;
    Some(UNIX_EPOCH + Duration::new(seconds, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn dates_are_exact() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            rfc3339("2023-11-14T22:13:20Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(rfc3339("2023-13-14T22:13:20Z"), None);
        assert_eq!(rfc3339("not a date at all...."), None);
    }
}
