//! Running the server: bind, serve, and drain on shutdown.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::routes;
use crate::state::AppState;

/// Resolves when shutdown should begin (SIGTERM / Ctrl-C in the binary; anything in tests).
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves until `shutdown` resolves, then stops accepting connections, lets in-flight
/// requests and streams finish for up to `drain`, and returns.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: ShutdownSignal,
    drain: Duration,
) -> std::io::Result<()> {
    let app = routes::router(state.clone());
    let begun = Arc::new(Notify::new());
    let begun_signal = begun.clone();
    let drain_state = state.clone();
    let graceful = async move {
        shutdown.await;
        drain_state.inner.draining.store(true, Ordering::Relaxed);
        tracing::info!(
            in_flight = drain_state.inner.metrics.in_flight(),
            drain_s = drain.as_secs_f64(),
            "shutdown: draining in-flight requests"
        );
        begun_signal.notify_one();
    };
    // Streams write many small chunks: without TCP_NODELAY, Nagle's algorithm and the
    // client's delayed ACKs hold each chunk back for up to 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let deadline = async move {
        begun.notified().await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        result = server => {
            tracing::info!("shutdown: all connections closed");
            result
        }
        () = deadline => {
            tracing::warn!(
                in_flight = state.inner.metrics.in_flight(),
                "shutdown: drain timeout reached; closing remaining connections"
            );
            Ok(())
        }
    }
}
