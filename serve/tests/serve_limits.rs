//! The serving layer over real TCP on 127.0.0.1, with raw sockets where the test needs a request
//! a normal client would not send. Timeouts are set small (200–500 ms); every deadline is a
//! generous multiple of them, and a failure says what was seen.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::{Extension, Router};
use passage_serve::{ConnectionControl, ServeLimits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A bound on anything that should happen "soon" (a loaded 2-core machine included).
const SLACK: Duration = Duration::from_secs(5);

struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(limits: ServeLimits) -> Server {
        let router = Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route(
                "/echo",
                post(|body: Bytes| async move { format!("{}", body.len()) }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    "slow"
                }),
            )
            .route(
                "/drop",
                get(
                    |Extension(control): Extension<ConnectionControl>| async move {
                        control.drop_connection();
                        std::future::pending::<&'static str>().await
                    },
                ),
            )
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(passage_serve::serve(listener, router, limits, async move {
            passage_serve::stopped(&mut stopped).await;
        }));
        Server { addr, stop, task }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connect")
    }
}

/// An answer read to EOF: status, lower-cased head, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let status = text
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        Answer {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_string(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {self:?}"))
    }
}

/// Reads until EOF (or reset), within `limit`; what was read.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {limit:?}; read so far: {:?}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return seen,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `request` on a new connection and reads the answer to the close.
async fn exchange(server: &Server, request: &[u8]) -> Answer {
    let mut stream = server.connect().await;
    stream.write_all(request).await.expect("write");
    Answer::parse(&read_to_close(&mut stream, SLACK).await)
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(300);
    // A long header timeout: only the idle timeout can close this connection early.
    let server = Server::start(
        ServeLimits::default()
            .with_header_read_timeout(Duration::from_secs(30))
            .with_idle_timeout(idle),
    )
    .await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let seen = read_to_close(&mut stream, idle * 3 + SLACK).await;
    let after = started.elapsed();
    let answer = Answer::parse(&seen);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.ends_with("hello"), "{answer:?}");
    assert!(
        after >= idle - Duration::from_millis(50),
        "closed after {after:?}, before the idle timeout {idle:?}"
    );
}

