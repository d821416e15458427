//! The queue's promises with handlers slower than the lease, at shutdown, and over time, against
//! a real `redis-server` started by the test:
//!
//! * a handler that outlives the partition lease keeps it (a heartbeat renews the lease and the
//!   event's claim while it runs): no event runs in two workers at once, none runs twice, per-link
//!   order holds;
//! * a worker that stops hands its partitions back and leaves the registry, so a worker started
//!   after it takes every partition at once;
//! * acknowledged entries are trimmed after the retention, the dead-letter stream is capped.
#![cfg(all(feature = "redis-streams", feature = "test-util"))]

mod queue_events;
mod redis_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use passage_connect::queue::{QueueConfig, QueuedEvent, WebhookQueue, Worker, WorkerConfig};
use queue_events::{complete_body, failed_body, Signer};
use redis::Commands as _;
use redis_support::RedisServer;

/// What the handlers saw: every start and end, and events running right now.
#[derive(Default)]
struct Journal {
    /// `(link, event, worker)` in the order handlers finished.
    done: Vec<(String, String, String)>,
    /// Events with a handler running: event -> worker.
    running: HashMap<String, String>,
    /// Events that started while already running in another worker.
    overlaps: Vec<String>,
}

type Shared = Arc<Mutex<Journal>>;

fn event_id(event: &QueuedEvent) -> (String, String) {
    let link = event.event.link_event().unwrap();
    (link.link_id.clone(), event.event.name().to_owned())
}

async fn slow_handler(
    journal: Shared,
    worker: String,
    event: Arc<QueuedEvent>,
    pause: Duration,
) -> Result<(), String> {
    let (link, name) = event_id(&event);
    let id = format!("{link} {name}");
    {
        let mut j = journal.lock().unwrap();
        if let Some(other) = j.running.insert(id.clone(), worker.clone()) {
            j.overlaps.push(format!("{id}: {other} and {worker}"));
        }
    }
    tokio::time::sleep(pause).await;
    let mut j = journal.lock().unwrap();
    j.running.remove(&id);
    j.done.push((link, name, worker));
    Ok(())
}

fn queue_config(name: &str, partitions: u16) -> QueueConfig {
    QueueConfig::new()
        .with_name(name)
        .with_partitions(partitions)
        .with_timeout(Duration::from_millis(500))
}

