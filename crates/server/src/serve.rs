//! Running the server: accept, serve each connection (HTTP/1.1 or HTTP/2), and drain on
//! shutdown.
//!
//! The accept loop is our own rather than `axum::serve` so that every connection gets the
//! protections a proxy needs (`[server]` in the config):
//! - at most `max_connections` at once (the rest wait in the kernel's accept queue);
//! - TCP_NODELAY (streams write many small chunks, which Nagle's algorithm and delayed ACKs
//!   would hold back by up to 40 ms);
//! - a first byte within the header timeout (a connection that never sends one is closed,
//!   whatever protocol it would have spoken), then the request headers within it (HTTP/1.1);
//! - an idle timeout: a connection with no request in flight for that long is closed
//!   gracefully (HTTP/1.1 keep-alive and HTTP/2 alike);
//! - HTTP/2 keep-alive pings (a peer that stops answering is dropped) and a cap on
//!   concurrent streams;
//! - request bodies read at a minimum rate and within a total time ([`routes::body`]).
//!
//! On shutdown: no new connections, every connection asked to finish (HTTP/2 GOAWAY,
//! HTTP/1.1 close after the current response) and given `drain` to do so; streams still
//! running then end with their dialect's in-band error, so that each is recorded (ledger row,
//! audit record) before the writers stop.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tower_service::Service;

use switchyard_config::ServerLimits;

use crate::live::Live;
use crate::routes;
use crate::state::AppState;

/// Resolves when shutdown should begin (SIGTERM / Ctrl-C in the binary; anything in tests).
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a client may take to send a request's headers (the default of `[server]`).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an idle connection asked to close gets before it is dropped.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// After the drain, how long cut streams and unfinished requests get to record themselves.
const RECORD_GRACE: Duration = Duration::from_secs(5);

/// Serves until `shutdown` resolves, then stops accepting connections, lets in-flight
/// requests and streams finish for up to `drain`, and returns.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: ShutdownSignal,
    drain: Duration,
) -> std::io::Result<()> {
    serve_with(state, listener, shutdown, drain, HEADER_READ_TIMEOUT).await
}

/// [`serve`] with an explicit header read timeout (tests use a short one).
pub async fn serve_with(
    state: AppState,
    listener: TcpListener,
    shutdown: ShutdownSignal,
    drain: Duration,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let limits = ServerLimits {
        header_timeout: header_read_timeout,
        ..ServerLimits::default()
    };
    serve_live(Live::new(state), listener, shutdown, drain, limits).await
}

/// [`serve`] from a [`Live`] state that may be replaced while serving (config reload), with
/// the given connection limits.
pub async fn serve_live(
    live: Live,
    listener: TcpListener,
    mut shutdown: ShutdownSignal,
    drain: Duration,
    limits: ServerLimits,
) -> std::io::Result<()> {
    let app = routes::router(live.clone());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .keep_alive_interval(Some(limits.http2_keepalive))
        .keep_alive_timeout(limits.http2_keepalive)
        .max_pending_accept_reset_streams(Some(64))
        .max_header_list_size(256 * 1024);
    let builder = Arc::new(builder);
    let max = limits.max_connections as usize;
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let probes = tokio::spawn(crate::probe::run(live.clone()));

    loop {
        // A connection slot first: beyond the limit, clients wait in the accept queue.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let tcp = match accepted {
            Ok((tcp, _peer)) => tcp,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let (app, builder, stop) = (app.clone(), builder.clone(), stop_rx.clone());
        tokio::spawn(async move {
            connection(tcp, app, &builder, limits, stop).await;
            drop(slot);
        });
    }

    drop(listener);
    probes.abort();
    let state = live.begin_shutdown();
    tracing::info!(
        in_flight = state.inner.metrics.in_flight(),
        drain_s = drain.as_secs_f64(),
        "shutdown: draining in-flight requests"
    );
    let _ = stop_tx.send(true);
    let all_closed = async {
        while slots.available_permits() < max {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(drain, all_closed).await.is_ok() {
        tracing::info!("shutdown: all connections closed");
        return Ok(());
    }
    tracing::warn!(
        in_flight = state.inner.metrics.in_flight(),
        "shutdown: drain timeout reached; ending the streams still running"
    );
    // Streams end with their dialect's in-band error and record themselves; the writers
    // (ledger, audit) are stopped by the caller only after this returns.
    state.inner.cut_streams();
    let recorded = async {
        while state.inner.metrics.in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(RECORD_GRACE, recorded).await.is_err() {
        tracing::warn!(
            in_flight = state.inner.metrics.in_flight(),
            "shutdown: requests still unfinished after the drain"
        );
    }
    Ok(())
}

/// One client connection, from its first byte to its close.
async fn connection(
    tcp: TcpStream,
    app: axum::Router,
    builder: &auto::Builder<TokioExecutor>,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    // A connection that sends nothing is closed, whatever protocol it would have spoken.
    let mut first = [0u8; 1];
    tokio::select! {
        peeked = tokio::time::timeout(limits.header_timeout, tcp.peek(&mut first)) => {
            if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                return;
            }
        }
        _ = stop.wait_for(|stopping| *stopping) => return,
    }
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let mut app = app.clone();
            let busy = activity.begin();
            let request =
                request.map(|body| Body::new(routes::body::Paced::new(Body::new(body), &limits)));
            async move {
                let response = match app.call(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                // The request counts as in flight until its response body is done with.
                Ok::<_, Infallible>(response.map(|body| Body::new(Busy { body, _busy: busy })))
            }
        })
    };
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let mut closing = false;
    // An idle connection asked to close gets this long to do so; a peer that does not
    // take part (an HTTP/2 client that never acknowledges the GOAWAY) is then dropped.
    let mut dropped_at: Option<Instant> = None;
    loop {
        let idle_until = activity.idle_deadline(limits.idle_timeout);
        let drop_at = dropped_at.unwrap_or(idle_until);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(err = %err, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !closing => {
                if changed.is_err() || *stop.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(idle_until), if !closing => {
                if activity.idle_for(limits.idle_timeout) {
                    closing = true;
                    dropped_at = Some(Instant::now() + IDLE_CLOSE_GRACE);
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(drop_at), if dropped_at.is_some() => {
                if activity.idle_for(Duration::ZERO) {
                    return;
                }
                dropped_at = None;
            }
        }
    }
}

/// What a connection is doing: requests in flight, and since when it has had none.
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since `clock` when the last request finished (or the connection began).
    idle_since_ms: AtomicU64,
    clock: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            clock: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// When the connection would have been idle for `timeout`, as things stand.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        let deadline = self.clock + since + timeout;
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // Busy: look again a whole timeout from now.
            Instant::now() + timeout
        } else {
            deadline
        }
    }

    fn idle_for(&self, timeout: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self
                .now_ms()
                .saturating_sub(self.idle_since_ms.load(Ordering::Acquire))
                >= u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

/// One request in flight on a connection; the connection's idle clock starts again when the
/// last one is dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .idle_since_ms
            .store(self.0.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is done.
struct Busy {
    body: Body,
    _busy: InFlight,
}

impl http_body::Body for Busy {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
