//! The PII guard: finds personal data in text, locally and in one pass per kind family, and
//! hides it from upstreams as a policy says: `block` the request, `redact` it, or
//! `mask-and-restore` (placeholders upstream, originals put back into the answer).
//!
//! Built-in kinds: `email`, `phone`, `iban` (mod-97 checked), `card` (Luhn checked), `ip`
//! (IPv4 and IPv6). National identity numbers are patterns: presets (`us-ssn`, `uk-nino`,
//! `es-dni`, `it-codice-fiscale`, `fr-nir`, `nl-bsn`; checksums where the number has one)
//! and any `[[pii_patterns]]` the config adds.

mod ids;
mod mask;
mod net;
mod numbers;
mod request;

pub use ids::{IdSpec, PRESETS};
pub use mask::{Masked, StreamRestorer, Vault};
pub use request::{guard_chat, guard_embedding, restore_response, Guarded};

use crate::policy::SpecError;

/// What a policy does with the personal data it finds in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub enum Mode {
    /// Not scanned.
    #[default]
    Off,
    /// Placeholders go upstream; the answer gets the originals back.
    MaskAndRestore,
    /// Placeholders go upstream and stay in the answer.
    Redact,
    /// The request is refused.
    Block,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "off" => Mode::Off,
            "block" => Mode::Block,
            "redact" => Mode::Redact,
            "mask-and-restore" => Mode::MaskAndRestore,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::MaskAndRestore => "mask-and-restore",
            Mode::Redact => "redact",
            Mode::Block => "block",
        }
    }
}

/// The built-in kinds, in bit order; national-id patterns follow.
pub const BUILT_IN: [&str; 5] = ["email", "phone", "iban", "card", "ip"];
const EMAIL: u8 = 0;
const PHONE: u8 = 1;
const IBAN: u8 = 2;
const CARD: u8 = 3;
const IP: u8 = 4;

/// Kinds as bits: the five built-ins, then the detector's id patterns in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct KindSet(pub u64);

impl KindSet {
    pub const NONE: KindSet = KindSet(0);

    pub fn has(self, kind: u8) -> bool {
        kind < 64 && self.0 & (1 << kind) != 0
    }

    pub fn with(self, kind: u8) -> KindSet {
        KindSet(self.0 | (1u64 << (kind & 63)))
    }

