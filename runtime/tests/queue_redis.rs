//! The webhook queue (`WebhookQueue`, `Worker`) against a real `redis-server` started by the test:
//! per-link order across two workers, redeliveries skipped, a failing handler dead-lettered and
//! replayed, and a worker that dies mid-handler taken over after its lease.
#![cfg(all(feature = "redis-streams", feature = "test-util"))]

mod queue_events;
mod redis_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use passage_connect::queue::{QueueConfig, QueuedEvent, WebhookQueue, Worker, WorkerConfig};
use queue_events::{complete_body, failed_body, Signer};
use redis_support::RedisServer;

type Log = Arc<Mutex<Vec<(String, String, u64)>>>;

fn record(log: &Log, event: &QueuedEvent) {
    let link = event.event.link_event().unwrap();
    log.lock().unwrap().push((
        link.link_id.clone(),
        event.event.name().to_owned(),
        link.timestamp,
    ));
}

fn config(name: &str) -> QueueConfig {
    QueueConfig::new()
        .with_name(name)
        .with_partitions(4)
        .with_timeout(Duration::from_millis(500))
}

fn worker_config(consumer: &str) -> WorkerConfig {
    WorkerConfig::new("workers", consumer)
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .with_lease(Duration::from_millis(1500))
        .with_block(Duration::from_millis(100))
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_per_link_dedupe_dead_letter_and_replay() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let signer = Signer::new();
    let queue = WebhookQueue::connect(&server.url(), config("q1"))
        .await
        .unwrap();
    let log: Log = Arc::default();
    let poison_fails = Arc::new(AtomicBool::new(true));

    // Workers start first, so they share the partitions while the events arrive.
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut workers = Vec::new();
    let mut stats = Vec::new();
    for name in ["w1", "w2"] {
        let worker = Worker::connect(&server.url(), config("q1"), worker_config(name))
            .await
            .unwrap();
        stats.push(worker.stats());
        let (log, poison_fails, stop) = (log.clone(), poison_fails.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            worker
                .run(
                    move |event: Arc<QueuedEvent>| {
                        let (log, poison_fails) = (log.clone(), poison_fails.clone());
                        async move {
                            let link = event.event.link_event().unwrap();
                            if link.link_id == "link_poison" && poison_fails.load(Ordering::SeqCst)
                            {
                                return Err(format!("poison attempt {}", event.attempt));
                            }
                            // Slow enough that order would break if two workers shared a link.
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            record(&log, &event);
                            Ok(())
                        }
                    },
                    async move { stop.notified().await },
                )
                .await
        }));
    }

    let mut expected = 0;
    for n in 0..40u64 {
        let link = format!("link_{n}");
        queue
            .enqueue(&signer.verified(&failed_body(&link, 1_000 + n)).await)
            .await
            .unwrap();
        queue
            .enqueue(&signer.verified(&complete_body(&link, 2_000 + n)).await)
            .await
            .unwrap();
        expected += 2;
        if n % 4 == 0 {
            // Passage redelivers the same event (its first answer was lost).
            queue
                .enqueue(&signer.verified(&complete_body(&link, 2_000 + n)).await)
                .await
                .unwrap();
        }
    }
    queue
        .enqueue(&signer.verified(&complete_body("link_poison", 7)).await)
        .await
        .unwrap();

    wait_until("80 events and one dead letter", || {
        log.lock().unwrap().len() == expected
            && stats
                .iter()
                .map(|s| s.dead_lettered.load(Ordering::Relaxed))
                .sum::<u64>()
                == 1
    })
    .await;
    let duplicates: u64 = stats
        .iter()
        .map(|s| s.duplicates.load(Ordering::Relaxed))
        .sum();
    assert_eq!(duplicates, 10, "the ten redeliveries were skipped");
    let retried: u64 = stats
        .iter()
        .map(|s| s.retried.load(Ordering::Relaxed))
        .sum();
    assert_eq!(retried, 2, "three attempts: two retries");
    {
        let log = log.lock().unwrap();
        let mut per_link: HashMap<&str, Vec<&str>> = HashMap::new();
        for (link, event, _) in log.iter() {
            per_link.entry(link).or_default().push(event);
        }
        assert_eq!(per_link.len(), 40);
        for (link, events) in per_link {
            assert_eq!(events, ["link.failed", "link.complete"], "{link}");
        }
    }

    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].link_id, "link_poison");
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].error, "poison attempt 3");

    // Fixed: replay brings it back, handled once.
    poison_fails.store(false, Ordering::SeqCst);
    assert_eq!(queue.replay_all().await.unwrap(), 1);
    wait_until("the replayed event", || {
        log.lock().unwrap().len() == expected + 1
    })
    .await;
    assert!(queue.dead_letters(10).await.unwrap().is_empty());
    // An id that is not (or no longer) in the dead-letter stream replays nothing.
    assert_eq!(queue.replay("0-1").await.unwrap(), None);

    stop.notify_waiters();
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(10), worker)
            .await
            .expect("workers stop")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_dies_mid_handler_is_taken_over() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let signer = Signer::new();
    let queue = WebhookQueue::connect(&server.url(), config("q2").with_partitions(1))
        .await
        .unwrap();
    let log: Log = Arc::default();

    // Worker 1 hangs in the handler of the first event; it is aborted there (a crash: no ack,
    // no done record, no lease renewal).
    let entered = Arc::new(tokio::sync::Notify::new());
    let w1 = Worker::connect(
        &server.url(),
        config("q2").with_partitions(1),
        worker_config("w1"),
    )
    .await
    .unwrap();
    let dying = {
        let entered = entered.clone();
        tokio::spawn(async move {
            w1.run(
                move |_event: Arc<QueuedEvent>| {
                    let entered = entered.clone();
                    async move {
                        entered.notify_one();
                        std::future::pending::<Result<(), String>>().await
                    }
                },
                std::future::pending(),
            )
            .await
        })
    };
    for n in 0..5u64 {
        queue
            .enqueue(
                &signer
                    .verified(&complete_body(&format!("link_{n}"), n))
                    .await,
            )
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), entered.notified())
        .await
        .expect("worker 1 started a handler");
    let died_at = Instant::now();
    dying.abort();

    let w2 = Worker::connect(
        &server.url(),
        config("q2").with_partitions(1),
        worker_config("w2"),
    )
    .await
    .unwrap();
    let stats = w2.stats();
    let stop = Arc::new(tokio::sync::Notify::new());
    let runner = {
        let (log, stop) = (log.clone(), stop.clone());
        tokio::spawn(async move {
            w2.run(
                move |event: Arc<QueuedEvent>| {
                    let log = log.clone();
                    async move {
                        record(&log, &event);
                        Ok::<(), String>(())
                    }
                },
                async move { stop.notified().await },
            )
            .await
        })
    };
    wait_until("all five events", || log.lock().unwrap().len() == 5).await;
    // Taken over only once the dead worker's lease ran out.
    assert!(died_at.elapsed() >= Duration::from_millis(1000));
    let log = log.lock().unwrap().clone();
    let order: Vec<_> = log.iter().map(|(link, _, _)| link.as_str()).collect();
    assert_eq!(order, ["link_0", "link_1", "link_2", "link_3", "link_4"]);
    assert!(stats.reclaimed.load(Ordering::Relaxed) >= 1);
    stop.notify_waiters();
    runner.await.unwrap().unwrap();
}

