//! Bedrock's binary event stream: frame encoding and incremental decoding throughput
//! (bytes of framed output per second), on ConverseStream-sized text-delta frames.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchyard_dialects::bedrock::eventstream::{write_event, FrameDecoder};

fn payloads(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(r#"{{"contentBlockIndex":0,"delta":{{"text":" token number {i} of the answer"}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}}"#)
                .into_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let payloads = payloads(1000);
    let mut framed = BytesMut::new();
    for p in &payloads {
        write_event("contentBlockDelta", p, &mut framed);
    }
    let mut group = c.benchmark_group("eventstream");
    group.throughput(Throughput::Bytes(framed.len() as u64));
    group.bench_function("encode_1000_frames", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(framed.len());
            for p in &payloads {
                write_event("contentBlockDelta", black_box(p), &mut out);
            }
            black_box(out)
        })
    });
    // Network reads of 4 KiB, as frames arrive.
    let reads: Vec<&[u8]> = framed.chunks(4096).collect();
    group.bench_function("decode_1000_frames", |b| {
        b.iter(|| {
            let mut decoder = FrameDecoder::new();
            let mut n = 0;
            for read in &reads {
                decoder.feed(black_box(read));
                while let Some(frame) = decoder.next_frame().unwrap() {
                    n += frame.payload.len();
                }
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