/// How far this machine is behind: a busy runner stretches every sleep, so deadlines scale.
fn load_factor() -> u32 {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(1.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (load / cores).ceil().clamp(1.0, 8.0) as u32
}

async fn wait_until(what: &str, deadline: Duration, mut state: impl FnMut() -> Option<String>) {
    let until = Instant::now() + deadline;
    loop {
        match state() {
            None => return,
            Some(report) if Instant::now() >= until => {
                panic!("timed out after {deadline:?} waiting for {what}; state: {report}")
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// A handler three times as long as the lease. Before the heartbeat, the lease lapsed mid-handler,
/// the other worker took the partition over, reclaimed the entry and ran it again once the
/// event's claim (set once, for one lease) ran out: the same event in two workers at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handlers_slower_than_the_lease_never_run_twice_or_out_of_order() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let signer = Signer::new();
    let name = "slow";
    let partitions = 2;
    let lease = Duration::from_millis(600);
    let pause = Duration::from_millis(1800);
    let links = 4u64;
    let queue = WebhookQueue::connect(&server.url(), queue_config(name, partitions))
        .await
        .unwrap();
    let journal: Shared = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut runners = Vec::new();
    for worker in ["w1", "w2"] {
        let config = WorkerConfig::new("workers", worker)
            .with_max_attempts(2)
            .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
            .with_lease(lease)
            .with_block(Duration::from_millis(100));
        let w = Worker::connect(&server.url(), queue_config(name, partitions), config)
            .await
            .unwrap();
        let (journal, stop) = (journal.clone(), stop.clone());
        let worker = worker.to_owned();
        runners.push(tokio::spawn(async move {
            w.run(
                move |event| slow_handler(journal.clone(), worker.clone(), event, pause),
                async move { stop.notified().await },
            )
            .await
        }));
    }
    for n in 0..links {
        let link = format!("link_{n}");
        let failed = signer.verified(&failed_body(&link, 1_000 + n)).await;
        queue.enqueue(&failed).await.unwrap();
        let complete = signer.verified(&complete_body(&link, 2_000 + n)).await;
        queue.enqueue(&complete).await.unwrap();
    }
    let expected = usize::try_from(links * 2).unwrap();
    // Sequential per partition: the events of the busiest partition one after another, with
    // room for the machine's load.
    let deadline =
        (pause * u32::try_from(expected).unwrap() + Duration::from_secs(10)) * load_factor();
    wait_until("every event handled", deadline, || {
        let j = journal.lock().unwrap();
        (j.done.len() < expected).then(|| {
            format!(
                "{} of {expected} done, running {:?}, overlaps {:?}",
                j.done.len(),
                j.running,
                j.overlaps
            )
        })
    })
    .await;
    // Long enough for a lapsed lease to be taken over and the entry run again.
    tokio::time::sleep(lease * 4).await;
    stop.notify_waiters();
    for runner in runners {
        runner.await.unwrap().unwrap();
    }
    let j = journal.lock().unwrap();
    assert!(
        j.overlaps.is_empty(),
        "ran in two workers at once: {:?}",
        j.overlaps
    );
    assert_eq!(
        j.done.len(),
        expected,
        "each event once, no duplicates: {:?}",
        j.done
    );
    for n in 0..links {
        let link = format!("link_{n}");
        let order: Vec<&str> = j
            .done
            .iter()
            .filter(|(l, _, _)| *l == link)
            .map(|(_, e, _)| e.as_str())
            .collect();
        assert_eq!(order, ["link.failed", "link.complete"], "order of {link}");
    }
}

/// A worker that stops (the shutdown future, what SIGTERM triggers in the CLI) finishes the
/// entry in flight, hands its partitions back and leaves the registry: a worker started right
/// after takes all partitions at once instead of waiting for the stopped one's registration to
/// run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_worker_hands_everything_back_at_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let signer = Signer::new();
    let name = "drain";
    let partitions = 8u16;
    let lease = Duration::from_secs(20);
    let queue = WebhookQueue::connect(&server.url(), queue_config(name, partitions))
        .await
        .unwrap();
    let journal: Shared = Arc::default();
    let config = |worker: &str| {
        WorkerConfig::new("workers", worker)
            .with_lease(lease)
            .with_block(Duration::from_millis(100))
    };
    let first = Worker::connect(
        &server.url(),
        queue_config(name, partitions),
        config("first"),
    )
    .await
    .unwrap();
    let stop_first = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let runner = {
        let (journal, stop, entered) = (journal.clone(), stop_first.clone(), entered.clone());
        tokio::spawn(async move {
            first
                .run(
                    move |event| {
                        let (journal, entered) = (journal.clone(), entered.clone());
                        async move {
                            entered.notify_one();
                            slow_handler(journal, "first".into(), event, Duration::from_millis(500))
                                .await
                        }
                    },
                    async move { stop.notified().await },
                )
                .await
        })
    };
    for n in 0..16u64 {
        let body = complete_body(&format!("link_{n}"), n);
        queue.enqueue(&signer.verified(&body).await).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10) * load_factor(), entered.notified())
        .await
        .expect("the first worker started a handler");
    stop_first.notify_one();
    runner.await.unwrap().unwrap();
    let finished_by_first = journal.lock().unwrap().done.len();
    assert!(
        finished_by_first >= 1,
        "the entry in flight was finished before stopping"
    );
    assert!(journal.lock().unwrap().running.is_empty());

    let mut redis = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let live: Vec<String> = redis.zrange(format!("{name}:workers"), 0, -1).unwrap();
    assert!(
        live.is_empty(),
        "the stopped worker left the registry: {live:?}"
    );

    let second = Worker::connect(
        &server.url(),
        queue_config(name, partitions),
        config("second"),
    )
    .await
    .unwrap();
    let stop_second = Arc::new(tokio::sync::Notify::new());
    let started = Instant::now();
    let runner = {
        let (journal, stop) = (journal.clone(), stop_second.clone());
        tokio::spawn(async move {
            second
                .run(
                    move |event| {
                        slow_handler(journal.clone(), "second".into(), event, Duration::ZERO)
                    },
                    async move { stop.notified().await },
                )
                .await
        })
    };
    wait_until(
        "the second worker to own all partitions",
        Duration::from_secs(2) * load_factor(),
        || {
            let owners: Vec<Option<String>> = (0..partitions)
                .map(|p| redis.get(format!("{name}:owner:{p}")).unwrap())
                .collect();
            let mine = owners
                .iter()
                .filter(|o| o.as_deref() == Some("second"))
                .count();
            (mine < usize::from(partitions)).then(|| format!("owners {owners:?}"))
        },
    )
    .await;
    assert!(started.elapsed() < lease / 2);
    wait_until(
        "all 16 events",
        Duration::from_secs(10) * load_factor(),
        || {
            let j = journal.lock().unwrap();
            (j.done.len() < 16).then(|| format!("{} done", j.done.len()))
        },
    )
    .await;
    stop_second.notify_one();
    runner.await.unwrap().unwrap();
    let j = journal.lock().unwrap();
    assert_eq!(j.done.len(), 16, "no event twice: {:?}", j.done);
}

/// Acknowledged entries older than the retention leave the partition streams; the dead-letter
/// stream keeps at most its cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_entries_are_trimmed_and_dead_letters_capped() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let signer = Signer::new();
    let name = "trim";
    let partitions = 2u16;
    let queue = WebhookQueue::connect(&server.url(), queue_config(name, partitions))
        .await
        .unwrap();
    let config = WorkerConfig::new("workers", "w")
        .with_lease(Duration::from_millis(900))
        .with_max_attempts(1)
        .with_block(Duration::from_millis(100))
        .with_retention(Duration::from_millis(200))
        .with_dead_letter_cap(5);
    let worker = Worker::connect(&server.url(), queue_config(name, partitions), config)
        .await
        .unwrap();
    let stats = worker.stats();
    let stop = Arc::new(tokio::sync::Notify::new());
    let runner = {
        let stop = stop.clone();
        tokio::spawn(async move {
            worker
                .run(
                    |event: Arc<QueuedEvent>| async move {
                        let (link, _) = event_id(&event);
                        if link.starts_with("poison") {
                            Err("refused".to_owned())
                        } else {
                            Ok(())
                        }
                    },
                    async move { stop.notified().await },
                )
                .await
        })
    };
    for n in 0..40u64 {
        let body = complete_body(&format!("link_{n}"), n);
        queue.enqueue(&signer.verified(&body).await).await.unwrap();
    }
    for n in 0..12u64 {
        let body = complete_body(&format!("poison_{n}"), n);
        queue.enqueue(&signer.verified(&body).await).await.unwrap();
    }
    let mut redis = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    wait_until(
        "the partition streams trimmed",
        Duration::from_secs(10) * load_factor(),
        || {
            let lengths: Vec<usize> = (0..partitions)
                .map(|p| redis.xlen(format!("{name}:{p}")).unwrap())
                .collect();
            let handled = stats.processed.load(std::sync::atomic::Ordering::Relaxed)
                + stats
                    .dead_lettered
                    .load(std::sync::atomic::Ordering::Relaxed);
            (handled < 52 || lengths.iter().sum::<usize>() > 0)
                .then(|| format!("handled {handled} of 52, stream lengths {lengths:?}"))
        },
    )
    .await;
    let dead: usize = redis.xlen(format!("{name}:dead")).unwrap();
    assert_eq!(
        dead, 5,
        "the dead-letter stream is capped at 5 (12 dead-lettered)"
    );
    stop.notify_one();
    runner.await.unwrap().unwrap();
}

/// A blocking `XREADGROUP` that the worker gave up on (its client-side timeout fired while Redis
/// was slow, e.g. just after a restart) stays blocked in Redis: the next entry to arrive is
/// delivered into the worker's own pending list, and the reply is thrown away. Seen in the soak
/// test: such an entry was never handled by its worker (its partition's stream was never trimmed
/// past it) or was handled only after a later event of its link, by the next owner. Here the
/// stray delivery is made by hand, while the worker is busy with another entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_entry_stranded_in_the_workers_own_pending_list_is_handled_in_order() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let signer = Signer::new();
    let name = "stray";
    let queue = WebhookQueue::connect(&server.url(), queue_config(name, 1))
        .await
        .unwrap();
    let journal: Shared = Arc::default();
    let config = WorkerConfig::new("workers", "w1")
        .with_lease(Duration::from_secs(3))
        .with_block(Duration::from_millis(100));
    let worker = Worker::connect(&server.url(), queue_config(name, 1), config)
        .await
        .unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let stop = Arc::new(tokio::sync::Notify::new());
    let runner = {
        let (journal, gate, stop) = (journal.clone(), gate.clone(), stop.clone());
        tokio::spawn(async move {
            worker
                .run(
                    move |event| {
                        let (journal, gate) = (journal.clone(), gate.clone());
                        async move {
                            if event_id(&event).0.starts_with("link_gate") {
                                // Holds the worker in this entry until the stray one is in place.
                                gate.acquire().await.unwrap().forget();
                            }
                            slow_handler(journal, "w1".into(), event, Duration::ZERO).await
                        }
                    },
                    async move { stop.notified().await },
                )
                .await
        })
    };
    let gate_body = complete_body("link_gate", 1);
    queue
        .enqueue(&signer.verified(&gate_body).await)
        .await
        .unwrap();
    let deadline = Duration::from_secs(10) * load_factor();
    let mut redis = server.client();
    let stream = queue.config().stream(0);
    wait_until("the gate entry read by w1", deadline, || {
        let pending = pending_count(&mut redis, &stream);
        (pending == 0).then(|| "nothing pending yet".to_owned())
    })
    .await;
    // The abandoned read's delivery: link_x's link.failed lands in w1's pending list, unseen.
    let failed = signer.verified(&failed_body("link_x", 10)).await;
    queue.enqueue(&failed).await.unwrap();
    let stray = strand_next_entry(&mut redis, &stream);
    assert_eq!(stray, 1, "the stray delivery");
    let complete = signer.verified(&complete_body("link_x", 20)).await;
    queue.enqueue(&complete).await.unwrap();
    gate.add_permits(1);

    wait_until("both events of link_x handled", deadline, || {
        let j = journal.lock().unwrap();
        let pending = pending_count(&mut redis, &stream);
        (j.done.len() < 3).then(|| format!("done {:?}; pending in the group: {}", j.done, pending))
    })
    .await;

    // A stranded entry with nothing after it: found between batches, not left until (or after)
    // the partition's next entry.
    let gate_body = complete_body("link_gate_2", 2);
    queue
        .enqueue(&signer.verified(&gate_body).await)
        .await
        .unwrap();
    wait_until("the second gate entry read by w1", deadline, || {
        let pending = pending_count(&mut redis, &stream);
        (pending == 0).then(|| "nothing pending yet".to_owned())
    })
    .await;
    let failed = signer.verified(&failed_body("link_y", 30)).await;
    queue.enqueue(&failed).await.unwrap();
    let stray = strand_next_entry(&mut redis, &stream);
    assert_eq!(stray, 1, "the second stray delivery");
    gate.add_permits(1);
    wait_until("link_y's stranded event handled", deadline, || {
        let j = journal.lock().unwrap();
        let pending = pending_count(&mut redis, &stream);
        (!j.done.iter().any(|(link, _, _)| link == "link_y"))
            .then(|| format!("done {:?}; pending in the group: {}", j.done, pending))
    })
    .await;
    stop.notify_waiters();
    runner.await.unwrap().unwrap();
    let j = journal.lock().unwrap();
    let order: Vec<&str> = j
        .done
        .iter()
        .filter(|(link, _, _)| link == "link_x")
        .map(|(_, event, _)| event.as_str())
        .collect();
    assert_eq!(order, ["link.failed", "link.complete"], "{:?}", j.done);
}

/// Entries pending in the `workers` group of `stream`.
fn pending_count(redis: &mut redis::Connection, stream: &str) -> usize {
    let pending: redis::streams::StreamPendingReply = redis.xpending(stream, "workers").unwrap();
    pending.count()
}

/// What a blocking read the worker gave up on does: the next new entry of `stream` is delivered
/// to w1 (into its pending list) and nobody sees the reply. Returns how many streams answered.
fn strand_next_entry(redis: &mut redis::Connection, stream: &str) -> usize {
    let reply: redis::streams::StreamReadReply = redis
        .xread_options(
            &[stream],
            &[">"],
            &redis::streams::StreamReadOptions::default()
                .group("workers", "w1")
                .count(1),
        )
        .unwrap();
    reply.keys.len()
}
