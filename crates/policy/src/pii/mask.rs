//! Replacing what the detector found: placeholders upstream, and, for `mask-and-restore`,
//! the originals put back into the answer (whole, or delta by delta in a stream).

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Detector, Mode, Rule};

/// One request's placeholders and the originals they stand for. Never logged.
///
/// Both directions are linear in the text: a finding's placeholder is found by a hash lookup
/// on (kind, original), and restoring looks each `[...]` up by the placeholder it spells
/// (placeholders hold no brackets, so the first `]` ends the only candidate).
#[derive(Default, Clone)]
pub struct Vault {
    /// (placeholder, original), in the order made.
    entries: Vec<(String, String)>,
    /// (kind, original) -> its entry.
    by_original: HashMap<(u8, String), usize>,
    /// Placeholder -> its entry.
    by_placeholder: HashMap<String, usize>,
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
        let key = (kind, original.to_owned());
        if let Some(&entry) = self.by_original.get(&key) {
            if let Some((p, _)) = self.entries.get(entry) {
                return p.clone();
            }
        }
        let k = kind as usize;
        if self.counters.len() <= k {
            self.counters.resize(k + 1, 0);
        }
        self.counters[k] += 1;
        let p = format!("[{label}_{}]", self.counters[k]);
        self.longest = self.longest.max(p.len());
        let entry = self.entries.len();
        self.entries.push((p.clone(), key.1.clone()));
        self.by_original.insert(key, entry);
        self.by_placeholder.insert(p.clone(), entry);
        p
    }

    /// `text` with the findings of `rule` replaced (`None`: nothing found). In `Block` mode
    /// the findings are only counted.
    pub fn mask(&mut self, detector: &Detector, rule: Rule, text: &str) -> Masked {
        self.mask_with(detector, rule, text, false)
    }

    /// [`Vault::mask`] for JSON text (tool-call arguments): an original is kept unescaped,
    /// so it can go back into plain text or, escaped again, into JSON.
    pub fn mask_json(&mut self, detector: &Detector, rule: Rule, text: &str) -> Masked {
        self.mask_with(detector, rule, text, true)
    }

    fn mask_with(&mut self, detector: &Detector, rule: Rule, text: &str, json: bool) -> Masked {
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
            let unescaped = if json {
                unescape_json(original)
            } else {
                Cow::Borrowed(original)
            };
            let p = self.placeholder(detector, rule.mode, f.kind, &unescaped);
            out.push_str(&p);
            at = f.end;
        }
        out.push_str(text.get(at..)?);
        Some(out)
    }

    /// `text` with every placeholder replaced by its original.
    pub fn restore<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.restore_with(text, false)
    }

    /// [`Vault::restore`] into JSON text (tool-call arguments): each original is escaped as
    /// JSON string content, so a quote or a backslash in it cannot break the arguments.
    pub fn restore_json<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.restore_with(text, true)
    }

    fn restore_with<'t>(&self, text: &'t str, json: bool) -> Cow<'t, str> {
        if self.entries.is_empty() || !text.contains('[') {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(k) = rest.find('[') {
            out.push_str(&rest[..k]);
            let tail = &rest[k..];
            match self.entry_at(tail) {
                Some((p, original)) => {
                    if json {
                        escape_json(original, &mut out);
                    } else {
                        out.push_str(original);
                    }
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

    /// The placeholder `tail` (starting with `[`) begins with, and its original.
    fn entry_at(&self, tail: &str) -> Option<(&str, &str)> {
        let window = &tail.as_bytes()[..tail.len().min(self.longest)];
        let end = window.iter().position(|&b| b == b']')?;
        let entry = *self.by_placeholder.get(tail.get(..=end)?)?;
        self.entries
            .get(entry)
            .map(|(p, o)| (p.as_str(), o.as_str()))
    }

    /// Whether `tail` (starting with `[`) could still grow into a placeholder: it is shorter
    /// than the longest one and holds no bracket or space after its `[` (placeholders never
    /// do). Holding back a little too much is harmless; the end of the block releases it.
    fn may_become(&self, tail: &str) -> bool {
        tail.len() < self.longest
            && tail
                .bytes()
                .skip(1)
                .all(|b| b != b'[' && b != b']' && !b.is_ascii_whitespace())
    }
}

/// Restores a text that arrives in pieces: a placeholder split across deltas is held back
/// until it is whole (or cannot be one).
#[derive(Debug, Default, Clone)]
pub struct StreamRestorer {
    pending: String,
    /// The deltas are JSON text (tool-call arguments): originals go back escaped.
    json: bool,
}

impl StreamRestorer {
    /// A restorer for deltas of JSON text (tool-call arguments).
    pub fn for_json() -> StreamRestorer {
        StreamRestorer {
            pending: String::new(),
            json: true,
        }
    }

    /// What of `delta` (after what was held) can be sent now, restored.
    pub fn push(&mut self, vault: &Vault, delta: &str) -> String {
        self.pending.push_str(delta);
        let hold = self
            .pending
            .rfind('[')
            .filter(|&k| vault.may_become(&self.pending[k..]))
            .unwrap_or(self.pending.len());
        let ready: String = self.pending.drain(..hold).collect();
        vault.restore_with(&ready, self.json).into_owned()
    }

    /// Everything still held, restored (the block ended).
    pub fn finish(&mut self, vault: &Vault) -> String {
        let rest = std::mem::take(&mut self.pending);
        vault.restore_with(&rest, self.json).into_owned()
    }
}

/// JSON string content as the text it stands for (as is when it is not valid content).
fn unescape_json(content: &str) -> Cow<'_, str> {
    if !content.contains('\\') {
        return Cow::Borrowed(content);
    }
    serde_json::from_str::<String>(&format!("\"{content}\""))
        .map_or(Cow::Borrowed(content), Cow::Owned)
}

/// `text` as JSON string content (no surrounding quotes).
fn escape_json(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
}
