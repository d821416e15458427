//! Measures what a 1 GiB answer costs the client: starts a server on 127.0.0.1 that answers any
//! request with 1 GiB (no `Content-Length`, so only a streaming cap can stop it), then calls it as
//! `links get` (`api`) or as the webhook key endpoint (`key`). Run under `/usr/bin/time -v` and
//! read "Maximum resident set size":
//!
//! ```sh
//! cargo build --release -p passage-connect --example body_cap_rss
//! /usr/bin/time -v target/release/examples/body_cap_rss api
//! /usr/bin/time -v target/release/examples/body_cap_rss key
//! ```

use std::time::Instant;

use passage_connect::client::{Client, RetryPolicy};
use passage_connect::webhook::{KeySource, RemoteKeys};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ANSWER_BYTES: u64 = 1 << 30;

#[tokio::main]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "api".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 1 << 20];
                let mut sent = 0;
                while sent < ANSWER_BYTES && socket.write_all(&chunk).await.is_ok() {
                    sent += chunk.len() as u64;
                }
            });
        }
    });
    let started = Instant::now();
    let outcome = match which.as_str() {
        "key" => RemoteKeys::new(&base)
            .key("wsk_1")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Client::builder("psg_test")
            .base_url(&base)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
            .links()
            .get("link_1")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    println!("{which}: {:?} after {:?}", outcome, started.elapsed());
}
