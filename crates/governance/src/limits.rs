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

/// A key's or tenant's limits; `None` fields do not limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Nano-dollars per period.
    pub budget: Option<(i64, Period)>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens (input + output) per minute.
    pub tpm: Option<u32>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.budget.is_none() && self.rpm.is_none() && self.tpm.is_none()
    }

    /// The limits stored in a row's columns. An unreadable period fails closed: the budget
    /// counts for ever.
    pub fn from_columns(
        budget_nano_usd: Option<i64>,
        budget_period: Option<&str>,
        rpm: Option<i64>,
        tpm: Option<i64>,
    ) -> Limits {
        let per_minute = |n: Option<i64>| n.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        Limits {
            budget: budget_nano_usd.map(|limit| {
                let period = budget_period.map_or(Some(Period::Total), Period::parse);
                if period.is_none() {
                    tracing::warn!("unknown budget period; counting the budget as a total");
                }
                (limit, period.unwrap_or(Period::Total))
            }),
            rpm: per_minute(rpm),
            tpm: per_minute(tpm),
        }
    }
}

/// Requests and tokens per minute for one model, under a key or a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
}

/// Per-model limits by model name, as stored: `{"model": {"rpm": N, "tpm": N}}`.
pub type ModelLimits = std::collections::BTreeMap<String, ModelLimit>;

/// Reads stored per-model limits; `Err` says what is wrong.
pub fn parse_model_limits(text: &str) -> Result<ModelLimits, String> {
    let limits: ModelLimits = serde_json::from_str(text).map_err(|e| {
        format!("must be an object of model names to {{\"rpm\": N, \"tpm\": N}}: {e}")
    })?;
    for (model, limit) in &limits {
        if model.is_empty() || model.len() > 256 || model.chars().any(char::is_control) {
            return Err("each model name must be 1-256 printable characters".into());
        }
        if limit.rpm == Some(0) || limit.tpm == Some(0) {
            return Err(format!("`{model}`: limits must be at least 1"));
        }
    }
    Ok(limits)
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