    pub fn union(self, other: KindSet) -> KindSet {
        KindSet(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What a policy asks of the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Rule {
    pub mode: Mode,
    pub kinds: KindSet,
}

impl Rule {
    /// Several policies on one request: the strictest mode, every kind any of them names.
    pub fn merge(self, other: Rule) -> Rule {
        if other.mode == Mode::Off {
            return self;
        }
        if self.mode == Mode::Off {
            return other;
        }
        Rule {
            mode: self.mode.max(other.mode),
            kinds: self.kinds.union(other.kinds),
        }
    }
}

/// One piece of personal data found in a text: its kind and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub kind: u8,
    pub start: usize,
    pub end: usize,
}

/// The detector: the built-in kinds plus the configured national-id patterns.
#[derive(Debug, Clone)]
pub struct Detector {
    ids: Vec<ids::IdPattern>,
    /// Upper-case labels for placeholders, per kind.
    labels: Vec<String>,
    /// Kind names, per kind.
    names: Vec<String>,
    /// The kinds a policy gets when it names none: the built-ins, the presets marked
    /// default, every custom pattern.
    default_kinds: KindSet,
}

impl Default for Detector {
    fn default() -> Self {
        // The presets alone always compile (tested).
        Detector::new(&[]).unwrap_or(Detector {
            ids: Vec::new(),
            labels: Vec::new(),
            names: Vec::new(),
            default_kinds: KindSet::NONE,
        })
    }
}

impl Detector {
    /// The built-in detector (no custom patterns), made once: its presets' regexes compile
    /// only the first time.
    pub fn builtin() -> &'static Detector {
        static BUILTIN: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(Detector::default)
    }

    /// The built-ins, the presets and `custom` patterns (`[[pii_patterns]]`).
    pub fn new(custom: &[IdSpec]) -> Result<Detector, SpecError> {
        let mut names: Vec<String> = BUILT_IN.iter().map(|s| (*s).to_owned()).collect();
        let mut default_kinds = KindSet((1 << BUILT_IN.len()) - 1);
        let mut patterns = Vec::new();
        for preset in ids::presets() {
            patterns.push(preset);
        }
        for spec in custom {
            if names.contains(&spec.name) || patterns.iter().any(|p| p.name == spec.name) {
                return Err(SpecError {
                    field: "name",
                    message: format!("`{}` is already a PII kind", spec.name),
                });
            }
            patterns.push(ids::IdPattern::custom(spec)?);
        }
        if BUILT_IN.len() + patterns.len() > 64 {
            return Err(SpecError {
                field: "name",
                message: "at most 59 national-id patterns".to_owned(),
            });
        }
        for (i, p) in patterns.iter().enumerate() {
            names.push(p.name.clone());
            if p.default_on {
                default_kinds = default_kinds.with((BUILT_IN.len() + i) as u8);
            }
        }
        let labels = names
            .iter()
            .map(|n| n.to_ascii_uppercase().replace(['-', ' ', '.'], "_"))
            .collect();
        Ok(Detector {
            ids: patterns,
            labels,
            names,
            default_kinds,
        })
    }

    /// Every kind's name, in bit order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The kinds `names` lists; `None` for the default set. An unknown name is an error.
    pub fn kinds(&self, names: Option<&[String]>) -> Result<KindSet, SpecError> {
        let Some(names) = names else {
            return Ok(self.default_kinds);
        };
        if names.is_empty() {
            return Err(SpecError {
                field: "pii_kinds",
                message: "must name at least one kind".to_owned(),
            });
        }
        let mut set = KindSet::NONE;
        for name in names {
            let Some(i) = self.names.iter().position(|n| n == name) else {
                return Err(SpecError {
                    field: "pii_kinds",
                    message: format!(
                        "unknown PII kind `{name}`; known: {}",
                        self.names.join(", ")
                    ),
                });
            };
            set = set.with(i as u8);
        }
        Ok(set)
    }

    /// The placeholder label of a kind (`EMAIL`, `US_SSN`).
    pub fn label(&self, kind: u8) -> &str {
        self.labels.get(kind as usize).map_or("PII", String::as_str)
    }

    /// The name of a kind (`email`, `us-ssn`).
    pub fn name(&self, kind: u8) -> &str {
        self.names.get(kind as usize).map_or("pii", String::as_str)
    }

    /// Every piece of personal data of `kinds` in `text`, in order, not overlapping.
    pub fn scan(&self, text: &str, kinds: KindSet) -> Vec<Found> {
        let mut found = Vec::new();
        if kinds.is_empty() {
            return found;
        }
        if kinds.has(EMAIL) {
            net::emails(text, &mut found);
        }
        if kinds.has(IP) {
            net::ipv6(text, &mut found);
        }
        numbers::scan(text.as_bytes(), kinds, &mut found);
        for (i, pattern) in self.ids.iter().enumerate() {
            let kind = (BUILT_IN.len() + i) as u8;
            if kinds.has(kind) {
                pattern.scan(text, kind, &mut found);
            }
        }
        tidy(&mut found);
        found
    }
}

/// Sorts by start and drops any finding overlapping an earlier (or longer) one.
fn tidy(found: &mut Vec<Found>) {
    // On the same span a national-id pattern (a later kind) is more specific than a phone.
    found.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(b.kind.cmp(&a.kind))
    });
    let mut end = 0usize;
    found.retain(|f| {
        if f.start < end {
            return false;
        }
        end = f.end;
        true
    });
}

#[cfg(test)]
mod tests;
