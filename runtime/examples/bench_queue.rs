//! Throughput of the Redis Streams webhook queue against `redis-benchmark`'s XADD on the same
//! Redis, in the same run (issue 12.5; figures in BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p passage-connect --features redis-streams,test-util --example bench_queue -- [EVENTS]
//! ```
//!
//! Starts its own `redis-server` (127.0.0.1, a free port, no persistence) and measures:
//! 1. `redis-benchmark` XADD of a body of the same size, 16 clients (the ceiling);
//! 2. receiver: ES256 verify + `WebhookQueue::enqueue` on **one** thread (a current-thread
//!    runtime, 64 webhooks in flight), i.e. per receiver core, without the HTTP layer;
//! 3. worker: one `Worker` on one thread draining the queued events with a no-op handler (dedupe
//!    claim, done record and XACK per event; no link lookup).

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use passage_connect::queue::{QueueConfig, QueuedEvent, WebhookQueue, Worker, WorkerConfig};
use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{HeaderMap, StaticKeys, WebhookVerifier};

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    // redis-server cannot be handed a listener: take a free port and release it for redis.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    let _redis = Redis(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()?,
    );
    let url = format!("redis://127.0.0.1:{port}/");
    std::thread::sleep(Duration::from_millis(300));

    let key = WebhookSigningKey::generate();
    let verifier = WebhookVerifier::new(StaticKeys::from_pem("wsk_bench", &key.public_key_pem())?);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let bodies: Vec<(Vec<u8>, HeaderMap)> = (0..events)
        .map(|n| {
            let body = format!(
                r#"{{"event":"link.complete","linkId":"link_{n:08}","status":"complete","result":{{"billing":[{{"periodStart":"01/15/2025","amountDue":85.0,"currency":"USD"}}]}},"error":null,"timestamp":{}}}"#,
                1_704_067_200_000u64 + n as u64
            );
            let headers = sign_webhook(&key, "wsk_bench", body.as_bytes(), now).to_header_map();
            (body.into_bytes(), headers)
        })
        .collect();
    let body_len = bodies[0].0.len();

    // 1. The ceiling: redis-benchmark XADD of a same-size field.
    let payload = "x".repeat(body_len);
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &port.to_string(),
            "-n",
            &events.max(100_000).to_string(),
        ])
        .args([
            "-c",
            "16",
            "--csv",
            "XADD",
            "bench:xadd",
            "*",
            "body",
            &payload,
        ])
        .output()?;
    let csv = String::from_utf8_lossy(&out.stdout);
    let xadd_rps: f64 = csv
        .lines()
        .filter_map(|l| l.split(',').nth(1))
        .filter_map(|v| v.trim_matches('"').parse().ok())
        .next()
        .ok_or_else(|| format!("unexpected redis-benchmark output: {csv}"))?;

    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = QueueConfig::new().with_name("bench");

    // 2. Receiver core: verify + enqueue, 64 in flight.
    let (receiver_rps, cpu_receiver) = one_thread.block_on(async {
        let queue = WebhookQueue::connect(&url, config.clone()).await?;
        let bodies = Arc::new(bodies);
        let cpu0 = cpu_seconds();
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for lane in 0..64 {
            let (queue, verifier, bodies) = (queue.clone(), verifier.clone(), bodies.clone());
            tasks.spawn(async move {
                let mut n = lane;
                while n < bodies.len() {
                    let (body, headers) = &bodies[n];
                    let verified = verifier.verify(headers, body).await.expect("verify");
                    queue.enqueue(&verified).await.expect("enqueue");
                    n += 64;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        Ok::<_, Box<dyn std::error::Error>>((events as f64 / elapsed, cpu_seconds() - cpu0))
    })?;

    // 3. One worker on one thread drains them.
    let (worker_rps, cpu_worker) = one_thread.block_on(async {
        let worker = Worker::connect(
            &url,
            config.clone(),
            WorkerConfig::new("bench", "w1").with_block(Duration::from_millis(50)),
        )
        .await?;
        let stats = worker.stats();
        let cpu0 = cpu_seconds();
        let started = Instant::now();
        let watch = stats.clone();
        worker
            .run(
                |_event: Arc<QueuedEvent>| async { Ok::<(), String>(()) },
                async move {
                    while watch.processed.load(Ordering::Relaxed) < events as u64 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                },
            )
            .await?;
        let elapsed = started.elapsed().as_secs_f64();
        Ok::<_, Box<dyn std::error::Error>>((
            stats.processed.load(Ordering::Relaxed) as f64 / elapsed,
            cpu_seconds() - cpu0,
        ))
    })?;

    println!("events: {events}, body: {body_len} bytes");
    println!("redis-benchmark XADD (16 clients): {xadd_rps:.0}/s");
    println!(
        "receiver, verify + enqueue on one thread: {receiver_rps:.0}/s ({:.2}x of XADD), {:.0}/s per CPU-second",
        receiver_rps / xadd_rps,
        events as f64 / cpu_receiver.max(1e-9)
    );
    println!(
        "worker, one on one thread (claim, done, XACK): {worker_rps:.0}/s ({:.2}x of XADD), {:.0}/s per CPU-second",
        worker_rps / xadd_rps,
        events as f64 / cpu_worker.max(1e-9)
    );
    Ok(())
}

/// CPU time of this process (user + system), from /proc/self/stat; 0 where unavailable.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}
