//! One accepted connection, from its first head to its lingering close: the first head is
//! checked before hyper (see [`crate::head`]), then hyper serves it through the time-bounded
//! socket of [`crate::io`], each request going through the request-level limits here.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use http::{header, HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

use crate::body::{BodyCut, BodyVerdict, LimitedBody, RequestGuard, TrackedBody};
use crate::head::{read_first_head, FirstHead, MAX_HEADERS};
use crate::io::{ConnectionClock, ConnectionIo};
use crate::reply::{close_lingering, closing_json_response, raw_json_reply};
use crate::ServeLimits;

/// Lets a handler close the connection its request came on, without a response: the client
/// gets a connection-level error, never an answer. Every request carries one in its extensions.
///
/// ```
/// use axum::Extension;
/// use passage_serve::ConnectionControl;
///
/// async fn handler(Extension(control): Extension<ConnectionControl>) -> &'static str {
///     control.drop_connection();
///     "never sent"
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(handler));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConnectionControl {
    drop: Arc<Notify>,
}

impl ConnectionControl {
    /// Closes the connection: the connection's task drops the socket, and with it the
    /// request being handled (the handler's future is dropped at its next `.await`).
    pub fn drop_connection(&self) {
        // `notify_one` keeps a permit if the connection task is not waiting yet.
        self.drop.notify_one();
    }

    async fn dropped(&self) {
        self.drop.notified().await;
    }
}

/// Where the whole server is in its life; connections follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ServerPhase {
    /// Serving.
    Running,
    /// Shutting down: idle connections close, in-flight requests finish.
    Draining,
    /// The grace period is over: every connection closes now.
    Closed,
}

/// Resolves once the server reached `phase` (or is gone).
async fn reached(phase: &mut watch::Receiver<ServerPhase>, target: ServerPhase) {
    let _ = phase.wait_for(|now| *now >= target).await;
}

/// What one accepted connection is served with.
pub(crate) struct Accepted {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) at: Instant,
    pub(crate) router: Router,
    pub(crate) limits: ServeLimits,
    pub(crate) phase: watch::Receiver<ServerPhase>,
}

/// What ended a turn of the connection loop.
enum Event {
    Done(hyper::Result<()>),
    Dropped,
    Phase,
}

/// Serves one connection to its end.
pub(crate) async fn serve_connection(accepted: Accepted) {
    let Accepted {
        mut stream,
        peer,
        at,
        router,
        limits,
        mut phase,
    } = accepted;
    // Small JSON answers: don't let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    let head_until = at + limits.header_read_timeout;
    let first = tokio::select! {
        first = read_first_head(&mut stream, limits.max_head_bytes, head_until) => first,
        // No request yet: nothing to finish.
        () = reached(&mut phase, ServerPhase::Draining) => return,
    };
    let replay = match first {
        FirstHead::Ready(bytes) => bytes,
        FirstHead::Closed => {
            tracing::debug!(%peer, "connection closed before a whole request head");
            return;
        }
        FirstHead::Refused(status, message) => {
            tracing::debug!(%peer, %status, %message, "malformed request head refused");
            let reply = raw_json_reply(status, &message, false);
            tokio::select! {
                () = close_lingering(stream, Some(&reply)) => {}
                () = reached(&mut phase, ServerPhase::Closed) => {}
            }
            return;
        }
    };

    let clock = Arc::new(ConnectionClock::new(
        head_until,
        limits.header_read_timeout,
        limits.idle_timeout,
    ));
    let control = ConnectionControl::default();
    let service = RequestService {
        router,
        limits,
        clock: Arc::clone(&clock),
        control: control.clone(),
        peer,
    };
    let io = TokioIo::new(ConnectionIo::new(stream, replay, clock));
    // hyper's own header timer stays off: the socket wrapper times heads and idle time apart.
    let mut connection = http1::Builder::new()
        .header_read_timeout(None)
        .max_buf_size(limits.max_head_bytes)
        .max_header_size(limits.max_head_bytes)
        .max_headers(MAX_HEADERS)
        .serve_connection(io, service);
    let mut draining = false;
    loop {
        let next_phase = if draining {
            ServerPhase::Closed
        } else {
            ServerPhase::Draining
        };
        let event = tokio::select! {
            result = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => Event::Done(result),
            () = control.dropped() => Event::Dropped,
            () = reached(&mut phase, next_phase) => Event::Phase,
        };
        match event {
            Event::Done(Ok(())) => break,
            Event::Done(Err(err)) => {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
                return;
            }
            // Dropping the connection closes the socket mid-request.
            Event::Dropped => {
                tracing::debug!(%peer, "connection dropped by its handler");
                return;
            }
            Event::Phase if draining || *phase.borrow() == ServerPhase::Closed => return,
            Event::Phase => {
                draining = true;
                // Idle: closes now; busy: closes after the response in flight.
                Pin::new(&mut connection).graceful_shutdown();
            }
        }
    }
    let stream = connection.into_parts().io.into_inner().into_stream();
    tokio::select! {
        () = close_lingering(stream, None) => {}
        () = reached(&mut phase, ServerPhase::Closed) => {}
    }
}

/// Each request: the body limits, the connection's control and peer address in the
/// extensions, the router, then `408`/`413` in place of whatever the handler answered to a cut
/// body.
struct RequestService {
    router: Router,
    limits: ServeLimits,
    clock: Arc<ConnectionClock>,
    control: ConnectionControl,
    peer: SocketAddr,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<TrackedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, request: Request<Incoming>) -> ServiceFuture {
        let guard = RequestGuard::start(Arc::clone(&self.clock));
        let max = self.limits.max_body_bytes;
        if declared_length(request.headers()).is_some_and(|length| length > max as u64) {
            let response = too_large(max);
            return Box::pin(std::future::ready(Ok(
                response.map(|body| TrackedBody::new(body, guard))
            )));
        }
        let verdict = Arc::new(BodyVerdict::default());
        let body_timeout = self.limits.body_read_timeout;
        let (parts, incoming) = request.into_parts();
        let body = LimitedBody::new(
            incoming,
            Instant::now() + body_timeout,
            max,
            Arc::clone(&verdict),
        );
        let mut request = Request::from_parts(parts, axum::body::Body::new(body));
        request.extensions_mut().insert(self.control.clone());
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            // Whatever the handler made of the cut body (axum answers 400), the peer learns
            // what limit it hit, and the connection (with an unread body in it) goes.
            let response = if verdict.timed_out() {
                body_timed_out(body_timeout)
            } else if verdict.too_large() {
                too_large(max)
            } else {
                response
            };
            Ok(response.map(|body| TrackedBody::new(body, guard)))
        })
    }
}

/// The request's `Content-Length`, when it is a plain number.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn too_large(max: usize) -> axum::response::Response {
    closing_json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &BodyCut::TooLarge { max }.to_string(),
    )
}

fn body_timed_out(timeout: Duration) -> axum::response::Response {
    closing_json_response(
        StatusCode::REQUEST_TIMEOUT,
        &format!(
            "the request body was not received within {} ms",
            timeout.as_millis()
        ),
    )
}
