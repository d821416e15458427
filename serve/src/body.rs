//! Bodies around a handler: the request body, cut at the body read deadline and the byte limit
//! (each noted in [`BodyVerdict`] so the layer can answer `408`/`413` whatever the handler made
//! of the error), and the response body, which tells the connection clock when it is done.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;

use crate::io::ConnectionClock;

/// Why a request body was cut, if it was.
#[derive(Debug)]
pub(crate) struct BodyVerdict(AtomicU8);

impl Default for BodyVerdict {
    fn default() -> Self {
        BodyVerdict(AtomicU8::new(CUT_NONE))
    }
}

const CUT_NONE: u8 = 0;
const CUT_TIMED_OUT: u8 = 1;
const CUT_TOO_LARGE: u8 = 2;

impl BodyVerdict {
    fn set(&self, cut: u8) {
        self.0.store(cut, Ordering::Relaxed);
    }

    /// The body arrived too slowly.
    pub(crate) fn timed_out(&self) -> bool {
        self.0.load(Ordering::Relaxed) == CUT_TIMED_OUT
    }

    /// The body was larger than allowed.
    pub(crate) fn too_large(&self) -> bool {
        self.0.load(Ordering::Relaxed) == CUT_TOO_LARGE
    }

    /// Whether the body was left alone.
    #[cfg(test)]
    fn untouched(&self) -> bool {
        self.0.load(Ordering::Relaxed) == CUT_NONE
    }
}

/// The error a handler sees when its request body was cut.
#[derive(Debug)]
pub(crate) enum BodyCut {
    /// The whole body did not arrive before the deadline.
    TimedOut,
    /// More bytes than allowed.
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The connection failed while the body was read.
    Connection(hyper::Error),
}

impl std::fmt::Display for BodyCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyCut::TimedOut => f.write_str("the request body was not received in time"),
            BodyCut::TooLarge { max } => {
                write!(
                    f,
                    "the request body is over the length limit of {max} bytes"
                )
            }
            BodyCut::Connection(err) => write!(f, "reading the request body: {err}"),
        }
    }
}

impl std::error::Error for BodyCut {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyCut::Connection(err) => Some(err),
            _ => None,
        }
    }
}

/// A request body bounded in time (from the end of its head) and in bytes.
pub(crate) struct LimitedBody {
    inner: Incoming,
    deadline: Instant,
    /// Created on the first blocked read: most bodies are in before the handler reads them.
    timer: Option<Pin<Box<Sleep>>>,
    received: usize,
    max: usize,
    verdict: Arc<BodyVerdict>,
}

impl LimitedBody {
    pub(crate) fn new(
        inner: Incoming,
        deadline: Instant,
        max: usize,
        verdict: Arc<BodyVerdict>,
    ) -> Self {
        LimitedBody {
            inner,
            deadline,
            timer: None,
            received: 0,
            max,
            verdict,
        }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = BodyCut;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyCut>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len());
                    if this.received > this.max {
                        this.verdict.set(CUT_TOO_LARGE);
                        return Poll::Ready(Some(Err(BodyCut::TooLarge { max: this.max })));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(BodyCut::Connection(err)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = this.deadline;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.verdict.set(CUT_TIMED_OUT);
                        Poll::Ready(Some(Err(BodyCut::TimedOut)))
                    }
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

/// Marks its request finished on the connection clock when dropped.
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<ConnectionClock>);

impl RequestGuard {
    pub(crate) fn start(clock: Arc<ConnectionClock>) -> Self {
        clock.request_started();
        RequestGuard(clock)
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that holds its request's [`RequestGuard`] until its last frame was taken
/// (hyper drops a body once written), so the idle timeout starts when the answer is out.
pub(crate) struct TrackedBody {
    inner: axum::body::Body,
    guard: Option<RequestGuard>,
}

impl TrackedBody {
    pub(crate) fn new(inner: axum::body::Body, guard: RequestGuard) -> Self {
        TrackedBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_starts_untouched_and_records_one_cut() {
        let verdict = BodyVerdict::default();
        assert!(verdict.untouched());
        verdict.set(CUT_TIMED_OUT);
        assert!(verdict.timed_out() && !verdict.too_large());
        verdict.set(CUT_TOO_LARGE);
        assert!(verdict.too_large() && !verdict.timed_out());
    }
}
