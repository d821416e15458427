//! The accept loop. Connections are served one by one with hyper (HTTP/1.1) rather than with
//! `axum::serve`, so that a handler can ask for its connection to be closed without an answer
//! (the `DropConnection` fault): each connection gets a [`ConnectionControl`] in its requests'
//! extensions, and the connection task drops the socket when it fires.
//!
//! Bounded: a connection must send each request's headers within the header-read timeout, and
//! the same timer closes a connection idle between requests; at most `max_connections` are
//! served at once, and one more is answered `503` and closed at once (so idle connections cannot
//! use up the file descriptors and make every later request time out, silently).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// Lets a handler close the connection its request came on, without a response.
#[derive(Clone, Default)]
pub(crate) struct ConnectionControl {
    drop: Arc<Notify>,
}

impl ConnectionControl {
    /// Closes the connection: the client gets a connection-level error, never a response.
    pub(crate) fn drop_connection(&self) {
        // `notify_one` keeps a permit if the connection task is not waiting yet.
        self.drop.notify_one();
    }
}

/// Resolves once `shutdown` is true (or its sender is gone); holds no lock guard across awaits.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Time to send a request's headers, and the longest idle time between requests.
    pub(crate) header_read_timeout: Duration,
    /// Connections served at once.
    pub(crate) max_connections: usize,
}

/// The answer to a connection over the limit (written raw: no hyper connection is started).
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 67\r\nconnection: close\r\nretry-after: 1\r\n\r\n{\"error\":\"Too many connections to the emulator; try again shortly\"}";

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let for_connections = shutdown.clone();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let saturated = AtomicBool::new(false);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        saturated.store(false, Ordering::Relaxed);
                        spawn_connection(stream, router.clone(), limits, permit, for_connections.clone());
                    }
                    Err(_) => {
                        if !saturated.swap(true, Ordering::Relaxed) {
                            tracing::warn!(
                                max_connections = limits.max_connections,
                                %peer,
                                "connection limit reached: answering 503 to new connections until some close"
                            );
                        }
                        tokio::spawn(refuse(stream));
                    }
                },
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut shutdown) => break,
        }
    }
}

/// Answers 503 and closes, bounded by a one-second budget. The request is drained (not parsed)
/// after the answer: closing a socket with unread data makes the kernel send a reset, which can
/// destroy the 503 before the client reads it.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncReadExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(OVER_CAPACITY).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

fn spawn_connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    permit: OwnedSemaphorePermit,
    mut shutdown: watch::Receiver<bool>,
) {
    // Small JSON answers: don't let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let control = ConnectionControl::default();
    let for_requests = control.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(for_requests.clone());
        router.clone().oneshot(request)
    });
    tokio::spawn(async move {
        let _permit = permit;
        // hyper starts the header-read timer whenever it waits for a request's head, including
        // between keep-alive requests: one setting bounds slow headers and idle connections.
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        tokio::select! {
            result = connection => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
            }
            // Dropping the connection future closes the socket mid-request.
            _ = control.drop.notified() => tracing::debug!("connection dropped by a fault"),
            _ = stopped(&mut shutdown) => {}
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_over_capacity_answer_is_well_formed() {
        let text = std::str::from_utf8(super::OVER_CAPACITY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(json["error"].is_string());
    }
}
