//! What a key is limited to: a budget over a period, requests and tokens per minute.

use switchyard_types::calendar::{civil_from_days as civil, days_from_civil};

/// The period a budget covers, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Midnight to midnight.
    Daily,
    /// The calendar month.
    Monthly,
    /// For ever.
    Total,
}

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        match text {
            "daily" => Some(Period::Daily),
            "monthly" => Some(Period::Monthly),
            "total" => Some(Period::Total),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Monthly => "monthly",
            Period::Total => "total",
        }
    }

    /// When the period holding `now_ms` began.
    pub fn start_ms(self, now_ms: i64) -> i64 {
        match self {
            Period::Total => i64::MIN,
            Period::Daily => now_ms.div_euclid(86_400_000) * 86_400_000,
            Period::Monthly => {
                let (year, month, _) = civil(now_ms.div_euclid(86_400_000));
                days_from_civil(year, month, 1) * 86_400_000
            }
        }
    }

    /// When the next period begins (`None` for a total budget).
    pub fn next_ms(self, now_ms: i64) -> Option<i64> {
        match self {
            Period::Total => None,
            Period::Daily => Some(self.start_ms(now_ms) + 86_400_000),
            Period::Monthly => {
                let (year, month, _) = civil(now_ms.div_euclid(86_400_000));
                let (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Some(days_from_civil(year, month, 1) * 86_400_000)
            }
        }
    }
}

/// A key's limits; `None` fields do not limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Nano-dollars per period.
    pub budget: Option<(i64, Period)>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens (input + output) per minute.
    pub tpm: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn periods_follow_the_utc_calendar() {
        // 2026-11-28T14:00:00Z
        let now = days_from_civil(2026, 11, 28) * DAY + 14 * 3_600_000;
        assert_eq!(
            Period::Daily.start_ms(now),
            days_from_civil(2026, 11, 28) * DAY
        );
        assert_eq!(
            Period::Daily.next_ms(now),
            Some(days_from_civil(2026, 11, 29) * DAY)
        );
        assert_eq!(
            Period::Monthly.start_ms(now),
            days_from_civil(2026, 11, 1) * DAY
        );
        assert_eq!(
            Period::Monthly.next_ms(now),
            Some(days_from_civil(2026, 12, 1) * DAY)
        );
        let december = days_from_civil(2026, 12, 31) * DAY;
        assert_eq!(
            Period::Monthly.next_ms(december),
            Some(days_from_civil(2027, 1, 1) * DAY)
        );
        assert_eq!(Period::Total.next_ms(now), None);
        assert_eq!(civil(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(Period::parse("weekly"), None);
        assert_eq!(
            Period::parse(Period::Monthly.as_str()),
            Some(Period::Monthly)
        );
    }
}
