//! The `application/vnd.amazon.eventstream` binary framing (big-endian):
//!
//! ```text
//! u32 total_length | u32 headers_length | u32 prelude_crc = CRC32(bytes[0..8])
//! headers | payload | u32 message_crc = CRC32(bytes[0..total_length-4])
//! ```
//!
//! A header is `u8 name_len | name | u8 type | value`; this encoder writes string headers
//! (type 7: `u16 len | UTF-8`), which is all the event and exception frames need. The decoder
//! reads every header type, checks both CRCs, and is incremental over partial input.

use bytes::{Buf, BufMut, BytesMut};

/// One decoded frame: its string headers and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Appends one frame with string headers.
pub fn write_frame(headers: &[(&str, &str)], payload: &[u8], out: &mut BytesMut) {
    let headers_len: usize = headers
        .iter()
        .map(|(n, v)| 1 + n.len() + 1 + 2 + v.len())
        .sum();
    let total = 12 + headers_len + payload.len() + 4;
    let start = out.len();
    out.reserve(total);
    out.put_u32(total as u32);
    out.put_u32(headers_len as u32);
    let prelude_crc = crc32fast::hash(&out[start..start + 8]);
    out.put_u32(prelude_crc);
    for (name, value) in headers {
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        out.put_u8(7);
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    let crc = crc32fast::hash(&out[start..]);
    out.put_u32(crc);
}

/// An event frame: `:message-type=event`, `:event-type`, JSON content.
pub fn write_event(event_type: &str, payload: &[u8], out: &mut BytesMut) {
    write_frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload,
        out,
    );
}

/// A modeled exception frame: `:message-type=exception`, `:exception-type`.
pub fn write_exception(exception_type: &str, payload: &[u8], out: &mut BytesMut) {
    write_frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload,
        out,
    );
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("event-stream frame has a bad prelude CRC")]
    PreludeCrc,
    #[error("event-stream frame has a bad message CRC")]
    MessageCrc,
    #[error("event-stream frame is malformed: {0}")]
    Malformed(&'static str),
}

/// Incremental decoder: feed bytes as they arrive, take whole frames out.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: BytesMut,
}

/// botocore's limits: 128 KiB of headers, 24 MiB of payload.
const MAX_FRAME: usize = 128 * 1024 + 24 * 1024 * 1024 + 16;

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buffer.len() < 12 {
            return Ok(None);
        }
        let total = u32::from_be_bytes([
            self.buffer[0],
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
        ]) as usize;
        let headers_len = u32::from_be_bytes([
            self.buffer[4],
            self.buffer[5],
            self.buffer[6],
            self.buffer[7],
        ]) as usize;
        let prelude_crc = u32::from_be_bytes([
            self.buffer[8],
            self.buffer[9],
            self.buffer[10],
            self.buffer[11],
        ]);
        if crc32fast::hash(&self.buffer[..8]) != prelude_crc {
            return Err(FrameError::PreludeCrc);
        }
        if !(16..=MAX_FRAME).contains(&total) || headers_len > total - 16 {
            return Err(FrameError::Malformed("lengths out of range"));
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        let frame = self.buffer.split_to(total);
        let crc = u32::from_be_bytes([
            frame[total - 4],
            frame[total - 3],
            frame[total - 2],
            frame[total - 1],
        ]);
        if crc32fast::hash(&frame[..total - 4]) != crc {
            return Err(FrameError::MessageCrc);
        }
        let mut headers_bytes = &frame[12..12 + headers_len];
        let mut headers = Vec::new();
        while headers_bytes.has_remaining() {
            let name_len = headers_bytes.get_u8() as usize;
            if headers_bytes.remaining() < name_len + 1 {
                return Err(FrameError::Malformed("header name"));
            }
            let name = String::from_utf8_lossy(&headers_bytes[..name_len]).into_owned();
            headers_bytes.advance(name_len);
            let value = match headers_bytes.get_u8() {
                0 => "true".to_owned(),
                1 => "false".to_owned(),
                2 => take(&mut headers_bytes, 1)?
                    .first()
                    .map(|b| (*b as i8).to_string())
                    .unwrap_or_default(),
                3 => i16::from_be_bytes(fixed(take(&mut headers_bytes, 2)?)?).to_string(),
                4 => i32::from_be_bytes(fixed(take(&mut headers_bytes, 4)?)?).to_string(),
                5 | 8 => i64::from_be_bytes(fixed(take(&mut headers_bytes, 8)?)?).to_string(),
                6 | 7 => {
                    let len = u16::from_be_bytes(fixed(take(&mut headers_bytes, 2)?)?) as usize;
                    String::from_utf8_lossy(take(&mut headers_bytes, len)?).into_owned()
                }
                9 => take(&mut headers_bytes, 16)?
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                _ => return Err(FrameError::Malformed("header type")),
            };
            headers.push((name, value));
        }
        Ok(Some(Frame {
            headers,
            payload: frame[12 + headers_len..total - 4].to_vec(),
        }))
    }
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
    if bytes.len() < n {
        return Err(FrameError::Malformed("header value"));
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], FrameError> {
    bytes
        .try_into()
        .map_err(|_| FrameError::Malformed("header value"))
}
