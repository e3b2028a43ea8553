//! Streaming responses, for every dialect: the committed upstream stream re-encoded event by
//! event in the client's dialect. Metrics and the log line are recorded when the stream ends,
//! fails, or the client goes away (then with status 499).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::StatusCode;
use sha2::{Digest, Sha256};
use switchyard_dialects::{anthropic, openai, responses, GatewayError};
use switchyard_providers::EventStream;
use switchyard_types::{StreamEvent, Usage};

use super::respond;
use crate::errors;
use crate::pipeline::{error_kind, RequestContext, Served};
use crate::state::AppState;

/// What a dialect's stream encoder does; one implementation per dialect.
pub trait StreamEncoder: Send + 'static {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut);
    /// An error after the response started, in band.
    fn fail(&mut self, err: &GatewayError, out: &mut BytesMut);
    /// The normal end of the stream.
    fn finish(&mut self, out: &mut BytesMut);
    fn usage(&self) -> Option<Usage>;
    /// The answer's cost, known only at the end: an SSE comment
    /// (`: x-switchyard-cost-usd=0.000123`), which every SSE parser skips and a client that
    /// wants the figure can read. Formats without comments write nothing.
    fn cost(&mut self, usd: f64, out: &mut BytesMut) {
        out.extend_from_slice(format!(": x-switchyard-cost-usd={usd:.8}\n\n").as_bytes());
    }
    /// The stream's closing receipt, just before the dialect's final event: an SSE comment
    /// (`: x-switchyard-receipt=<receipt>`). Formats without comments write nothing (the
    /// record is in the audit log all the same).
    fn receipt(&mut self, receipt: &str, out: &mut BytesMut) {
        out.extend_from_slice(b": ");
        out.extend_from_slice(crate::receipt::HEADER.as_bytes());
        out.extend_from_slice(b"=");
        out.extend_from_slice(receipt.as_bytes());
        out.extend_from_slice(b"\n\n");
    }
}

impl StreamEncoder for openai::ChatStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        openai::ChatStreamEncoder::encode(self, event, out)
    }
    fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        openai::ChatStreamEncoder::fail(self, err, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        openai::ChatStreamEncoder::finish(self, out)
    }
    fn usage(&self) -> Option<Usage> {
        openai::ChatStreamEncoder::usage(self)
    }
}

impl StreamEncoder for anthropic::MessageStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        anthropic::MessageStreamEncoder::encode(self, event, out)
    }
    fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        anthropic::MessageStreamEncoder::fail(self, err, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        anthropic::MessageStreamEncoder::finish(self, out)
    }
    fn usage(&self) -> Option<Usage> {
        anthropic::MessageStreamEncoder::usage(self)
    }
}

impl StreamEncoder for responses::ResponseStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        responses::ResponseStreamEncoder::encode(self, event, out)
    }
    fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        responses::ResponseStreamEncoder::fail(self, err, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        responses::ResponseStreamEncoder::finish(self, out)
    }
    fn usage(&self) -> Option<Usage> {
        responses::ResponseStreamEncoder::usage(self)
    }
}

/// The SSE response: `first` (already read from the upstream) then the rest of the stream.
pub fn respond<E: StreamEncoder>(
    state: AppState,
    ctx: RequestContext,
    mut encoder: E,
    first: Vec<StreamEvent>,
    rest: EventStream,
    served: Served,
) -> Response {
    let mut head = BytesMut::new();
    for event in first {
        encoder.encode(event, &mut head);
    }
    let mut response = respond::with_headers(
        StatusCode::OK,
        "text/event-stream",
        Body::empty(),
        &ctx,
        Some(&served),
    );
    // The stream's first receipt: its answer's bytes are not known yet.
    if let Some(receipt) = crate::receipt::draft(&state, &ctx, 200, None)
        .streamed("started")
        .header(None)
    {
        response
            .headers_mut()
            .insert(crate::receipt::HEADER, receipt);
    }
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    let sse = SseBody {
        ttft: Some(ctx.started.elapsed()),
        state,
        ctx,
        encoder,
        upstream: rest,
        head: Some(head.freeze()),
        finished: false,
        sent: Sha256::new(),
    };
    *response.body_mut() = Body::from_stream(futures::stream::unfold(sse, SseBody::next));
    response
}

