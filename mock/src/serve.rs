//! The accept loop. Connections are served one by one with hyper (HTTP/1.1) rather than with
//! `axum::serve`, so that a handler can ask for its connection to be closed without an answer
//! (the `DropConnection` fault): each connection gets a [`ConnectionControl`] in its requests'
//! extensions, and the connection task drops the socket when it fires.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
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

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let for_connections = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => spawn_connection(stream, router.clone(), for_connections.clone()),
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

fn spawn_connection(stream: TcpStream, router: Router, mut shutdown: watch::Receiver<bool>) {
    // Small JSON answers: don't let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let control = ConnectionControl::default();
    let for_requests = control.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(for_requests.clone());
        router.clone().oneshot(request)
    });
    tokio::spawn(async move {
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
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
