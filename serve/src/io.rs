//! The socket as hyper sees it: the bytes already read for the first head are replayed first,
//! and reads and writes fail with `TimedOut` past the connection's current deadline. Why here
//! and not with hyper's `header_read_timeout`: hyper has one timer for a slow head and for an
//! idle keep-alive connection, and none for a peer that does not read its answer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Where a connection is between requests, shared by its socket wrapper and its requests.
#[derive(Debug)]
pub(crate) struct ConnectionClock {
    state: Mutex<ClockState>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

#[derive(Debug)]
struct ClockState {
    /// Requests handed to the handler whose response has not been fully written out.
    active: usize,
    phase: Phase,
    /// A read blocked while no deadline ran: hyper reads ahead during a request, and that
    /// read must be woken to start the idle timer once the response is out.
    untimed_reader: Option<Waker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request in progress: the next one must start by this instant.
    Idle { until: Instant },
    /// A head is arriving: it must be complete by this instant.
    Head { until: Instant },
    /// A request is being handled: its body has its own deadline, the connection none.
    Busy,
}

impl ConnectionClock {
    /// A clock whose first head (already being read) must be in by `head_until`.
    pub(crate) fn new(
        head_until: Instant,
        header_read_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        ConnectionClock {
            state: Mutex::new(ClockState {
                active: 0,
                phase: Phase::Head { until: head_until },
                untimed_reader: None,
            }),
            header_read_timeout,
            idle_timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ClockState> {
        // The state is two plain fields: a panic elsewhere cannot leave it inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The instant past which a blocked read means the peer is too slow, if any; without one,
    /// `reader` is woken when one starts.
    fn read_deadline(&self, reader: &Waker) -> Option<Instant> {
        let mut state = self.lock();
        match state.phase {
            Phase::Idle { until } | Phase::Head { until } => Some(until),
            Phase::Busy => {
                state.untimed_reader = Some(reader.clone());
                None
            }
        }
    }

    /// Bytes arrived: on an idle connection they start a head, which now has its own timeout.
    fn bytes_read(&self) {
        let mut state = self.lock();
        if let Phase::Idle { .. } = state.phase {
            state.phase = Phase::Head {
                until: Instant::now() + self.header_read_timeout,
            };
        }
    }

    /// hyper handed a request to the handler.
    pub(crate) fn request_started(&self) {
        let mut state = self.lock();
        state.active += 1;
        state.phase = Phase::Busy;
    }

    /// A response was written out (or given up): with none left, the idle timeout runs.
    pub(crate) fn request_finished(&self) {
        let mut state = self.lock();
        state.active = state.active.saturating_sub(1);
        if state.active == 0 {
            state.phase = Phase::Idle {
                until: Instant::now() + self.idle_timeout,
            };
            if let Some(reader) = state.untimed_reader.take() {
                reader.wake();
            }
        }
    }
}

/// The time-bounded socket handed to hyper.
pub(crate) struct ConnectionIo {
    stream: TcpStream,
    /// Bytes read before hyper started (the first head), replayed first.
    replay: BytesMut,
    clock: Arc<ConnectionClock>,
    read_timer: Pin<Box<Sleep>>,
    read_timer_at: Option<Instant>,
    write_timer: Pin<Box<Sleep>>,
    /// Since when writes have made no progress.
    write_stalled_since: Option<Instant>,
    idle_timeout: Duration,
}

impl ConnectionIo {
    pub(crate) fn new(stream: TcpStream, replay: BytesMut, clock: Arc<ConnectionClock>) -> Self {
        let idle_timeout = clock.idle_timeout;
        let now = tokio::time::Instant::now();
        ConnectionIo {
            stream,
            replay,
            clock,
            read_timer: Box::pin(tokio::time::sleep_until(now)),
            read_timer_at: None,
            write_timer: Box::pin(tokio::time::sleep_until(now)),
            write_stalled_since: None,
            idle_timeout,
        }
    }

    /// The socket back, once hyper is done with it.
    pub(crate) fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Called when a read is blocked: `Ready(err)` if the read deadline has passed, otherwise
    /// `Pending` with the timer registered to wake this task at the deadline.
    fn poll_read_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(deadline) = self.clock.read_deadline(cx.waker()) else {
            return Poll::Pending;
        };
        if self.read_timer_at != Some(deadline) {
            self.read_timer.as_mut().reset(deadline.into());
            self.read_timer_at = Some(deadline);
        }
        match self.read_timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer sent no request (or no whole request head) in time",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Tracks a write's progress: `Ready(err)` once writes have been blocked for the idle timeout.
    fn on_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.write_stalled_since = None;
            return result;
        }
        let since = *self.write_stalled_since.get_or_insert_with(|| {
            let now = Instant::now();
            self.write_timer
                .as_mut()
                .reset((now + self.idle_timeout).into());
            now
        });
        match self.write_timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the peer read nothing for {:?}", since.elapsed()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for ConnectionIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.replay.is_empty() {
            let n = this.replay.len().min(buf.remaining());
            buf.put_slice(&this.replay[..n]);
            this.replay.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => this.poll_read_deadline(cx).map(Err),
        }
    }
}

impl AsyncWrite for ConnectionIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.on_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.on_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.on_write(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.on_write(cx, result)
    }
}
