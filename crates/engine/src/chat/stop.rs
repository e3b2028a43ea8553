//! Stop sequences over streamed text: text is released as soon as it can no longer be the
//! start of a stop sequence, so a stop string split across tokens is still caught and never
//! shown.

/// Finds the first stop sequence in a growing text.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

/// The result of feeding text.
#[derive(Debug, PartialEq, Eq)]
pub struct Fed {
    /// Text that is safe to release.
    pub text: String,
    /// The stop sequence that matched; generation must end and nothing after it is shown.
    pub stopped: Option<String>,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    pub fn push(&mut self, piece: &str) -> Fed {
        if self.stops.is_empty() {
            return Fed {
                text: piece.to_owned(),
                stopped: None,
            };
        }
        self.held.push_str(piece);
        // The earliest match wins, so that no text after any stop sequence leaks.
        let hit = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|(at, _)| *at);
        if let Some((at, stop)) = hit {
            let stop = stop.clone();
            let text = self.held[..at].to_owned();
            self.held.clear();
            return Fed {
                text,
                stopped: Some(stop),
            };
        }
        let keep = self.partial_suffix();
        let cut = self.held.len() - keep;
        let text = self.held[..cut].to_owned();
        self.held.drain(..cut);
        Fed {
            text,
            stopped: None,
        }
    }

    /// Whatever is still held back, at the end of generation.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Length of the longest suffix of `held` that is a proper prefix of a stop sequence.
    fn partial_suffix(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            let max = stop.len().min(self.held.len());
            for len in (1..=max).rev() {
                let start = self.held.len() - len;
                if self.held.is_char_boundary(start) && stop.starts_with(&self.held[start..]) {
                    best = best.max(len);
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, Option<String>) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            let fed = m.push(p);
            out.push_str(&fed.text);
            if fed.stopped.is_some() {
                return (out, fed.stopped);
            }
        }
        out.push_str(&m.finish());
        (out, None)
    }

    #[test]
    fn stop_split_across_pieces_is_caught_and_hidden() {
        assert_eq!(
            run(&["END"], &["hello E", "N", "D more"]),
            ("hello ".into(), Some("END".into()))
        );
    }

    #[test]
    fn near_miss_is_released() {
        assert_eq!(run(&["END"], &["EN", "x"]), ("ENx".into(), None));
        assert_eq!(run(&["END"], &["abc", "EN"]), ("abcEN".into(), None));
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        assert_eq!(
            run(&["zz", "b"], &["a b zz"]),
            ("a ".into(), Some("b".into()))
        );
    }

    #[test]
    fn multibyte_text_is_never_split() {
        assert_eq!(run(&["é!"], &["caf", "é", "?"]), ("café?".into(), None));
        assert_eq!(
            run(&["é!"], &["caf", "é", "!"]),
            ("caf".into(), Some("é!".into()))
        );
    }

    #[test]
    fn no_stops_passes_through() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), None));
    }
}
