//! UTC calendar arithmetic shared by every crate that reads or writes timestamps (credential
//! expiry, rate-limit reset times, budget periods, reports): proleptic Gregorian dates
//! (Howard Hinnant's algorithms) and RFC 3339 text. No time zone data: UTC and numeric
//! offsets only.

use std::time::{Duration, SystemTime};

/// Days since 1970-01-01 of a date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ`, or with `.mmm` before the `Z`.
pub fn format_rfc3339(unix_ms: i64, millis: bool) -> String {
    let secs = unix_ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let fraction = if millis {
        format!(".{:03}", unix_ms.rem_euclid(1000))
    } else {
        String::new()
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An RFC 3339 / ISO 8601 timestamp (`2026-11-28T12:00:00Z`; fractions, `t` or a space as
/// separator, and numeric offsets allowed; no offset means UTC).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => (time.get(..i)?, time.get(i..)?),
        None => (time, "Z"),
    };
    let mut c = clock.splitn(3, ':');
    let hour: i64 = c.next()?.parse().ok()?;
    let minute: i64 = c.next()?.parse().ok()?;
    let seconds_text = c.next()?;
    let (second, fraction) = seconds_text.split_once('.').unwrap_or((seconds_text, ""));
    let second: i64 = second.parse().ok()?;
    let nanos: u32 = if fraction.is_empty() {
        0
    } else {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        format!("{:0<9}", fraction.get(..fraction.len().min(9))?)
            .parse()
            .ok()?
    };
    let offset_secs = match offset.as_bytes().first() {
        Some(b'+') | Some(b'-') => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let rest = offset.get(1..)?;
            let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
        _ => 0,
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in [-1_000_000, -1, 0, 59, 11_016, 11_017, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn rfc3339_text() {
        assert_eq!(format_rfc3339(0, false), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_700_000_000_123, true),
            "2023-11-14T22:13:20.123Z"
        );
        let at = parse_rfc3339("2026-11-28T12:00:00Z").unwrap();
        let secs = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_795_867_200);
        assert_eq!(parse_rfc3339("2026-11-28T13:00:00+01:00"), Some(at));
        assert_eq!(
            parse_rfc3339("2026-11-28T13:00:00.5+01:00"),
            Some(at + Duration::from_millis(500))
        );
        assert_eq!(parse_rfc3339("2026-11-28 12:00:00"), Some(at));
        assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_none());
        assert!(parse_rfc3339("soon").is_none());
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").is_none());
    }
}
