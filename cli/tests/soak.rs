//! The soak test of issue 18: the whole webhook pipeline as processes, under every fault at once.
//!
//! The emulator sends signed webhooks on Passage's schedule (at once, after 1 s, after 5 s, then
//! dropped) to two `passage webhook receive` processes; three `passage webhook work` processes run
//! a handler that takes 0 to 2 s; `passage webhook reconcile --every 2` goes back for what was
//! dropped. 90 links complete over about 36 s, a third of them failing first. Meanwhile: a
//! stranger floods receiver 1 with random key ids at 20 requests/s, the signing key rotates (so a
//! new key must be fetched during the flood), receiver 2 is down for 15 s (its webhooks are
//! dropped by the emulator), Redis is SIGKILLed and restarted, and a worker is SIGKILLed while a
//! handler runs.
//!
//! Asserted: every link's final event (`link.complete`) handled; per-link order (a handled
//! `link.failed` ended before its `link.complete` started); no event run by two workers at once;
//! duplicate runs only from the killed worker (bound: the partitions it owned); handlers never see
//! `PASSAGE_API_KEY`; every webhook sent to the flooded receiver accepted; the reconciler handled
//! at least one dropped event; the partition streams trimmed to nothing once the retention passed.

mod queue_support;
#[path = "../../runtime/tests/redis_support/mod.rs"]
mod redis_support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use passage_connect::client::{ApiKey, Client};
use passage_mock::{MockConfig, MockServer};
use queue_support::{
    free_port, load_factor, log_tails, queue_state, stream_length, tail, temp_dir, Children, BIN,
};
use redis_support::RedisServer;
use sha2::{Digest as _, Sha256};

const PARTITIONS: u16 = 4;
const STREAM: &str = "soak";
const LINKS: usize = 90;
/// Every third link fails first, then completes.
const FAIL_FIRST_EVERY: usize = 3;
const LINK_PACE: Duration = Duration::from_millis(400);
const LEASE_MS: &str = "3000";
const RETENTION_MS: &str = "2000";

/// The handler: logs `start|end <unix ms> <worker> <event> <link> <reconciled> <key>` around a
/// sleep of 0 to 2 s chosen from the event and link (so a rerun sleeps as long); `<key>` says
/// whether `PASSAGE_API_KEY` reached it.
fn handler_script(log: &Path) -> Vec<String> {
    let script = format!(
        r#"doc=$(cat)
field() {{ v=${{doc#*\"$1\":\"}}; [ "$v" = "$doc" ] && v=-; printf '%s' "${{v%%\"*}}"; }}
ev=$(field event); link=$(field linkId)
rec=no
case "$doc" in *'"reconciled":true'*) rec=yes;; esac
key=unset
[ -n "${{PASSAGE_API_KEY:-}}" ] && key=set
ms=$(( $(printf '%s' "$ev$link" | cksum | cut -d' ' -f1) % 2000 ))
echo "start $(date +%s%3N) $PASSAGE_TEST_WORKER $ev $link $rec $key" >> '{log}'
sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
echo "end $(date +%s%3N) $PASSAGE_TEST_WORKER $ev $link $rec $key" >> '{log}'
"#,
        log = log.display(),
    );
    vec!["sh".into(), "-c".into(), script]
}

/// One line of the handler log.
#[derive(Debug, Clone)]
struct Line {
    end: bool,
    at: u64,
    worker: String,
    event: String,
    link: String,
    reconciled: bool,
    key_seen: bool,
}

fn read_log(log: &Path) -> Vec<Line> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            (f.len() == 7).then(|| Line {
                end: f[0] == "end",
                at: f[1].parse().unwrap_or(0),
                worker: f[2].to_owned(),
                event: f[3].to_owned(),
                link: f[4].to_owned(),
                reconciled: f[5] == "yes",
                key_seen: f[6] == "set",
            })
        })
        .collect()
}

/// Events with at least one finished run.
fn handled(lines: &[Line]) -> HashSet<(String, String)> {
    lines
        .iter()
        .filter(|l| l.end)
        .map(|l| (l.event.clone(), l.link.clone()))
        .collect()
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A request a stranger can make without any key: a well-formed ES256 token with a random key
/// id, a correct body hash and a fresh `iat` (everything but the signature checks out), so the
/// receiver can only refuse it after looking the key id up.
fn forged_request(n: u64) -> (String, String, String) {
    let body = format!(
        r#"{{"event":"link.complete","linkId":"link_forged_{n}","status":"complete","result":{{}},"error":null,"timestamp":{n}}}"#
    );
    let kid: String = (0..16)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"ES256","typ":"JWT","kid":"wsk_{kid}"}}"#
    ));
    let iat = unix_secs();
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"request_body_sha256":"{}","iat":{iat}}}"#,
        hex::encode(Sha256::digest(body.as_bytes()))
    ));
    let signature = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>().repeat(2));
    (
        body,
        format!("{header}.{claims}.{signature}"),
        iat.to_string(),
    )
}

