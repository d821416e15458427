//! [`ServeLimits`]: every bound the serving layer holds connections to, as one struct with
//! `with_*` builders.

use std::time::Duration;

/// How connections are bounded. Every limit protects the server from a peer that has not
/// authenticated yet (nothing is known of a connection before its request is handled).
///
/// ```
/// use std::time::Duration;
/// let limits = passage_serve::ServeLimits::default()
///     .with_idle_timeout(Duration::from_secs(5))
///     .with_max_connections(64);
/// assert_eq!(limits.idle_timeout, Duration::from_secs(5));
/// assert_eq!(limits.header_read_timeout, Duration::from_secs(5), "a default");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeLimits {
    /// Time from a request's first byte (from the accept, for a connection's first request) to
    /// the end of its head; past it the connection is closed. Default 5 s.
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may stay idle after a response before its next request
    /// starts, and time a write may make no progress (a peer that does not read); past it the
    /// connection is closed. Default 30 s.
    pub idle_timeout: Duration,
    /// Time to receive a whole request body, counted from the end of its head; past it the
    /// request is answered `408` (JSON) and the connection closed. Only a body the handler
    /// reads is timed (a handler that ignores the body is not kept waiting). Default 10 s.
    pub body_read_timeout: Duration,
    /// Bytes of one request body; a larger `Content-Length` or body is answered `413` (JSON).
    /// Also applied as axum's `DefaultBodyLimit`, so extractors agree. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Bytes of one request head (request line and headers); past it `431`. Default 64 KiB
    /// (at least 8 KiB: hyper's smallest buffer).
    pub max_head_bytes: usize,
    /// Connections served at once; one more is answered `503` (JSON, written raw) and closed at
    /// once, so idle connections cannot use up the file descriptors and make every later
    /// request time out, silently. Default 1024; at least 1.
    pub max_connections: usize,
    /// On shutdown, time in-flight requests get to finish before their connections are closed.
    /// Idle connections are closed at once. Default 10 s; zero closes everything at once.
    pub shutdown_grace: Duration,
}

/// Smallest head limit: hyper refuses a read buffer below 8 KiB.
pub(crate) const MIN_HEAD_BYTES: usize = 8 * 1024;

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            max_head_bytes: 64 * 1024,
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServeLimits {
    /// The defaults (see each field).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`header_read_timeout`](Self::header_read_timeout).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`body_read_timeout`](Self::body_read_timeout).
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`max_head_bytes`](Self::max_head_bytes) (raised to 8 KiB if lower).
    pub fn with_max_head_bytes(mut self, bytes: usize) -> Self {
        self.max_head_bytes = bytes;
        self
    }

    /// Sets [`max_connections`](Self::max_connections) (raised to 1 if zero).
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Sets [`shutdown_grace`](Self::shutdown_grace).
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// The limits as served: values that cannot work raised to the smallest that can.
    pub(crate) fn effective(mut self) -> Self {
        self.max_head_bytes = self.max_head_bytes.max(MIN_HEAD_BYTES);
        // Permits are counted in u32 when the server waits for every connection to end.
        self.max_connections = self.max_connections.clamp(
            1,
            tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize),
        );
        self
    }
}
