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
use switchyard_types::{Delta, StreamEvent, Usage};

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
        cut: state.inner.streams_cut.subscribe(),
        state,
        head: Some(head.freeze()),
        finished: false,
        tail: Some(Tail {
            ctx,
            encoder,
            upstream: rest,
            sent: Sha256::new(),
            output: OutputSeen::default(),
        }),
    };
    *response.body_mut() = Body::from_stream(futures::stream::unfold(sse, SseBody::next));
    response
}

/// Bytes larger than this are sent without waiting to coalesce more events.
const COALESCE_BYTES: usize = 16 * 1024;

struct SseBody<E: StreamEncoder> {
    state: AppState,
    head: Option<Bytes>,
    ttft: Option<Duration>,
    finished: bool,
    /// Turns true when a shutdown's drain ends: the stream ends with an in-band error.
    cut: tokio::sync::watch::Receiver<bool>,
    /// What the stream still needs; taken by the background drain when the client leaves.
    tail: Option<Tail<E>>,
}

/// The part of a stream that outlives its client: the request, the encoder (which keeps the
/// usage seen so far), the upstream, the hash of the bytes sent and the output seen.
struct Tail<E: StreamEncoder> {
    ctx: RequestContext,
    encoder: E,
    upstream: EventStream,
    /// Every byte sent so far, for the closing receipt.
    sent: Sha256,
    output: OutputSeen,
}

/// Output that went by, for a charge when the upstream's usage never arrives.
#[derive(Default)]
struct OutputSeen {
    deltas: u64,
    bytes: u64,
}

impl OutputSeen {
    fn note(&mut self, event: &StreamEvent) {
        if let StreamEvent::BlockDelta { delta, .. } = event {
            let bytes = match delta {
                Delta::Text(t)
                | Delta::ToolArguments(t)
                | Delta::Reasoning(t)
                | Delta::Refusal(t) => t.len(),
                Delta::ReasoningSignature(_) | Delta::Citation(_) => 0,
            };
            self.deltas += 1;
            self.bytes += bytes as u64;
        }
    }

    /// Tokens no fewer than were sent: every delta holds at least one, and no token is
    /// shorter than about three bytes on average.
    fn tokens(&self) -> u64 {
        self.deltas.max(self.bytes.div_ceil(3))
    }
}

impl<E: StreamEncoder> Tail<E> {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        self.output.note(&event);
        self.encoder.encode(event, out);
    }

    /// What the stream is charged: the upstream's usage when the stream ran to its end
    /// (`complete`), else no less than the prompt's estimate plus the output already seen.
    fn usage(&self, complete: bool) -> Usage {
        let usage = self.encoder.usage().unwrap_or_default();
        if complete {
            usage
        } else {
            self.ctx.at_least(usage, self.output.tokens())
        }
    }

    /// The ended record (queued to the audit log) with the hash of every byte sent.
    fn closing_receipt(&mut self) -> Option<String> {
        let draft = self.ctx.receipt.take()?;
        let sent: [u8; 32] = std::mem::take(&mut self.sent).finalize().into();
        draft.streamed("ended").seal(Some(&sent))
    }

    /// The client went away: the upstream is read to its end off the client's path (bounded
    /// by its idle and total timeouts), so that its usage arrives and the request is charged
    /// what it cost; then the request is recorded as cancelled. The embedded engine is not
    /// read on: dropping its stream stops the generation, and what it produced is charged.
    async fn drain(mut self, state: AppState, ttft: Option<Duration>) {
        let embedded = state
            .inner
            .providers
            .get(self.ctx.provider as usize)
            .is_some_and(|p| matches!(p, switchyard_providers::Provider::Local(_)));
        let mut complete = false;
        if !embedded {
            let mut scratch = BytesMut::new();
            complete = loop {
                match self.upstream.next().await {
                    Some(Ok(event)) => {
                        self.encode(event, &mut scratch);
                        scratch.clear();
                    }
                    Some(Err(_)) => break false,
                    None => break true,
                }
            };
        }
        let usage = self.usage(complete);
        self.ctx
            .finish(&state, 499, Some("client_cancelled"), ttft, usage);
        // Nobody is left to read it; the log still records how the stream ended.
        let _ = self.closing_receipt();
    }
}

