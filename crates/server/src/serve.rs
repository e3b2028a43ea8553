//! Running the server: accept, serve each connection (HTTP/1.1 or HTTP/2), and drain on
//! shutdown.
//!
//! The accept loop is our own rather than `axum::serve` so that every connection gets the
//! protections a proxy needs: TCP_NODELAY (streams write many small chunks, which Nagle's
//! algorithm and delayed ACKs would hold back by up to 40 ms) and a limit on how long a
//! client may take to send request headers (a client that opens a connection and trickles
//! bytes would otherwise hold it forever).

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::live::Live;
use crate::routes;
use crate::state::AppState;

/// Resolves when shutdown should begin (SIGTERM / Ctrl-C in the binary; anything in tests).
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

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
    serve_live(
        Live::new(state),
        listener,
        shutdown,
        drain,
        header_read_timeout,
    )
    .await
}

/// [`serve_with`] from a [`Live`] state that may be replaced while serving (config reload).
pub async fn serve_live(
    live: Live,
    listener: TcpListener,
    mut shutdown: ShutdownSignal,
    drain: Duration,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let app = routes::router(live.clone());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let probes = tokio::spawn(crate::probe::run(live.clone()));

    loop {
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
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(err = %err, "connection ended with an error");
            }
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
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("shutdown: all connections closed"),
        () = tokio::time::sleep(drain) => tracing::warn!(
            in_flight = state.inner.metrics.in_flight(),
            "shutdown: drain timeout reached; closing remaining connections"
        ),
    }
    Ok(())
}
