//! # passage-serve
//!
//! The one HTTP/1.1 serving layer of the passage-rs servers, the emulator (`passage-mock`) and
//! the webhook receiver (`passage webhook receive`), so a limit fixed here is fixed in both.
//! [`serve`] runs an `axum::Router` on a `TcpListener` held to [`ServeLimits`]: a peer that has
//! not authenticated cannot keep connections open (header, idle and body read timeouts),
//! cannot use up the file descriptors (a connection cap answered `503` at once), cannot send
//! unbounded bodies or heads (`413`, `431`), and every answer the layer writes itself, malformed
//! requests included, has a JSON body `{"error": "..."}`.
//!
//! ```no_run
//! use axum::extract::ConnectInfo;
//! use std::net::SocketAddr;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let router = axum::Router::new().route(
//!     "/",
//!     axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
//!         format!("hello {peer}")
//!     }),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let limits = passage_serve::ServeLimits::default().with_max_connections(256);
//! passage_serve::serve(listener, router, limits, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await;
//! # Ok(()) }
//! ```
//!
//! Known gap: only the first request head of a connection is checked before hyper (see
//! [`ServeLimits`] and the `head` module); a malformed later head on a keep-alive connection
//! gets hyper's answer, the same status with an empty body.
#![deny(missing_docs)]

mod body;
mod connection;
mod head;
mod io;
mod limits;
mod reply;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::Router;
use http::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

pub use connection::ConnectionControl;
pub use limits::ServeLimits;

use connection::{serve_connection, Accepted, ServerPhase};
use reply::{close_lingering, raw_json_reply};

/// Connections being answered `503` at once; past it an extra connection is closed without an
/// answer (each refusal holds its socket up to a second, see [`reply::LINGER`]).
const MAX_REFUSING: usize = 64;

/// Serves `router` on `listener` until `shutdown` resolves, then drains: the listener is closed,
/// idle connections are closed, in-flight requests get [`ServeLimits::shutdown_grace`] to finish,
/// and the function returns once every connection is gone.
///
/// Handlers find a [`ConnectionControl`] and the peer's `ConnectInfo<SocketAddr>` in their
/// request's extensions. `axum::extract::DefaultBodyLimit` is set to
/// [`ServeLimits::max_body_bytes`].
pub async fn serve<F>(listener: TcpListener, router: Router, limits: ServeLimits, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    let limits = limits.effective();
    let router = router.layer(DefaultBodyLimit::max(limits.max_body_bytes));
    let (phase_tx, phase_rx) = watch::channel(ServerPhase::Running);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let over_capacity: Arc<[u8]> = raw_json_reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many connections; try again shortly",
        true,
    )
    .into();
    let mut saturated = false;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                saturated = false;
                let accepted = Accepted {
                    stream,
                    peer,
                    at: Instant::now(),
                    router: router.clone(),
                    limits,
                    phase: phase_rx.clone(),
                };
                tokio::spawn(async move {
                    let _permit = permit;
                    serve_connection(accepted).await;
                });
            }
            Err(_) => {
                if !saturated {
                    saturated = true;
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        %peer,
                        "connection limit reached: answering 503 to new connections until some close"
                    );
                }
                // Under a flood even the refusals are bounded: past them the socket just closes.
                if let Ok(refusal) = Arc::clone(&refusing).try_acquire_owned() {
                    let reply = Arc::clone(&over_capacity);
                    tokio::spawn(async move {
                        let _refusal = refusal;
                        close_lingering(stream, Some(&reply)).await;
                    });
                }
            }
        }
    }
    drop(listener);
    drain(&phase_tx, &permits, limits).await;
}

/// Lets in-flight requests finish within the grace period, then closes what is left.
async fn drain(phase: &watch::Sender<ServerPhase>, permits: &Semaphore, limits: ServeLimits) {
    // `effective()` keeps the connection count within u32.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = phase.send(ServerPhase::Draining);
    if tokio::time::timeout(limits.shutdown_grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        let _ = phase.send(ServerPhase::Closed);
        // Connections end at once on `Closed`; waiting lets the caller know the sockets are gone.
        let _ = tokio::time::timeout(Duration::from_secs(1), permits.acquire_many(all)).await;
    }
    let _ = phase.send(ServerPhase::Closed);
}

/// Resolves once `shutdown` holds `true` (or its sender is gone): a [`serve`] shutdown future
/// from a `watch` channel, holding no lock guard across awaits.
///
/// ```
/// # async fn demo() {
/// let (stop, mut stopped) = tokio::sync::watch::channel(false);
/// stop.send(true).unwrap();
/// passage_serve::stopped(&mut stopped).await;
/// # }
/// ```
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