/// Floods `url` at 20 requests/s until `stop`; counts the answers by status (0: no answer).
fn flood(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<BTreeMap<u16, u64>> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let mut n = 0u64;
        let mut sent = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            n += 1;
            let (body, signature, stamp) = forged_request(n);
            let request = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-passage-signature", signature)
                .header("x-passage-timestamp", stamp)
                .body(body);
            let counts = counts.clone();
            sent.push(tokio::spawn(async move {
                let status = request.send().await.map_or(0, |r| r.status().as_u16());
                *counts.lock().unwrap().entry(status).or_insert(0) += 1;
            }));
        }
        for request in sent {
            let _ = request.await;
        }
        let counts = counts.lock().unwrap().clone();
        counts
    })
}

/// One run of the handler: `[start, end]` in Unix ms.
#[derive(Debug)]
struct Run {
    worker: String,
    event: String,
    link: String,
    start: u64,
    end: u64,
}

/// Every handler run; a run whose `end` never came (its worker was killed, or its handler
/// stopped) counts as running for the longest handler time.
fn runs(lines: &[Line]) -> Vec<Run> {
    let mut open: HashMap<(String, String, String), Vec<u64>> = HashMap::new();
    let mut runs = Vec::new();
    for line in lines {
        let id = (line.worker.clone(), line.event.clone(), line.link.clone());
        if line.end {
            if let Some(start) = open.get_mut(&id).and_then(Vec::pop) {
                let (worker, event, link) = id;
                runs.push(Run {
                    worker,
                    event,
                    link,
                    start,
                    end: line.at,
                });
            }
        } else {
            open.entry(id).or_default().push(line.at);
        }
    }
    for ((worker, event, link), starts) in open {
        for start in starts {
            runs.push(Run {
                worker: worker.clone(),
                event: event.clone(),
                link: link.clone(),
                start,
                end: start + 2_000,
            });
        }
    }
    runs
}

