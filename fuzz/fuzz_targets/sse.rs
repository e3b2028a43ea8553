//! The SSE parser: any bytes, cut at any point, parse without a panic, and to the same events
//! as the same bytes fed at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_sse::SseParser;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(body.len());
    let mut whole = Vec::new();
    let mut parser = SseParser::new();
    let whole_ok = parser.feed(body, &mut whole).is_ok();
    parser.finish(&mut whole);

    let mut split = Vec::new();
    let mut parser = SseParser::new();
    let (head, tail) = body.split_at(cut);
    let split_ok = parser.feed(head, &mut split).is_ok() && parser.feed(tail, &mut split).is_ok();
    parser.finish(&mut split);
    if whole_ok && split_ok {
        assert_eq!(whole, split, "cutting the bytes changed the events");
    }
});