/// A previous owner can leave entries pending after the new owner's takeover claim (it read them
/// just before noticing that its lease was gone, then failed): the new owner must still handle
/// them, before the newer entries of the same link, and also when no newer entry follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn entries_left_pending_on_another_consumer_after_a_takeover_are_handled_in_order() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let signer = Signer::new();
    let queue_config = || config("q3").with_partitions(1);
    let queue = WebhookQueue::connect(&server.url(), queue_config())
        .await
        .unwrap();
    let log: Log = Arc::default();

    // The worker's first handler waits until released: meanwhile it reads nothing.
    let entered = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let worker = Worker::connect(&server.url(), queue_config(), worker_config("w1"))
        .await
        .unwrap();
    let stop = Arc::new(tokio::sync::Notify::new());
    let runner = {
        let (log, entered, release, stop) =
            (log.clone(), entered.clone(), release.clone(), stop.clone());
        tokio::spawn(async move {
            worker
                .run(
                    move |event: Arc<QueuedEvent>| {
                        let (log, entered, release) =
                            (log.clone(), entered.clone(), release.clone());
                        async move {
                            if event
                                .event
                                .link_event()
                                .unwrap()
                                .link_id
                                .starts_with("link_block")
                            {
                                entered.notify_one();
                                release.acquire().await.unwrap().forget();
                            }
                            record(&log, &event);
                            Ok::<(), String>(())
                        }
                    },
                    async move { stop.notified().await },
                )
                .await
        })
    };
    queue
        .enqueue(&signer.verified(&failed_body("link_block1", 0)).await)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), entered.notified())
        .await
        .expect("the worker started link_block1's handler");

    // While the owner is busy, another consumer (a previous owner that has lost its lease)
    // reads link_b's first event and never acknowledges it; link_b's second event follows.
    queue
        .enqueue(&signer.verified(&failed_body("link_b", 1)).await)
        .await
        .unwrap();
    let mut conn = server.client();
    ghost_reads_one(&mut conn);
    queue
        .enqueue(&signer.verified(&complete_body("link_b", 2)).await)
        .await
        .unwrap();
    release.add_permits(1);

    wait_until("link_b's two events", || log.lock().unwrap().len() == 3).await;

    // The same with nothing after the stolen entry: the owner's periodic look at the
    // partition's pending entries finds it.
    queue
        .enqueue(&signer.verified(&failed_body("link_block2", 3)).await)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), entered.notified())
        .await
        .expect("the worker started link_block2's handler");
    queue
        .enqueue(&signer.verified(&failed_body("link_c", 4)).await)
        .await
        .unwrap();
    ghost_reads_one(&mut conn);
    release.add_permits(1);
    wait_until("link_c's event", || log.lock().unwrap().len() == 5).await;

    let order: Vec<_> = log
        .lock()
        .unwrap()
        .iter()
        .map(|(link, event, _)| format!("{link} {event}"))
        .collect();
    assert_eq!(
        order,
        [
            "link_block1 link.failed",
            "link_b link.failed",
            "link_b link.complete",
            "link_block2 link.failed",
            "link_c link.failed"
        ]
    );
    stop.notify_waiters();
    runner.await.unwrap().unwrap();
}

/// A consumer `ghost` of the workers' group reads one new entry of `q3:0` and never
/// acknowledges it.
fn ghost_reads_one(conn: &mut redis::Connection) {
    let stolen: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("ghost")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg("q3:0")
        .arg(">")
        .query(conn)
        .unwrap();
    assert_eq!(
        stolen.keys.iter().map(|k| k.ids.len()).sum::<usize>(),
        1,
        "the ghost consumer holds one entry"
    );
}