// Was quarantined after failing in 2 of 6 runs (an order violation; 23 entries never trimmed).
// Both came from one mechanism, now fixed and tested on its own
// (`runtime/tests/queue_lease.rs`, `an_entry_stranded_in_the_workers_own_pending_list_...`): a
// blocking read the worker had given up on delivered an entry into its own pending list, where
// nothing looked for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_every_fault_at_once_loses_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let started = Instant::now();
    let load = load_factor();
    let mock = MockServer::start(
        MockConfig::default()
            // Passage's schedule (the default: at once, 1 s, 5 s), kept explicit.
            .with_webhook_retry_delays(vec![Duration::from_secs(1), Duration::from_secs(5)])
            .with_delivery_log_limits(10_000, 512),
    )
    .await
    .expect("emulator");
    let mock = Arc::new(mock);
    let base = mock.base_url();
    let redis = server.url();
    let partitions = PARTITIONS.to_string();
    let dir = temp_dir("soak");
    let log = dir.path().join("handled.log");
    let handler = handler_script(&log);

    let mut receivers = Children::default();
    let url_1 = queue_support::start_receiver(
        &mut receivers,
        "127.0.0.1:0",
        &redis,
        STREAM,
        &partitions,
        &base,
    );
    let addr_2 = format!("127.0.0.1:{}", free_port());
    let url_2 =
        queue_support::start_receiver(&mut receivers, &addr_2, &redis, STREAM, &partitions, &base);
    let names = ["w1", "w2", "w3"];
    let flags = [
        "--lease-ms",
        LEASE_MS,
        "--retention-ms",
        RETENTION_MS,
        "--max-attempts",
        "5",
        "--backoff-ms",
        "100",
    ];
    let mut workers = Children::default();
    for name in names {
        let queue = queue_support::Queue {
            redis: &redis,
            stream: STREAM,
            partitions: &partitions,
        };
        workers.0.push(queue_support::start_worker(
            queue,
            name,
            &base,
            &flags,
            &handler,
            dir.path(),
        ));
    }
    let reconciler_log = dir.path().join("reconcile.log");
    let mut reconciler = Children::default();
    reconciler.0.push(
        Command::new(BIN)
            .args([
                "webhook",
                "reconcile",
                "--redis",
                &redis,
                "--stream",
                STREAM,
            ])
            .args([
                "--partitions",
                &partitions,
                "--every",
                "2",
                "--base-url",
                &base,
            ])
            .env("PASSAGE_API_KEY", "psg_test_mock")
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(dir.path().join("reconcile.out")).unwrap())
            .stderr(std::fs::File::create(&reconciler_log).unwrap())
            .spawn()
            .expect("spawn passage webhook reconcile"),
    );

    // The stranger starts before the first genuine webhook: the receivers have no key cached.
    let stop_flood = Arc::new(AtomicBool::new(false));
    let flooding = flood(url_1.clone(), stop_flood.clone());

    let client = Client::builder(ApiKey::new("psg_test_mock"))
        .base_url(base.clone())
        .build()
        .unwrap();
    let mut links = Vec::new();
    for n in 0..LINKS {
        let link = client
            .links()
            .create("tmobile")
            .operation("mobileBillingStatement", "read")
            .webhook_url(if n % 2 == 0 { &url_1 } else { &url_2 })
            .send()
            .await
            .expect("create link");
        links.push(link.id);
    }

    // The links end one after another; faults are injected on the way.
    let server = Arc::new(Mutex::new(server));
    let mut notes = Vec::new();
    let mut receiver_2_down_at = None;
    let mut victim = None;
    let run_started = Instant::now();
    for (n, link) in links.iter().enumerate() {
        let at = run_started.elapsed();
        if n % FAIL_FIRST_EVERY == 0 {
            mock.fail_link(link, "AUTOMATION_ERROR", "soak failure")
                .await
                .expect("fail link");
            let (mock, link) = (mock.clone(), link.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                mock.complete_link(&link, None).await.expect("complete");
            });
        } else {
            mock.complete_link(link, None).await.expect("complete link");
        }
        if n == 15 {
            let kid = mock.rotate_signing_key();
            notes.push(format!("{at:.1?}: signing key rotated to {kid}"));
        }
        if n == 20 {
            // Receiver 2 down: SIGKILL, restarted on the same port 15 s later.
            let child = &mut receivers.0[1];
            child.kill().unwrap();
            child.wait().unwrap();
            receiver_2_down_at = Some(Instant::now());
            notes.push(format!("{at:.1?}: receiver 2 killed"));
        }
        if let Some(down) = receiver_2_down_at {
            if down.elapsed() >= Duration::from_secs(15) {
                receiver_2_down_at = None;
                queue_support::start_receiver(
                    &mut receivers,
                    &addr_2,
                    &redis,
                    STREAM,
                    &partitions,
                    &base,
                );
                notes.push(format!("{at:.1?}: receiver 2 back after 15 s"));
            }
        }
        if n == 40 {
            let mut s = server.lock().unwrap();
            s.kill();
            s.restart();
            notes.push(format!("{at:.1?}: Redis SIGKILLed and restarted"));
        }
        if n == 60 {
            // A worker with a handler running (a `start` without its `end`).
            let mut open: HashMap<(String, String, String), i64> = HashMap::new();
            for l in read_log(&log) {
                *open
                    .entry((l.worker.clone(), l.event.clone(), l.link.clone()))
                    .or_default() += if l.end { -1 } else { 1 };
            }
            let running = open
                .into_iter()
                .find(|(_, n)| *n > 0)
                .map_or_else(|| "w1".to_owned(), |((worker, _, _), _)| worker);
            let index = names.iter().position(|n| *n == running).unwrap_or(0);
            let owned = {
                let mut conn = server.lock().unwrap().client();
                (0..PARTITIONS)
                    .filter(|p| {
                        redis::cmd("GET")
                            .arg(format!("{STREAM}:owner:{p}"))
                            .query::<Option<String>>(&mut conn)
                            .ok()
                            .flatten()
                            .as_deref()
                            == Some(running.as_str())
                    })
                    .count()
            };
            workers.0[index].kill().unwrap();
            workers.0[index].wait().unwrap();
            notes.push(format!(
                "{at:.1?}: worker {running} SIGKILLed owning {owned} partition(s)"
            ));
            victim = Some((running, owned));
        }
        tokio::time::sleep(LINK_PACE).await;
    }
    if let Some(down) = receiver_2_down_at {
        tokio::time::sleep(Duration::from_secs(15).saturating_sub(down.elapsed())).await;
        queue_support::start_receiver(&mut receivers, &addr_2, &redis, STREAM, &partitions, &base);
        notes.push("receiver 2 back after 15 s (after the last link)".to_owned());
    }

    // Deadline: the handlers' total time spread over the partitions (each runs its entries one
    // after another), the reconciler's grace and interval, a lease, and slack; times the load.
    let handler_ms: u64 = links
        .iter()
        .map(|l| {
            let ms = |ev: &str| {
                let text = format!("{ev}{l}");
                u64::from(cksum(text.as_bytes()) % 2000)
            };
            ms("link.complete") + ms("link.failed")
        })
        .sum();
    let budget =
        Duration::from_millis(handler_ms / u64::from(PARTITIONS) * 2) + Duration::from_secs(60);
    let deadline = Instant::now() + budget * load;
    let finals: Vec<(String, String)> = links
        .iter()
        .map(|l| ("link.complete".to_owned(), l.clone()))
        .collect();
    loop {
        let done = handled(&read_log(&log));
        let missing: Vec<&(String, String)> =
            finals.iter().filter(|f| !done.contains(*f)).collect();
        if missing.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let deliveries = mock.webhook_deliveries();
            let history: Vec<String> = missing
                .iter()
                .take(8)
                .map(|(event, link)| {
                    let tries: Vec<String> = deliveries
                        .iter()
                        .filter(|d| &d.link_id == link)
                        .map(|d| {
                            format!(
                                "{} #{} {:?} at {}",
                                d.event, d.attempt, d.outcome, d.sent_at
                            )
                        })
                        .collect();
                    let runs: Vec<String> = read_log(&log)
                        .iter()
                        .filter(|l| &l.link == link)
                        .map(|l| format!("{l:?}"))
                        .collect();
                    format!(
                        "{event} {link} (partition {}): deliveries {tries:?}; handler {runs:?}",
                        passage_connect::queue::partition_of(link, PARTITIONS)
                    )
                })
                .collect();
            let worker_logs = log_tails(dir.path(), &names, 15);
            panic!(
                "timed out after {:.0?} (budget {budget:?} x load {load}): {} of {LINKS} final events missing:\n  {}\nfaults: {notes:?}\nqueue:{}\n--- reconciler:\n{}\n{}",
                started.elapsed(),
                missing.len(),
                history.join("\n  "),
                queue_state(&server.lock().unwrap(), STREAM, PARTITIONS),
                tail(&reconciler_log, 15),
                worker_logs
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop_flood.store(true, Ordering::Relaxed);
    let flood_counts = flooding.await.unwrap();

    // Trimming: acknowledged entries leave the streams once the retention passed.
    let trim_deadline = Instant::now() + Duration::from_secs(20) * load;
    let mut length = stream_length(&server.lock().unwrap(), STREAM, PARTITIONS);
    while length != 0 && Instant::now() < trim_deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        length = stream_length(&server.lock().unwrap(), STREAM, PARTITIONS);
    }

    let lines = read_log(&log);
    let all_runs = runs(&lines);
    // No event in two workers at once.
    let mut by_event: HashMap<(&str, &str), Vec<&Run>> = HashMap::new();
    for run in &all_runs {
        by_event
            .entry((run.event.as_str(), run.link.as_str()))
            .or_default()
            .push(run);
    }
    let mut overlaps = Vec::new();
    for (event, runs) in &by_event {
        for (i, a) in runs.iter().enumerate() {
            for b in &runs[i + 1..] {
                if a.worker != b.worker && a.start < b.end && b.start < a.end {
                    overlaps.push(format!("{event:?}: {a:?} and {b:?}"));
                }
            }
        }
    }
    // Per-link order among handled events.
    let mut order_violations = Vec::new();
    for link in &links {
        let first = |event: &str, end: bool| {
            lines
                .iter()
                .filter(|l| &l.link == link && l.event == event && l.end == end)
                .map(|l| l.at)
                .min()
        };
        if let (Some(failed_end), Some(complete_start)) =
            (first("link.failed", true), first("link.complete", false))
        {
            if complete_start < failed_end {
                order_violations.push(link.clone());
            }
        }
    }
    let mut finished: HashMap<(&str, &str), usize> = HashMap::new();
    for l in lines.iter().filter(|l| l.end) {
        *finished
            .entry((l.event.as_str(), l.link.as_str()))
            .or_default() += 1;
    }
    let events = finished.len();
    let duplicates: usize = finished.values().map(|n| n - 1).sum();
    let reconciled: HashSet<(&str, &str)> = lines
        .iter()
        .filter(|l| l.end && l.reconciled)
        .map(|l| (l.event.as_str(), l.link.as_str()))
        .collect();
    let key_leaks = lines.iter().filter(|l| l.key_seen).count();
    let failed_handled = finished.keys().filter(|(e, _)| *e == "link.failed").count();
    let deliveries = mock.webhook_deliveries();
    let to_1: HashSet<(String, String)> = deliveries
        .iter()
        .filter(|d| d.url == url_1)
        .map(|d| (d.event.clone(), d.link_id.clone()))
        .collect();
    let accepted_1: HashSet<(String, String)> = deliveries
        .iter()
        .filter(|d| d.url == url_1 && d.succeeded())
        .map(|d| (d.event.clone(), d.link_id.clone()))
        .collect();
    let first_try_1 = deliveries
        .iter()
        .filter(|d| d.url == url_1 && d.attempt == 1 && d.succeeded())
        .count();
    let dropped: HashSet<(String, String)> = deliveries
        .iter()
        .filter(|d| d.attempt == 3 && !d.succeeded())
        .map(|d| (d.event.clone(), d.link_id.clone()))
        .collect();
    let (victim_name, bound) = victim.clone().unwrap_or_default();
    let summary = format!(
        "soak: {LINKS} links, {events} distinct events handled ({failed_handled} link.failed), \
         {} handler runs, {duplicates} duplicate(s) (bound {bound}: partitions of killed {victim_name}), \
         {} order violation(s), {} overlap(s), {} reconciled event(s), {} webhook(s) dropped by the emulator, \
         stream length at the end {length}, receiver 1 under the flood: {}/{} genuine events accepted \
         ({first_try_1} on the first attempt), flood answers {flood_counts:?}, \
         handler runs that saw PASSAGE_API_KEY: {key_leaks}, wall {:.1} s, load factor {load}; faults {notes:?}",
        all_runs.len(),
        order_violations.len(),
        overlaps.len(),
        reconciled.len(),
        dropped.len(),
        accepted_1.len(),
        to_1.len(),
        started.elapsed().as_secs_f64(),
    );
    eprintln!("{summary}");
    assert!(
        overlaps.is_empty(),
        "ran in two workers at once: {overlaps:?}\n{summary}"
    );
    if !order_violations.is_empty() {
        // Each broken link's story: its deliveries, its handler runs, the reconciler's log.
        let stories: Vec<String> = order_violations
            .iter()
            .map(|link| {
                let tries: Vec<String> = deliveries
                    .iter()
                    .filter(|d| &d.link_id == link)
                    .map(|d| {
                        format!(
                            "{} #{} {:?} at {} to {}",
                            d.event, d.attempt, d.outcome, d.sent_at, d.url
                        )
                    })
                    .collect();
                let handled: Vec<String> = lines
                    .iter()
                    .filter(|l| &l.link == link)
                    .map(|l| format!("{l:?}"))
                    .collect();
                let reconciled: Vec<String> = std::fs::read_to_string(&reconciler_log)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains(link.as_str()))
                    .map(str::to_owned)
                    .collect();
                format!(
                    "{link} (partition {}): deliveries {tries:#?}\n  handler {handled:#?}\n  reconciler {reconciled:#?}",
                    passage_connect::queue::partition_of(link, PARTITIONS)
                )
            })
            .collect();
        panic!(
            "order broken for {order_violations:?}\n{summary}\n{}\n{}",
            stories.join("\n"),
            log_tails(dir.path(), &names, 15)
        );
    }
    assert!(victim.is_some(), "a worker was killed\n{summary}");
    assert!(duplicates <= bound, "{summary}");
    assert_eq!(key_leaks, 0, "{summary}");
    assert_eq!(
        accepted_1.len(),
        to_1.len(),
        "every webhook to the flooded receiver accepted\n{summary}"
    );
    assert!(
        !dropped.is_empty(),
        "receiver 2's downtime dropped webhooks\n{summary}"
    );
    assert!(
        !reconciled.is_empty(),
        "the reconciler handled dropped events\n{summary}"
    );
    if length != 0 {
        // What keeps the entries: each partition's length, owner and pending entries, the
        // group's last-delivered id, and what the workers said last.
        let worker_logs = log_tails(dir.path(), &names, 15);
        panic!(
            "streams not trimmed after the retention: {length} entries left\n{summary}\nqueue:{}\n{}",
            queue_state(&server.lock().unwrap(), STREAM, PARTITIONS),
            worker_logs
        );
    }

    drop(reconciler);
    drop(workers);
    drop(receivers);
    if let Ok(mock) = Arc::try_unwrap(mock) {
        mock.shutdown().await;
    }
}

/// POSIX `cksum` (CRC-32 with the length appended), as the handler computes its sleep.
fn cksum(data: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    let mut feed = |byte: u8| {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    };
    for &b in data {
        feed(b);
    }
    let mut len = data.len();
    while len > 0 {
        feed((len & 0xff) as u8);
        len >>= 8;
    }
    !crc
}
