//! Every adapter's decoder of a whole answer and of an error answer: any bytes give a
//! canonical answer or an error, never a panic. Input: a byte choosing the wire format, a byte
//! choosing the status of the error answer, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_providers::decode::{self, Wire};

const STATUSES: [u16; 8] = [400, 401, 403, 404, 408, 429, 500, 529];

fuzz_target!(|data: &[u8]| {
    let [wire, status, body @ ..] = data else {
        return;
    };
    let wire = Wire::from_byte(*wire);
    let _ = decode::response(wire, body);
    let status = STATUSES[usize::from(*status) % STATUSES.len()];
    let err = decode::error(wire, status, &http::HeaderMap::new(), body);
    assert!(err.message.len() < body.len() + 4096, "an error message grew past its input");
});