/// Bytes larger than this are sent without waiting to coalesce more events.
const COALESCE_BYTES: usize = 16 * 1024;

struct SseBody<E: StreamEncoder> {
    state: AppState,
    ctx: RequestContext,
    encoder: E,
    upstream: EventStream,
    head: Option<Bytes>,
    ttft: Option<Duration>,
    finished: bool,
    /// Every byte sent so far, for the closing receipt.
    sent: Sha256,
}

impl<E: StreamEncoder> SseBody<E> {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        if let Some(head) = self.head.take().filter(|h| !h.is_empty()) {
            self.sent.update(&head);
            return Some((Ok(head), self));
        }
        if self.finished {
            return None;
        }
        let mut out = BytesMut::new();
        let mut item = self.upstream.next().await;
        loop {
            match item {
                Some(Ok(event)) => self.encoder.encode(event, &mut out),
                Some(Err(err)) => {
                    let err = errors::from_provider(&err);
                    let mut last = BytesMut::new();
                    self.encoder.fail(&err, &mut last);
                    self.end(Some(error_kind(err.class)), &mut out, last);
                    return Some((Ok(out.freeze()), self));
                }
                None => {
                    self.cost_comment(&mut out);
                    let mut last = BytesMut::new();
                    self.encoder.finish(&mut last);
                    self.end(None, &mut out, last);
                    return Some((Ok(out.freeze()), self));
                }
            }
            // Send what is ready; events that arrived together go out in one write.
            if out.len() >= COALESCE_BYTES {
                self.sent.update(&out);
                return Some((Ok(out.freeze()), self));
            }
            match futures::FutureExt::now_or_never(self.upstream.next()) {
                Some(next) => item = next,
                None if out.is_empty() => item = self.upstream.next().await,
                None => {
                    self.sent.update(&out);
                    return Some((Ok(out.freeze()), self));
                }
            }
        }
    }

    /// The stream's cost, known only now that its usage has arrived, just before the
    /// dialect's last event.
    fn cost_comment(&mut self, out: &mut BytesMut) {
        let Some(usage) = self.encoder.usage() else {
            return;
        };
        if let Some(cost) = self.ctx.cost(&usage) {
            self.encoder.cost(cost, out);
        }
    }

    /// The stream ends: `out` is its last chunk so far and `last` the dialect's final
    /// event(s); the closing receipt goes between them, so that the dialect's own last event
    /// stays last. Its hash covers every byte of the body but the receipt comment itself.
    fn end(&mut self, error: Option<&'static str>, out: &mut BytesMut, last: BytesMut) {
        self.finished = true;
        let usage = self.encoder.usage().unwrap_or_default();
        self.ctx.finish(&self.state, 200, error, self.ttft, usage);
        self.sent.update(&out[..]);
        self.sent.update(&last[..]);
        if let Some(receipt) = self.closing_receipt() {
            self.encoder.receipt(&receipt, out);
        }
        out.extend_from_slice(&last);
    }

    /// The ended record (queued to the audit log) with the hash of every byte sent.
    fn closing_receipt(&mut self) -> Option<String> {
        let draft = self.ctx.receipt.take()?;
        let sent: [u8; 32] = std::mem::take(&mut self.sent).finalize().into();
        draft.streamed("ended").seal(Some(&sent))
    }
}

impl<E: StreamEncoder> Drop for SseBody<E> {
    fn drop(&mut self) {
        if !self.finished {
            let usage = self.encoder.usage().unwrap_or_default();
            self.ctx
                .finish(&self.state, 499, Some("client_cancelled"), self.ttft, usage);
            // Nobody is left to read it; the log still records how the stream ended.
            let _ = self.closing_receipt();
        }
    }
}
