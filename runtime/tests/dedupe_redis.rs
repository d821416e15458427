//! `RedisDedupeStore` against a real `redis-server` started by the test on 127.0.0.1 (see
//! `redis_support`): the processing/done rule, and recovery when Redis is killed, restarted and
//! paused mid-run. Under `CI=true` a missing `redis-server` fails these tests.
#![cfg(feature = "redis")]

mod redis_support;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use passage_connect::dedupe::{Claim, DedupeError, DedupeKey, DedupeStore, RedisDedupeStore};
use redis_support::RedisServer;

fn key(link: &str, ts: u64) -> DedupeKey {
    DedupeKey::new(link, "link.complete", ts)
}

async fn store(server: &RedisServer, prefix: &str) -> RedisDedupeStore {
    RedisDedupeStore::connect(&server.url())
        .await
        .expect("connect")
        .with_prefix(prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claim_complete_release_and_lease() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, "test:a:")
        .await
        .with_ttl(Duration::from_secs(600));

    // First delivery acquires; a concurrent redelivery sees it in progress; after complete it
    // is a duplicate.
    let Claim::Acquired(_token) = store.claim(&key("link_1", 1)).await.unwrap() else {
        panic!("a new key is acquired");
    };
    let busy = store.claim(&key("link_1", 1)).await.unwrap();
    let Claim::InProgress { retry_after } = busy else {
        panic!("expected in progress, got {busy:?}");
    };
    assert!(retry_after <= store.lease() && retry_after > Duration::ZERO);
    store.complete(&key("link_1", 1)).await.unwrap();
    assert_eq!(store.claim(&key("link_1", 1)).await.unwrap(), Claim::Done);
    // Other events of the same link are distinct.
    assert!(store.claim(&key("link_1", 2)).await.unwrap().is_acquired());
    let failed = DedupeKey::new("link_1", "link.failed", 1);
    assert!(store.claim(&failed).await.unwrap().is_acquired());

    // The done record is under the prefix, with the TTL.
    let mut conn = server.client();
    let ttl: i64 = redis::cmd("TTL")
        .arg("test:a:link_1:link.complete:1")
        .query(&mut conn)
        .unwrap();
    assert!((590..=600).contains(&ttl), "TTL was {ttl}");
    assert_eq!(
        store.redis_key(&key("link_1", 1)),
        "test:a:link_1:link.complete:1"
    );

    // Another prefix is another namespace; the same prefix is shared (several machines).
    assert!(store_claims(&server, "test:b:", &key("link_1", 1)).await);
    assert!(!store_claims(&server, "test:a:", &key("link_1", 1)).await);

    // release: only the holder's token drops the claim; then the next delivery acquires.
    let Claim::Acquired(token) = store.claim(&key("link_r", 1)).await.unwrap() else {
        panic!("acquired");
    };
    let Claim::Acquired(other_token) = store.claim(&key("link_r", 2)).await.unwrap() else {
        panic!("acquired");
    };
    store
        .release(&key("link_r", 1), &other_token)
        .await
        .unwrap();
    assert!(matches!(
        store.claim(&key("link_r", 1)).await.unwrap(),
        Claim::InProgress { .. }
    ));
    store.release(&key("link_r", 1), &token).await.unwrap();
    assert!(store.claim(&key("link_r", 1)).await.unwrap().is_acquired());
    // Release never drops a done record.
    store.complete(&key("link_r", 2)).await.unwrap();
    store
        .release(&key("link_r", 2), &other_token)
        .await
        .unwrap();
    assert_eq!(store.claim(&key("link_r", 2)).await.unwrap(), Claim::Done);

    // A crashed holder (no complete, no release): in progress within the lease, acquired after.
    let short = store.clone().with_lease(Duration::from_millis(300));
    assert!(short
        .claim(&key("link_crash", 1))
        .await
        .unwrap()
        .is_acquired());
    let claimed_at = Instant::now();
    assert!(matches!(
        short.claim(&key("link_crash", 1)).await.unwrap(),
        Claim::InProgress { .. }
    ));
    let mut reacquired = false;
    while claimed_at.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if short
            .claim(&key("link_crash", 1))
            .await
            .unwrap()
            .is_acquired()
        {
            reacquired = true;
            break;
        }
    }
    assert!(reacquired, "the lease never ran out");
    assert!(claimed_at.elapsed() >= Duration::from_millis(300));

    // Records written by the former `SET key 1 NX` store count as done.
    let _: () = redis::cmd("SET")
        .arg("test:a:link_old:link.complete:1")
        .arg(1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(store.claim(&key("link_old", 1)).await.unwrap(), Claim::Done);

    // Concurrency: many tasks over separate connections, one winner per key.
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(store_for(&server, "test:c:").await));
    }
    for round in 0..10 {
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let mut tasks = Vec::new();
        for i in 0..32 {
            let store = stores[i % stores.len()].clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.claim(&key("link_race", round)).await.unwrap()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap().is_acquired());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn store_for(server: &RedisServer, prefix: &str) -> RedisDedupeStore {
    store(server, prefix).await
}

async fn store_claims(server: &RedisServer, prefix: &str, key: &DedupeKey) -> bool {
    store(server, prefix)
        .await
        .claim(key)
        .await
        .unwrap()
        .is_acquired()
}

/// The bug of issue 13.1: after a restart every call failed with `broken pipe` forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_redis_is_killed_and_restarted() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = RedisDedupeStore::connect_with_timeout(&server.url(), Duration::from_millis(500))
        .await
        .unwrap()
        .with_prefix("test:restart:");
    assert!(store.claim(&key("link_1", 1)).await.unwrap().is_acquired());
    store.complete(&key("link_1", 1)).await.unwrap();

    server.kill();
    let started = Instant::now();
    let err = store.claim(&key("link_1", 2)).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a call with Redis down is bounded"
    );
    assert!(
        matches!(err, DedupeError::Redis { .. } | DedupeError::Timeout { .. }),
        "{err:?}"
    );

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        match store.claim(&key("link_1", 1)).await {
            Ok(answer) => break answer,
            Err(err) => {
                assert!(Instant::now() < deadline, "never reconnected: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // Reconnected, and the done record survived the restart (AOF).
    assert_eq!(answer, Claim::Done);
    assert!(store.claim(&key("link_1", 3)).await.unwrap().is_acquired());
}

/// The other half of 13.1: with Redis paused a call hung, and its write landed later, turning
/// Passage's retry into a "duplicate".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_redis_times_out_and_the_late_claim_does_not_land() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let timeout = Duration::from_millis(400);
    let store = RedisDedupeStore::connect_with_timeout(&server.url(), timeout)
        .await
        .unwrap()
        .with_prefix("test:pause:");
    assert!(store.claim(&key("warm", 1)).await.unwrap().is_acquired());

    server.pause();
    let started = Instant::now();
    let result = store.claim(&key("link_p", 1)).await;
    let took = started.elapsed();
    server.resume();
    assert!(
        matches!(result, Err(DedupeError::Timeout { .. })),
        "{result:?}"
    );
    assert!(took < timeout * 3, "took {took:?}");

    // Passage retries: the delivery is processed, not dropped as a duplicate.
    let deadline = Instant::now() + Duration::from_secs(10);
    let retry = loop {
        match store.claim(&key("link_p", 1)).await {
            Ok(answer) => break answer,
            Err(err) => {
                assert!(Instant::now() < deadline, "{err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(retry.is_acquired(), "the retry was refused: {retry:?}");
}

/// One receiver attempt, following the rule: 2xx (`true`) for done or processed, non-2xx for
/// store errors, in-progress claims and crashes.
struct Receiver {
    store: RedisDedupeStore,
    effects: Mutex<HashMap<DedupeKey, u32>>,
    crash_once: Mutex<HashSet<DedupeKey>>,
    store_errors: AtomicUsize,
}

impl Receiver {
    async fn deliver(&self, key: &DedupeKey) -> bool {
        let token = match self.store.claim(key).await {
            Err(_) => {
                self.store_errors.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            Ok(Claim::Done) => return true,
            Ok(Claim::InProgress { .. }) => return false,
            Ok(Claim::Acquired(token)) => token,
            Ok(other) => panic!("unknown claim {other:?}"),
        };
        let claimed = Instant::now();
        if self.crash_once.lock().unwrap().remove(key) {
            // The handler crashed before its effect: no complete, no release.
            return false;
        }
        *self.effects.lock().unwrap().entry(key.clone()).or_default() += 1;
        // Record done, retrying through outages while the lease still protects the claim.
        while claimed.elapsed() < self.store.lease() {
            match self.store.complete(key).await {
                Ok(()) => return true,
                Err(_) => {
                    self.store_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        let _ = token;
        panic!("could not record {key} done within the lease");
    }
}

/// 200 events, each delivered by two independent senders retrying until 2xx, a tenth of the
/// handlers crashing once; Redis is SIGKILLed and restarted, then paused for 1.5 s, mid-run.
/// Every event's effect happens exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_lost_nothing_done_twice_through_kill_restart_and_pause() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let server = Arc::new(Mutex::new(server));
    let url = server.lock().unwrap().url();
    let store = RedisDedupeStore::connect_with_timeout(&url, Duration::from_millis(300))
        .await
        .unwrap()
        .with_prefix("test:chaos:")
        .with_lease(Duration::from_secs(4));
    let keys: Vec<DedupeKey> = (0..200).map(|n| key(&format!("link_{n}"), n)).collect();
    let receiver = Arc::new(Receiver {
        store,
        effects: Mutex::new(HashMap::new()),
        crash_once: Mutex::new(keys.iter().step_by(10).cloned().collect()),
        store_errors: AtomicUsize::new(0),
    });

    let chaos = {
        let server = server.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(800));
            server.lock().unwrap().kill();
            std::thread::sleep(Duration::from_millis(300));
            server.lock().unwrap().restart();
            std::thread::sleep(Duration::from_millis(800));
            server.lock().unwrap().pause();
            std::thread::sleep(Duration::from_millis(1500));
            server.lock().unwrap().resume();
        })
    };

    let started = Instant::now();
    let mut senders = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        for _copy in 0..2 {
            let receiver = receiver.clone();
            let key = key.clone();
            senders.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(15 * n as u64)).await;
                while !receiver.deliver(&key).await {
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "{key} never delivered"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }));
        }
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    chaos.await.expect("chaos");

    let effects = receiver.effects.lock().unwrap();
    assert_eq!(effects.len(), 200, "every event was processed");
    let twice: Vec<_> = effects.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "processed more than once: {twice:?}");
    assert!(receiver.crash_once.lock().unwrap().is_empty());
    assert!(
        receiver.store_errors.load(Ordering::Relaxed) > 0,
        "the faults happened while deliveries were running"
    );
}

#[tokio::test]
async fn connect_errors_are_typed_bounded_and_do_not_leak_the_password() {
    // A peer that accepts the connection and never answers (held for the whole test).
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("redis://:s3cret-password@127.0.0.1:{port}/");
    let started = Instant::now();
    let err = RedisDedupeStore::connect_with_timeout(&url, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = format!("{err} {err:?}");
    assert!(!text.contains("s3cret-password"), "{text}");
    assert!(
        matches!(
            err,
            DedupeError::Redis {
                operation: "connect",
                ..
            }
        ),
        "{err:?}"
    );
}
