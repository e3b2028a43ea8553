//! Replacing what the detector found: placeholders upstream, and, for `mask-and-restore`,
//! the originals put back into the answer (whole, or delta by delta in a stream).

use std::borrow::Cow;

use super::{Detector, Mode, Rule};

/// One request's placeholders and the originals they stand for. Never logged.
#[derive(Default, Clone)]
pub struct Vault {
    entries: Vec<(String, String)>,
    counters: Vec<u32>,
    longest: usize,
    /// Findings per kind, for the log line and the receipt (counts, never values).
    pub counts: Vec<(u8, u32)>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("placeholders", &self.entries.len())
            .field("counts", &self.counts)
            .finish()
    }
}

/// The text with its findings replaced, or `None` when nothing was found.
pub type Masked = Option<String>;

impl Vault {
    /// No placeholder was made.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many findings in all.
    pub fn total(&self) -> u32 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    fn count(&mut self, kind: u8) {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((kind, 1)),
        }
    }

    /// The placeholder for `original` of `kind`: the same original gets the same one.
    fn placeholder(&mut self, detector: &Detector, mode: Mode, kind: u8, original: &str) -> String {
        self.count(kind);
        let label = detector.label(kind);
        if mode == Mode::Redact {
            return format!("[REDACTED_{label}]");
        }
        if let Some((p, _)) = self
            .entries
            .iter()
            .find(|(p, o)| o == original && p[1..].starts_with(label))
        {
            return p.clone();
        }
        let k = kind as usize;
        if self.counters.len() <= k {
            self.counters.resize(k + 1, 0);
        }
        self.counters[k] += 1;
        let p = format!("[{label}_{}]", self.counters[k]);
        self.longest = self.longest.max(p.len());
        self.entries.push((p.clone(), original.to_owned()));
        p
    }

    /// `text` with the findings of `rule` replaced (`None`: nothing found). In `Block` mode
    /// the findings are only counted.
    pub fn mask(&mut self, detector: &Detector, rule: Rule, text: &str) -> Masked {
        if rule.mode == Mode::Off {
            return None;
        }
        let found = detector.scan(text, rule.kinds);
        if found.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len() + 16 * found.len());
        let mut at = 0usize;
        for f in &found {
            out.push_str(text.get(at..f.start)?);
            let original = text.get(f.start..f.end)?;
            let p = self.placeholder(detector, rule.mode, f.kind, original);
            out.push_str(&p);
            at = f.end;
        }
        out.push_str(text.get(at..)?);
        Some(out)
    }

    /// `text` with every placeholder replaced by its original.
    pub fn restore<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.entries.is_empty() || !text.contains('[') {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(k) = rest.find('[') {
            out.push_str(&rest[..k]);
            let tail = &rest[k..];
            match self
                .entries
                .iter()
                .find(|(p, _)| tail.starts_with(p.as_str()))
            {
                Some((p, original)) => {
                    out.push_str(original);
                    rest = &tail[p.len()..];
                }
                None => {
                    out.push('[');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    /// Whether `tail` (starting with `[`) could still grow into a placeholder.
    fn may_become(&self, tail: &str) -> bool {
        tail.len() < self.longest && self.entries.iter().any(|(p, _)| p.starts_with(tail))
    }
}

/// Restores a text that arrives in pieces: a placeholder split across deltas is held back
/// until it is whole (or cannot be one).
#[derive(Debug, Default, Clone)]
pub struct StreamRestorer {
    pending: String,
}

impl StreamRestorer {
    /// What of `delta` (after what was held) can be sent now, restored.
    pub fn push(&mut self, vault: &Vault, delta: &str) -> String {
        self.pending.push_str(delta);
        let hold = self
            .pending
            .rfind('[')
            .filter(|&k| vault.may_become(&self.pending[k..]))
            .unwrap_or(self.pending.len());
        let ready: String = self.pending.drain(..hold).collect();
        vault.restore(&ready).into_owned()
    }

    /// Everything still held, restored (the block ended).
    pub fn finish(&mut self, vault: &Vault) -> String {
        let rest = std::mem::take(&mut self.pending);
        vault.restore(&rest).into_owned()
    }
}
