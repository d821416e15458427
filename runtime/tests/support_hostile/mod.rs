//! A hostile HTTP/1.1 server for tests: bound once on 127.0.0.1:0, it records every request (head
//! and body) and answers what the test's handler says: a fixed answer, an endless body, a slow
//! answer. Connections are closed after one answer, so every request is a new connection.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request line and headers.
    pub head: String,
    /// The body (per `Content-Length`).
    pub body: Vec<u8>,
}

/// What to answer.
pub enum Reply {
    /// These bytes (a whole HTTP response), then close.
    Raw(String),
    /// These head bytes (status line and headers, ending in a blank line), then zeros forever,
    /// until the client goes away. Records how many body bytes were written.
    Endless(String),
    /// Wait, then answer these bytes.
    Slow(Duration, String),
}

/// A running hostile server.
pub struct Hostile {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    /// Body bytes written by `Reply::Endless` answers, in total.
    pub endless_written: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Handler = Arc<dyn Fn(usize, &Received) -> Reply + Send + Sync>;

impl Hostile {
    /// Binds 127.0.0.1:0 once and serves with `handler(request_index, request)`.
    pub async fn start(
        handler: impl Fn(usize, &Received) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let endless_written = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let handler: Handler = Arc::new(handler);
        let (r, a, w) = (received.clone(), arrived.clone(), endless_written.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (r, a, w, handler) = (r.clone(), a.clone(), w.clone(), handler.clone());
                tokio::spawn(async move { serve_one(socket, r, a, w, handler).await });
            }
        });
        Self {
            addr,
            received,
            arrived,
            endless_written,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn serve_one(
    mut socket: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    written: Arc<std::sync::atomic::AtomicU64>,
    handler: Handler,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = Received {
        head,
        body: buf[head_end..].to_vec(),
    };
    let index = {
        let mut all = received.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    arrived.notify_waiters();
    match handler(index, &request) {
        Reply::Raw(bytes) => {
            let _ = socket.write_all(bytes.as_bytes()).await;
        }
        Reply::Slow(delay, bytes) => {
            tokio::time::sleep(delay).await;
            let _ = socket.write_all(bytes.as_bytes()).await;
        }
        Reply::Endless(head) => {
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let zeros = vec![b'0'; 64 * 1024];
            while socket.write_all(&zeros).await.is_ok() {
                written.fetch_add(zeros.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    let _ = socket.shutdown().await;
}

/// A whole response with a body and `Connection: close`.
pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut text = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}