#[tokio::test]
async fn silent_and_slow_heads_are_cut_after_the_header_timeout() {
    let header = Duration::from_millis(300);
    let server = Server::start(
        ServeLimits::default()
            .with_header_read_timeout(header)
            .with_idle_timeout(Duration::from_secs(30)),
    )
    .await;
    let mut silent = server.connect().await;
    let mut slow = server.connect().await;
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    // The slow one keeps sending header lines, one every 100 ms: progress does not extend it.
    let trickle = tokio::spawn(async move {
        for i in 0..100 {
            if slow
                .write_all(format!("x-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return (slow, true);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (slow, false)
    });
    let seen = read_to_close(&mut silent, header * 3 + SLACK).await;
    assert!(seen.is_empty(), "{:?}", String::from_utf8_lossy(&seen));
    let (mut slow, cut_while_writing) = trickle.await.expect("trickle task");
    if !cut_while_writing {
        read_to_close(&mut slow, SLACK).await;
    }
    let after = started.elapsed();
    assert!(
        after < header * 3 + SLACK,
        "the slow head lasted {after:?} (cut while writing: {cut_while_writing})"
    );
}

#[tokio::test]
async fn a_trickled_body_is_cut_with_a_json_408() {
    let body_timeout = Duration::from_millis(500);
    let server = Server::start(
        ServeLimits::default()
            .with_body_read_timeout(body_timeout)
            .with_idle_timeout(Duration::from_secs(30)),
    )
    .await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if write.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut seen = Vec::new();
    let limit = body_timeout + SLACK;
    let _ = tokio::time::timeout(limit, read.read_to_end(&mut seen)).await;
    let after = started.elapsed();
    trickle.abort();
    let answer = Answer::parse(&seen);
    assert_eq!(answer.status, 408, "after {after:?}: {answer:?}");
    assert!(answer.head.contains("connection: close"), "{answer:?}");
    assert!(answer.json()["error"].as_str().is_some(), "{answer:?}");
    assert!(
        after >= body_timeout - Duration::from_millis(50) && after < limit,
        "answered after {after:?} (body timeout {body_timeout:?})"
    );
}

#[tokio::test]
async fn past_the_connection_cap_a_json_503_and_then_service_again() {
    let server = Server::start(
        ServeLimits::default()
            .with_max_connections(3)
            .with_header_read_timeout(Duration::from_secs(30)),
    )
    .await;
    let mut idlers = Vec::new();
    for _ in 0..3 {
        idlers.push(server.connect().await);
    }
    // The idlers are accepted (and counted) asynchronously: retry until the cap shows.
    let started = Instant::now();
    let refused = loop {
        let answer = exchange(&server, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
        if answer.status == 503 || started.elapsed() > SLACK {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(
        refused.head.contains("content-type: application/json"),
        "{refused:?}"
    );
    assert!(
        refused.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("Too many connections")),
        "{refused:?}"
    );
    drop(idlers);
    let started = Instant::now();
    loop {
        let answer = exchange(
            &server,
            b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        if answer.status == 200 {
            assert!(answer.body.ends_with("hello"), "{answer:?}");
            break;
        }
        assert!(
            started.elapsed() < SLACK,
            "never served again; last answer {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn oversized_bodies_get_a_json_413_declared_or_chunked() {
    let server = Server::start(ServeLimits::default().with_max_body_bytes(1000)).await;
    let declared = exchange(
        &server,
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n{}",
            "a".repeat(2000)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(declared.status, 413, "{declared:?}");
    assert!(
        declared.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("length limit")),
        "{declared:?}"
    );
    let chunk = "a".repeat(600);
    let chunked = exchange(
        &server,
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(chunked.status, 413, "{chunked:?}");
    assert!(chunked.json()["error"].is_string(), "{chunked:?}");
    // At the limit it is served.
    let fits = exchange(
        &server,
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{}",
            "a".repeat(1000)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!((fits.status, fits.body.as_str()), (200, "1000"), "{fits:?}");
}

#[tokio::test]
async fn malformed_heads_get_json_400_or_431() {
    let server = Server::start(ServeLimits::default().with_max_head_bytes(8 * 1024)).await;
    let many: String = (0..150).map(|i| format!("x-{i}: y\r\n")).collect();
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), 400),
        (
            b"GET /hello HTTP/1.1\r\nBad Header: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n".to_vec(),
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            format!("GET /hello HTTP/1.1\r\nx: {}\r\n\r\n", "y".repeat(10_000)).into_bytes(),
            431,
        ),
        (
            format!("GET /hello HTTP/1.1\r\n{many}\r\n").into_bytes(),
            431,
        ),
    ];
    for (request, status) in cases {
        let answer = exchange(&server, &request).await;
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        assert_eq!(answer.status, status, "{shown:?}: {answer:?}");
        assert!(
            answer.head.contains("content-type: application/json"),
            "{shown:?}: {answer:?}"
        );
        assert!(answer.json()["error"].is_string(), "{shown:?}: {answer:?}");
    }
}

#[tokio::test]
async fn a_handler_can_drop_its_connection_and_read_the_peer_address() {
    let server = Server::start(ServeLimits::default()).await;
    let mut stream = server.connect().await;
    let local = stream.local_addr().expect("local addr");
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\nGET /drop HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let seen = read_to_close(&mut stream, SLACK).await;
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(
        text.matches("HTTP/1.1 ").count(),
        1,
        "only /peer is answered: {text}"
    );
    assert!(text.ends_with(&local.to_string()), "{text}");
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_returns() {
    let server = Server::start(ServeLimits::default()).await;
    let mut idle = server.connect().await;
    let mut busy = server.connect().await;
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    // Let the request reach its handler before shutting down.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.send(true).expect("server running");
    let answer = Answer::parse(&read_to_close(&mut busy, SLACK).await);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.ends_with("slow"), "{answer:?}");
    read_to_close(&mut idle, SLACK).await;
    tokio::time::timeout(SLACK, server.task)
        .await
        .expect("serve returns after draining")
        .expect("serve task");
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "the listener is closed"
    );
}
