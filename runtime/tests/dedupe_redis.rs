//! `RedisDedupeStore` against a real `redis-server` started by the test on 127.0.0.1.
//!
//! The test starts `redis-server --port <free port> --save '' --appendonly no` itself and kills it
//! when done. If the binary is missing, the test is skipped with a message, except under `CI=true`
//! where it fails (install it with `apt-get install -y redis-server`).
#![cfg(feature = "redis")]

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use passage_connect::dedupe::{DedupeKey, DedupeStore, RedisDedupeStore};

/// A `redis-server` child process, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RedisServer {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Starts a server, or returns `None` (after printing why) when `redis-server` is not installed
/// and we are not under CI.
async fn start_redis() -> Option<RedisServer> {
    let port = free_port();
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("redis-server not found under CI=true: apt-get install -y redis-server");
            }
            eprintln!("SKIPPED: redis-server not found on PATH (apt-get install -y redis-server)");
            return None;
        }
        Err(err) => panic!("could not start redis-server: {err}"),
    };
    let server = RedisServer { child, port };
    // Wait (generously: the machine may be loaded) until the server accepts commands.
    for _ in 0..300 {
        if let Ok(store) = RedisDedupeStore::connect(&server.url()).await {
            let probe = DedupeKey::new("probe", "probe", 0);
            if store.forget(&probe).await.is_ok() {
                return Some(server);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("redis-server on port {port} did not answer within 30 s");
}

fn key(link: &str, ts: u64) -> DedupeKey {
    DedupeKey::new(link, "link.complete", ts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_semantics() {
    let Some(server) = start_redis().await else {
        return;
    };
    let store = RedisDedupeStore::connect(&server.url())
        .await
        .expect("connect")
        .with_prefix("test:a:")
        .with_ttl(Duration::from_secs(600));

    // First delivery, redelivery, distinct events.
    assert!(store.first_seen(&key("link_1", 1)).await.unwrap());
    assert!(!store.first_seen(&key("link_1", 1)).await.unwrap());
    assert!(store.first_seen(&key("link_1", 2)).await.unwrap());
    let failed = DedupeKey::new("link_1", "link.failed", 1);
    assert!(store.first_seen(&failed).await.unwrap());

    // The key is written under the prefix, with a TTL.
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg("test:a:link_1:link.complete:1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1..=600).contains(&ttl), "TTL was {ttl}");
    assert_eq!(
        store.redis_key(&key("link_1", 1)),
        "test:a:link_1:link.complete:1"
    );

    // Another prefix is another namespace; the same prefix is shared (several machines).
    let other = RedisDedupeStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("test:b:");
    assert!(other.first_seen(&key("link_1", 1)).await.unwrap());
    let same = RedisDedupeStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("test:a:");
    assert!(!same.first_seen(&key("link_1", 1)).await.unwrap());

    // forget lets the event through again.
    store.forget(&key("link_1", 1)).await.unwrap();
    assert!(same.first_seen(&key("link_1", 1)).await.unwrap());

    // Concurrency: many tasks over separate connections, one winner per key.
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(
            RedisDedupeStore::connect(&server.url())
                .await
                .unwrap()
                .with_prefix("test:c:"),
        ));
    }
    for round in 0..10 {
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let mut tasks = Vec::new();
        for i in 0..32 {
            let store = stores[i % stores.len()].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.first_seen(&key("link_race", round)).await.unwrap()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
    }

    // Expiry: a 1-second TTL; the key becomes new again once Redis expires it.
    let short = RedisDedupeStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("test:d:")
        .with_ttl(Duration::from_millis(200)); // rounded up to 1 s
    assert!(short.first_seen(&key("link_ttl", 1)).await.unwrap());
    assert!(!short.first_seen(&key("link_ttl", 1)).await.unwrap());
    let mut expired = false;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if short.first_seen(&key("link_ttl", 1)).await.unwrap() {
            expired = true;
            break;
        }
    }
    assert!(expired, "key did not expire within 30 s");
}

#[tokio::test]
async fn connection_errors_are_typed_and_do_not_leak_the_url() {
    // Nothing listens on this port (bound, then released).
    let port = free_port();
    let url = format!("redis://:s3cret-password@127.0.0.1:{port}/");
    let err = RedisDedupeStore::connect(&url).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("s3cret-password"), "{text}");
    assert!(matches!(
        err,
        passage_connect::dedupe::DedupeError::Redis {
            operation: "connect",
            ..
        }
    ));
}
