//! Request bodies: read only after the key was checked from the headers (an unknown key gets
//! its 401 before a byte of the body is taken), under a size cap, a total time and a minimum
//! rate (a client sending one byte every few seconds cannot hold a request open).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use switchyard_config::ServerLimits;
use switchyard_dialects::{ErrorClass, GatewayError};
use tokio::time::{Instant, Sleep};

use super::MAX_REQUEST_BYTES;

/// Before this much time has passed, a body is never too slow.
const GRACE: Duration = Duration::from_secs(5);

/// The whole body, as a dialect-neutral error the caller's dialect renders: 413 over the cap,
/// 408 too slow, 400 cut.
pub async fn read(body: Body) -> Result<Bytes, GatewayError> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|err| {
            let mut source: Option<&(dyn std::error::Error + 'static)> =
                std::error::Error::source(&err);
            while let Some(cause) = source {
                if cause.is::<http_body_util::LengthLimitError>() {
                    return GatewayError::new(
                        ErrorClass::PayloadTooLarge,
                        format!(
                            "Request body is larger than {} MiB.",
                            MAX_REQUEST_BYTES / (1024 * 1024)
                        ),
                    );
                }
                if let Some(slow) = cause.downcast_ref::<TooSlow>() {
                    return GatewayError::new(ErrorClass::InvalidRequest, slow.to_string())
                        .with_code("request_body_timeout");
                }
                source = cause.source();
            }
            GatewayError::invalid(format!("Could not read the request body: {err}"), None)
        })
}

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("The request body arrived too slowly: {received} bytes in {elapsed_s:.1} s (it must come within {total_s:.0} s, at {min_rate} bytes/s or more).")]
pub struct TooSlow {
    received: u64,
    elapsed_s: f64,
    total_s: f64,
    min_rate: u64,
}

/// A request body that fails with [`TooSlow`] when it takes longer than the total time, or
/// falls below the minimum rate once the grace period has passed.
pub struct Paced {
    inner: Body,
    started: Instant,
    received: u64,
    total: Duration,
    min_rate: u64,
    /// Made the first time the body is not ready (most bodies never are).
    timer: Option<Pin<Box<Sleep>>>,
}

impl Paced {
    pub fn new(inner: Body, limits: &ServerLimits) -> Paced {
        Paced {
            inner,
            started: Instant::now(),
            received: 0,
            total: limits.body_timeout,
            min_rate: limits.body_min_bytes_per_s,
            timer: None,
        }
    }

    /// When the body is too late if nothing more arrives.
    fn deadline(&self) -> Instant {
        let total = self.started + self.total;
        if self.min_rate == 0 {
            return total;
        }
        let earned = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        total.min(self.started + GRACE + earned)
    }

    fn too_slow(&self) -> TooSlow {
        TooSlow {
            received: self.received,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            total_s: self.total.as_secs_f64(),
            min_rate: self.min_rate,
        }
    }
}

impl HttpBody for Paced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.deadline();
                    if let Some(timer) = &mut this.timer {
                        timer.as_mut().reset(deadline);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                let deadline = this.deadline();
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(this.too_slow())))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
