//! A Server-Sent Events parser (WHATWG event-stream) that takes bytes as they arrive from the
//! network. Events may be split across reads or several may share one read; lines may end in
//! LF, CR or CRLF (also when a CRLF pair is split between two reads); multi-line `data:` is
//! joined with `\n`; comments (`:`) and unknown fields are ignored.

use bytes::{Buf, BytesMut};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; empty when the stream sent none.
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// Incremental parser state.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: BytesMut,
    /// The previous read ended in CR: a LF at the start of the next read belongs to it.
    skip_lf: bool,
    event: String,
    data: String,
    has_data: bool,
    id: Option<String>,
    /// Upper bound on a single line, to stop a broken upstream from growing memory forever.
    max_line: usize,
}

/// The upstream sent a line longer than the parser accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTooLong;

impl SseParser {
    pub fn new() -> Self {
        SseParser {
            max_line: 16 * 1024 * 1024,
            ..Default::default()
        }
    }

    /// Feeds bytes; completed events are appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LineTooLong> {
        let mut bytes = bytes;
        if self.skip_lf {
            if let Some((&b'\n', rest)) = bytes.split_first() {
                bytes = rest;
            }
            self.skip_lf = false;
        }
        self.buffer.extend_from_slice(bytes);
        loop {
            let Some(end) = self.buffer.iter().position(|&b| b == b'\n' || b == b'\r') else {
                if self.buffer.len() > self.max_line {
                    return Err(LineTooLong);
                }
                return Ok(());
            };
            let terminator = self.buffer[end];
            let line = self.buffer.split_to(end);
            self.buffer.advance(1);
            if terminator == b'\r' {
                match self.buffer.first() {
                    Some(b'\n') => self.buffer.advance(1),
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            self.line(&line, out);
        }
    }

    /// Call at end of input: a final event without its blank line is dispatched, as browsers
    /// do not, but as upstreams that close right after their last `data:` line need.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.buffer.is_empty() {
            let line = std::mem::take(&mut self.buffer);
            self.line(&line, out);
        }
        self.dispatch(out);
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = value.strip_prefix(b" ").unwrap_or(value);
                (&line[..colon], value)
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = value.into_owned(),
            b"id" => self.id = Some(value.into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if !self.has_data {
            self.event.clear();
            return;
        }
        out.push(SseEvent {
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
        });
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        parser.finish(&mut out);
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn lf_cr_and_crlf_line_endings() {
        for sep in ["\n", "\r", "\r\n"] {
            let text = format!("data: a{sep}{sep}data: b{sep}{sep}");
            assert_eq!(
                data(&parse_all(&[text.as_bytes()])),
                vec!["a", "b"],
                "{sep:?}"
            );
        }
    }

    #[test]
    fn crlf_split_across_reads_is_one_line_end() {
        let events = parse_all(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(data(&events), vec!["a", "b"]);
    }

    #[test]
    fn multi_line_data_comments_and_event_names() {
        let events = parse_all(&[b": ping\nevent: message_start\ndata: x\ndata:y\nid: 7\n\n"]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "message_start");
        assert_eq!(events[0].data, "x\ny");
        assert_eq!(events[0].id.as_deref(), Some("7"));
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        assert!(parse_all(&[b"event: ping\n\n"]).is_empty());
    }

    #[test]
    fn last_event_without_blank_line_is_kept() {
        assert_eq!(data(&parse_all(&[b"data: [DONE]"])), vec!["[DONE]"]);
    }

    #[test]
    fn too_long_line_is_an_error() {
        let mut parser = SseParser::new();
        parser.max_line = 8;
        let mut out = Vec::new();
        assert_eq!(parser.feed(b"data: 0123456789", &mut out), Err(LineTooLong));
    }

    proptest! {
        /// However a transcript is cut into network reads, the events are the same.
        #[test]
        fn any_split_gives_the_same_events(
            payloads in proptest::collection::vec("[a-z{}\":, ]{0,20}", 1..8),
            sep in prop_oneof![Just("\n"), Just("\r"), Just("\r\n")],
            cuts in proptest::collection::vec(0usize..400, 0..12),
        ) {
            let mut text = String::new();
            for p in &payloads {
                text.push_str(&format!("data: {p}{sep}{sep}"));
            }
            let bytes = text.as_bytes();
            let whole = parse_all(&[bytes]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for c in cuts {
                pieces.push(&bytes[last..c]);
                last = c;
            }
            pieces.push(&bytes[last..]);
            prop_assert_eq!(parse_all(&pieces), whole.clone());
            prop_assert_eq!(data(&whole), payloads.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
