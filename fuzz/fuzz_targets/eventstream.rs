//! The Bedrock event-stream frame decoder: any bytes, fed in two pieces, give frames or a
//! clear error, never a panic; every decoded frame encodes back to bytes that decode to it.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use switchyard_dialects::bedrock::eventstream::{write_frame, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let (head, tail) = body.split_at(usize::from(cut).min(body.len()));
    let mut decoder = FrameDecoder::new();
    decoder.feed(head);
    let mut frames = Vec::new();
    let mut fed_tail = false;
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) if !fed_tail => {
                decoder.feed(tail);
                fed_tail = true;
            }
            Ok(None) | Err(_) => break,
        }
    }
    for frame in frames {
        let headers: Vec<(&str, &str)> = frame
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut out = BytesMut::new();
        write_frame(&headers, &frame.payload, &mut out);
        let mut again = FrameDecoder::new();
        again.feed(&out);
        let decoded = again.next_frame().ok().flatten();
        assert_eq!(decoded.as_ref().map(|f| &f.payload), Some(&frame.payload));
    }
});