impl<E: StreamEncoder> SseBody<E> {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        if let Some(head) = self.head.take().filter(|h| !h.is_empty()) {
            if let Some(tail) = self.tail.as_mut() {
                tail.sent.update(&head);
            }
            return Some((Ok(head), self));
        }
        if self.finished {
            return None;
        }
        let tail = self.tail.as_mut()?;
        let mut out = BytesMut::new();
        let cut = &mut self.cut;
        let mut item = tokio::select! {
            biased;
            item = tail.upstream.next() => item,
            () = cut_off(cut) => {
                let err = GatewayError::new(
                    switchyard_dialects::ErrorClass::UpstreamUnavailable,
                    "The gateway is shutting down; the stream ended before its answer was complete.",
                )
                .with_code("server_shutdown");
                let mut last = BytesMut::new();
                tail.encoder.fail(&err, &mut last);
                self.end(Some("shutdown"), &mut out, last);
                return Some((Ok(out.freeze()), self));
            }
        };
        loop {
            match item {
                Some(Ok(event)) => tail.encode(event, &mut out),
                Some(Err(err)) => {
                    let err = errors::from_provider(&err);
                    let mut last = BytesMut::new();
                    tail.encoder.fail(&err, &mut last);
                    self.end(Some(error_kind(err.class)), &mut out, last);
                    return Some((Ok(out.freeze()), self));
                }
                None => {
                    cost_comment(tail, &mut out);
                    let mut last = BytesMut::new();
                    tail.encoder.finish(&mut last);
                    self.end(None, &mut out, last);
                    return Some((Ok(out.freeze()), self));
                }
            }
            // Send what is ready; events that arrived together go out in one write.
            if out.len() >= COALESCE_BYTES {
                tail.sent.update(&out);
                return Some((Ok(out.freeze()), self));
            }
            match futures::FutureExt::now_or_never(tail.upstream.next()) {
                Some(next) => item = next,
                None if out.is_empty() => item = tail.upstream.next().await,
                None => {
                    tail.sent.update(&out);
                    return Some((Ok(out.freeze()), self));
                }
            }
        }
    }

    /// The stream ends: `out` is its last chunk so far and `last` the dialect's final
    /// event(s); the closing receipt goes between them, so that the dialect's own last event
    /// stays last. Its hash covers every byte of the body but the receipt comment itself.
    /// A stream that ends in an error is charged at least what it sent.
    fn end(&mut self, error: Option<&'static str>, out: &mut BytesMut, last: BytesMut) {
        self.finished = true;
        let Some(tail) = self.tail.as_mut() else {
            return;
        };
        let usage = tail.usage(error.is_none());
        tail.ctx.finish(&self.state, 200, error, self.ttft, usage);
        tail.sent.update(&out[..]);
        tail.sent.update(&last[..]);
        if let Some(receipt) = tail.closing_receipt() {
            tail.encoder.receipt(&receipt, out);
        }
        out.extend_from_slice(&last);
    }
}

/// Resolves when the shutdown's drain ends (never, if the signal is gone).
async fn cut_off(cut: &mut tokio::sync::watch::Receiver<bool>) {
    if cut.wait_for(|cut| *cut).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The stream's cost, known only now that its usage has arrived, just before the dialect's
/// last event.
fn cost_comment<E: StreamEncoder>(tail: &mut Tail<E>, out: &mut BytesMut) {
    let Some(usage) = tail.encoder.usage() else {
        return;
    };
    if let Some(cost) = tail.ctx.cost(&usage) {
        tail.encoder.cost(cost, out);
    }
}

impl<E: StreamEncoder> Drop for SseBody<E> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(tail) = self.tail.take() {
            tokio::spawn(tail.drain(self.state.clone(), self.ttft));
        }
    }
}
