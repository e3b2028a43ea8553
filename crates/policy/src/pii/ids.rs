//! National identity numbers: patterns (regular expressions) with an optional checksum.
//! Presets for common ones; the config adds its own (`[[pii_patterns]]`).

use regex::Regex;

use super::Found;
use crate::policy::SpecError;

/// A configured pattern: its kind name and regular expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSpec {
    pub name: String,
    pub regex: String,
}

/// A checksum a match must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    /// Spanish DNI/NIE: the letter is the number mod 23.
    EsDni,
    /// French NIR: the last two digits are 97 - (number mod 97).
    FrNir,
    /// Dutch BSN: the eleven-test.
    NlBsn,
}

#[derive(Debug, Clone)]
pub(super) struct IdPattern {
    pub name: String,
    regex: Regex,
    check: Check,
    /// Scanned when a policy names no kinds.
    pub default_on: bool,
}

/// The presets: name, pattern, on by default.
pub const PRESETS: [(&str, &str, bool); 6] = [
    (
        "us-ssn",
        r"\b(?:00[1-9]|0[1-9]\d|[1-578]\d\d|6[0-57-9]\d|66[0-57-9])-(?:0[1-9]|[1-9]\d)-(?:000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})\b",
        true,
    ),
    (
        "uk-nino",
        r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        true,
    ),
    ("es-dni", r"\b[XYZ0-9]\d{7}-?[A-Z]\b", false),
    (
        "it-codice-fiscale",
        r"\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b",
        false,
    ),
    (
        "fr-nir",
        r"\b[12] ?\d{2} ?(?:0[1-9]|1[0-2]) ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}\b",
        false,
    ),
    ("nl-bsn", r"\b\d{9}\b", false),
];

pub(super) fn presets() -> Vec<IdPattern> {
    PRESETS
        .iter()
        .filter_map(|(name, pattern, default_on)| {
            let check = match *name {
                "es-dni" => Check::EsDni,
                "fr-nir" => Check::FrNir,
                "nl-bsn" => Check::NlBsn,
                _ => Check::None,
            };
            Some(IdPattern {
                name: (*name).to_owned(),
                regex: Regex::new(pattern).ok()?,
                check,
                default_on: *default_on,
            })
        })
        .collect()
}

impl IdPattern {
    pub(super) fn custom(spec: &IdSpec) -> Result<IdPattern, SpecError> {
        let name = spec.name.trim();
        if name.is_empty()
            || name.len() > 40
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(SpecError {
                field: "name",
                message: "must be 1-40 characters of lower-case letters, digits and `-`".to_owned(),
            });
        }
        let regex = regex::RegexBuilder::new(&spec.regex)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| SpecError {
                field: "regex",
                message: format!("not a valid regular expression: {e}"),
            })?;
        if regex.is_match("") {
            return Err(SpecError {
                field: "regex",
                message: "matches the empty text".to_owned(),
            });
        }
        Ok(IdPattern {
            name: name.to_owned(),
            regex,
            check: Check::None,
            default_on: true,
        })
    }

    pub(super) fn scan(&self, text: &str, kind: u8, out: &mut Vec<Found>) {
        for m in self.regex.find_iter(text) {
            if m.start() < m.end() && self.check.passes(m.as_str()) {
                out.push(Found {
                    kind,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

impl Check {
    fn passes(self, text: &str) -> bool {
        let digits = || {
            text.bytes()
                .filter(u8::is_ascii_digit)
                .map(|c| u64::from(c - b'0'))
        };
        match self {
            Check::None => true,
            Check::EsDni => {
                let bytes = text.as_bytes();
                let Some(&letter) = bytes.last() else {
                    return false;
                };
                let lead = match bytes.first() {
                    Some(b'X') => 0,
                    Some(b'Y') => 1,
                    Some(b'Z') => 2,
                    _ => 0,
                };
                let body: u64 = bytes[..bytes.len() - 1]
                    .iter()
                    .filter(|c| c.is_ascii_digit())
                    .fold(lead, |n, c| n * 10 + u64::from(c - b'0'));
                let body = if bytes.first().is_some_and(u8::is_ascii_digit) {
                    body % 100_000_000
                } else {
                    body
                };
                b"TRWAGMYFPDXBNJZSQVHLCKE"[(body % 23) as usize] == letter
            }
            Check::FrNir => {
                // Corsica's 2A / 2B count as 19 / 18.
                let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let clean = clean.replace("2A", "19").replace("2B", "18");
                if clean.len() != 15 {
                    return false;
                }
                let (body, key) = clean.split_at(13);
                match (body.parse::<u64>(), key.parse::<u64>()) {
                    (Ok(body), Ok(key)) => 97 - body % 97 == key,
                    _ => false,
                }
            }
            Check::NlBsn => {
                let all: Vec<u64> = digits().collect();
                if all.len() != 9 {
                    return false;
                }
                let sum: i64 = all
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| {
                        let w = if i == 8 { -1 } else { 9 - i as i64 };
                        w * d as i64
                    })
                    .sum();
                sum % 11 == 0 && sum != 0
            }
        }
    }
}
