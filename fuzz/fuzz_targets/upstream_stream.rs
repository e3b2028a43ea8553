//! Every adapter's decoder of a streamed body (SSE, NDJSON, Bedrock event-stream frames): any
//! bytes, cut anywhere, decode without a panic, and to the same events as the same bytes fed
//! whole. Input: a byte choosing the wire format, a byte giving the number of cuts (up to 8),
//! two bytes per cut (its offset), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_providers::decode::{self, Wire};

fuzz_target!(|data: &[u8]| {
    let [wire, cuts, rest @ ..] = data else {
        return;
    };
    let wire = Wire::from_byte(*wire);
    let count = usize::from(*cuts % 9);
    if rest.len() < count * 2 {
        return;
    }
    let (offsets, body) = rest.split_at(count * 2);
    let cuts: Vec<usize> = offsets
        .chunks(2)
        .map(|pair| usize::from(u16::from_le_bytes([pair[0], pair[1]])) % (body.len() + 1))
        .collect();
    let whole = decode::stream(wire, body, &[]);
    let split = decode::stream(wire, body, &cuts);
    if let (Ok(whole), Ok(split)) = (&whole, &split) {
        assert_eq!(whole, split, "cutting the body changed the events ({wire:?})");
    }
});
