//! `passage webhook receive | work | dead-letter` as processes, against a real `redis-server`
//! (started by the test on 127.0.0.1 with AOF) and the emulator sending signed webhooks.
//!
//! The fault run: 500 links each fail then complete (1,000 webhooks) to two receivers; three
//! workers process them; one worker is SIGKILLed while handlers run and Redis is SIGKILLed and
//! restarted once. Every event is handled, in order per link, and a handler runs twice only where
//! the killed worker had it in flight (bounded by the partitions it owned).

mod queue_support;
#[path = "../../runtime/tests/redis_support/mod.rs"]
mod redis_support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use passage_connect::client::{ApiKey, Client};
use passage_mock::{MockConfig, MockServer};
use queue_support::{log_tails, queue_state, temp_dir, Children, BIN};
use redis_support::RedisServer;

const PARTITIONS: &str = "4";

fn start_receiver(children: &mut Children, redis: &str, stream: &str, base_url: &str) -> String {
    queue_support::start_receiver(children, "127.0.0.1:0", redis, stream, PARTITIONS, base_url)
}

/// `passage webhook work` with this test's lease, attempts and backoff.
fn start_worker(
    redis: &str,
    stream: &str,
    consumer: &str,
    base_url: &str,
    handler: &[String],
    logs: &Path,
) -> Child {
    let flags = [
        "--max-attempts",
        "3",
        "--lease-ms",
        "3000",
        "--backoff-ms",
        "50",
    ];
    let queue = queue_support::Queue {
        redis,
        stream,
        partitions: PARTITIONS,
    };
    queue_support::start_worker(queue, consumer, base_url, &flags, handler, logs)
}

/// Where running handlers leave a marker `<worker>.<event>.<linkId>`.
fn inflight_dir(log: &Path) -> PathBuf {
    log.with_extension("inflight")
}

/// The handler: leaves a marker in [`inflight_dir`] while it runs, and appends
/// `<event> <linkId> <integration> <typed?>` to `log` after a short sleep (the window in which a
/// worker is killed mid-handler); exits 1 for links listed in `fail_file` while that file exists.
fn handler_script(log: &Path, fail_file: &Path) -> Vec<String> {
    let script = format!(
        r#"doc=$(cat)
# A cut-off document (its writer died) is refused, as any JSON parser would.
case "$doc" in *'}}') ;; *) exit 1;; esac
field() {{ v=${{doc#*\"$1\":\"}}; [ "$v" = "$doc" ] && v=-; printf '%s' "${{v%%\"*}}"; }}
ev=$(field event); link=$(field linkId); integ=$(field integration)
typed=no
case "$doc" in *'"data":{{'*) typed=yes;; esac
if [ -f '{fail}' ] && grep -qx "$link" '{fail}'; then exit 1; fi
mark='{inflight}'/"$PASSAGE_TEST_WORKER.$ev.$link"
: > "$mark"
sleep 0.02
echo "$ev $link $integ $typed" >> '{log}'
rm -f "$mark"
"#,
        fail = fail_file.display(),
        log = log.display(),
        inflight = inflight_dir(log).display(),
    );
    vec!["sh".into(), "-c".into(), script]
}

/// The log's complete lines (one being appended right now is left for the next read).
fn read_log(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect()
}

/// Distinct link ids of `event` entries queued in the partition streams.
fn queued_links(server: &RedisServer, stream: &str, event: &str) -> HashSet<String> {
    let mut conn = server.client();
    let mut links = HashSet::new();
    for p in 0..4 {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(format!("{stream}:{p}"))
            .arg("-")
            .arg("+")
            .query(&mut conn)
            .unwrap_or_default();
        for entry in reply.ids {
            let ev: Option<String> = entry.get("event");
            if ev.as_deref() == Some(event) {
                if let Some(link) = entry.get::<String>("link_id") {
                    links.insert(link);
                }
            }
        }
    }
    links
}

async fn wait_for(what: &str, deadline: Instant, done: impl FnMut() -> bool) {
    assert!(
        wait_until(deadline, done).await,
        "timed out waiting for {what}"
    );
}

/// `true` once `done` holds, `false` at the deadline.
async fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_webhooks_through_a_worker_kill_and_a_redis_restart() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let started = Instant::now();
    // Scaled by the machine's load at the start: a busy runner is slower, not wrong.
    let deadline = started + Duration::from_secs(100) * queue_support::load_factor();
    let mock = MockServer::start(
        MockConfig::default()
            .with_webhook_retry_delays(vec![
                Duration::from_millis(300),
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(3),
                Duration::from_secs(4),
            ])
            // Room for every attempt of the 1,000 events, for the failure message.
            .with_delivery_log_limits(10_000, 4096),
    )
    .await
    .expect("emulator");
    let base = mock.base_url();
    let redis = server.url();
    let stream = "fault";
    let dir = temp_dir("fault");
    let log = dir.path().join("handled.log");
    std::fs::create_dir_all(inflight_dir(&log)).unwrap();
    let handler = handler_script(&log, &dir.path().join("never-exists"));

    let mut children = Children::default();
    let receivers = [
        start_receiver(&mut children, &redis, stream, &base),
        start_receiver(&mut children, &redis, stream, &base),
    ];
    let names = ["w1", "w2", "w3"];
    let mut workers = Children::default();
    for name in names {
        workers.0.push(start_worker(
            &redis,
            stream,
            name,
            &base,
            &handler,
            dir.path(),
        ));
    }

    let client = Client::builder(ApiKey::new("psg_test_mock"))
        .base_url(base.clone())
        .build()
        .unwrap();
    let mut links = Vec::new();
    for n in 0..500 {
        let link = client
            .links()
            .create("tmobile")
            .operation("mobileBillingStatement", "read")
            .webhook_url(receivers[n % 2].clone())
            .send()
            .await
            .expect("create link");
        links.push(link.id);
    }

    // Phase 1: every link fails (link.failed), paced over about a second; Redis is killed and
    // restarted once 100 of them are queued.
    let mock = Arc::new(mock);
    let failing = {
        let (mock, links) = (mock.clone(), links.clone());
        tokio::spawn(async move {
            for link in &links {
                mock.fail_link(link, "AUTOMATION_ERROR", "test failure")
                    .await
                    .expect("fail link");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let server = Arc::new(std::sync::Mutex::new(server));
    wait_for("100 link.failed queued", deadline, || {
        queued_links(&server.lock().unwrap(), stream, "link.failed").len() >= 100
    })
    .await;
    let restart_point = {
        let mut s = server.lock().unwrap();
        let queued = queued_links(&s, stream, "link.failed").len();
        s.kill();
        s.restart();
        queued
    };
    failing.await.expect("phase 1");
    // link.complete is sent only once every link.failed is queued, so queue order is the
    // order the links' events happened in.
    wait_for("500 link.failed queued", deadline, || {
        queued_links(&server.lock().unwrap(), stream, "link.failed").len() == 500
    })
    .await;

    // Phase 2: every link completes; a worker is SIGKILLed while handlers run.
    for link in &links {
        mock.complete_link(link, None).await.expect("complete link");
    }
    wait_for("700 handled", deadline, || read_log(&log).len() >= 700).await;
    // Kill a worker while one of its handlers runs (its marker exists).
    let running = || -> Vec<String> {
        std::fs::read_dir(inflight_dir(&log))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (victim, in_flight) = loop {
        assert!(Instant::now() < deadline, "no handler ever ran");
        let markers = running();
        if let Some(first) = markers.first() {
            let name = first.split('.').next().unwrap_or_default().to_owned();
            let index = names.iter().position(|n| *n == name).expect("worker name");
            workers.0[index].kill().expect("SIGKILL the worker");
            workers.0[index].wait().unwrap();
            let count = markers
                .iter()
                .filter(|m| m.starts_with(&format!("{name}.")))
                .count();
            break (name, count);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let killed_at = read_log(&log).len();

    let distinct = || -> HashSet<(String, String)> {
        read_log(&log)
            .into_iter()
            .map(|l| (l[0].clone(), l[1].clone()))
            .collect()
    };
    let expected: HashSet<(String, String)> = ["link.failed", "link.complete"]
        .iter()
        .flat_map(|event| {
            links
                .iter()
                .map(move |link| (event.to_string(), link.clone()))
        })
        .collect();
    if !wait_until(deadline, || distinct().is_superset(&expected)).await {
        // Say what is missing and where it is: the handled log, the queue, the emulator's
        // delivery attempts for the missing events, and each worker's last log lines.
        let handled = distinct();
        let missing: Vec<(String, &String)> = ["link.failed", "link.complete"]
            .iter()
            .flat_map(|event| links.iter().map(move |link| (event.to_string(), link)))
            .filter(|(event, link)| !handled.contains(&(event.clone(), (*link).clone())))
            .collect();
        let deliveries = mock.webhook_deliveries();
        let attempts: Vec<String> = missing
            .iter()
            .take(5)
            .map(|(event, link)| {
                let tries: Vec<String> = deliveries
                    .iter()
                    .filter(|d| &d.link_id == *link && &d.event == event)
                    .map(|d| format!("#{} {:?} at {}", d.attempt, d.outcome, d.sent_at))
                    .collect();
                format!(
                    "{event} {link} (partition {}): {tries:?}",
                    passage_connect::queue::partition_of(link, 4)
                )
            })
            .collect();
        let worker_logs = log_tails(dir.path(), &names, 25);
        panic!(
            "timed out waiting for 1,000 distinct events handled: {} handled ({} lines, {victim} \
             killed after {killed_at}), {} missing; first missing with their delivery attempts:\n  \
             {}\nqueue:{}\n{}",
            handled.len(),
            read_log(&log).len(),
            missing.len(),
            attempts.join("\n  "),
            queue_state(&server.lock().unwrap(), stream, 4),
            worker_logs
        );
    }

    let lines = read_log(&log);
    let unexpected: Vec<&Vec<String>> = lines
        .iter()
        .filter(|l| !expected.contains(&(l[0].clone(), l[1].clone())))
        .collect();
    assert!(
        unexpected.is_empty(),
        "handled events that were never sent: {unexpected:?}\n{}",
        log_tails(dir.path(), &names, 25)
    );
    let mut per_link: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut runs: HashMap<(&str, &str), usize> = HashMap::new();
    for line in &lines {
        assert_eq!(line.len(), 4, "{line:?}");
        per_link.entry(&line[1]).or_default().push(&line[0]);
        *runs.entry((&line[0], &line[1])).or_default() += 1;
        assert_eq!(
            line[2], "tmobile",
            "integration from GET /v1/links: {line:?}"
        );
        if line[0] == "link.complete" {
            assert_eq!(line[3], "yes", "typed data for {line:?}");
        }
    }
    assert_eq!(per_link.len(), 500, "every link handled");
    for (link, events) in &per_link {
        let first_complete = events.iter().position(|e| *e == "link.complete");
        let last_failed = events.iter().rposition(|e| *e == "link.failed");
        assert!(
            matches!((last_failed, first_complete), (Some(f), Some(c)) if f < c),
            "order broken for {link}: {events:?}"
        );
    }
    let duplicates = lines.len() - 1000;
    // Only handlers in flight in the killed worker can run again: at most one per partition.
    let bound = 4;
    assert!(
        duplicates <= bound,
        "{duplicates} duplicate runs (bound {bound}): {:?}",
        runs.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert!(
        restart_point > 0 && restart_point < 500,
        "Redis restarted mid-run ({restart_point} queued before)"
    );
    eprintln!(
        "fault run: {} events handled, {} handler runs, {duplicates} duplicate(s) (bound {bound}), \
         {victim} SIGKILLed with {in_flight} handler(s) running after {killed_at} runs, Redis restarted after {restart_point} link.failed queued, {:.1} s",
        1000,
        lines.len(),
        started.elapsed().as_secs_f64()
    );
    drop(workers);
    drop(children);
    if let Ok(mock) = Arc::try_unwrap(mock) {
        mock.shutdown().await;
    }
}

fn passage(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run passage");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_statuses_dead_letter_list_and_replay() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mock = MockServer::start(MockConfig::default())
        .await
        .expect("emulator");
    let base = mock.base_url();
    let redis = server.url();
    let stream = "dl";
    let dir = temp_dir("dead-letter");
    let log = dir.path().join("handled.log");
    std::fs::create_dir_all(inflight_dir(&log)).unwrap();
    let fail_file = dir.path().join("fail");
    let handler = handler_script(&log, &fail_file);
    let mut children = Children::default();
    let receiver = start_receiver(&mut children, &redis, stream, &base);
    children.0.push(start_worker(
        &redis,
        stream,
        "w1",
        &base,
        &handler,
        dir.path(),
    ));

    let client = Client::builder(ApiKey::new("psg_test_mock"))
        .base_url(base.clone())
        .build()
        .unwrap();
    let link = client
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .webhook_url(receiver.clone())
        .send()
        .await
        .expect("create link")
        .id;
    std::fs::write(&fail_file, format!("{link}\n")).unwrap();
    mock.complete_link(&link, None).await.expect("complete");

    // The handler fails three times: the event is dead-lettered with the last error.
    let list_args = [
        "webhook",
        "dead-letter",
        "list",
        "--redis",
        &redis,
        "--stream",
        stream,
        "--partitions",
        PARTITIONS,
    ];
    let mut listed = String::new();
    wait_for("a dead letter", deadline, || {
        let (code, out, err) = passage(&list_args);
        assert_eq!(code, 0, "{err}");
        listed = out;
        !listed.is_empty()
    })
    .await;
    let lines: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{listed}");
    assert_eq!(lines[0]["linkId"], link.as_str());
    assert_eq!(lines[0]["event"], "link.complete");
    assert_eq!(lines[0]["attempts"], 3);
    assert!(
        lines[0]["error"].as_str().unwrap().contains("exited with"),
        "{listed}"
    );
    assert!(read_log(&log).is_empty());

    // An unknown id: exit 1, nothing replayed.
    let (code, out, _) = passage(&[
        "webhook",
        "dead-letter",
        "replay",
        "--redis",
        &redis,
        "--stream",
        stream,
        "0-1",
    ]);
    assert_eq!((code, out.trim()), (1, "replayed 0"));
    // Fixed handler: replay brings it back and it is handled once, typed.
    std::fs::remove_file(&fail_file).unwrap();
    let (code, out, err) = passage(&[
        "webhook",
        "dead-letter",
        "replay",
        "--redis",
        &redis,
        "--stream",
        stream,
        "--partitions",
        PARTITIONS,
        "--all",
    ]);
    assert_eq!((code, out.trim()), (0, "replayed 1"), "{err}");
    wait_for("the replayed event", deadline, || {
        !read_log(&log).is_empty()
    })
    .await;
    let handled = read_log(&log);
    assert_eq!(
        handled,
        [vec![
            "link.complete".to_owned(),
            link.clone(),
            "tmobile".to_owned(),
            "yes".to_owned()
        ]]
    );
    assert_eq!(passage(&list_args).1, "");

    // The receiver: 401 for a bad signature, 200 for the real one, 503 with Redis down.
    let delivery = mock
        .webhook_deliveries()
        .into_iter()
        .find(|d| d.succeeded())
        .expect("a delivery");
    let http = reqwest::Client::new();
    let post = |signature: &str| {
        http.post(&receiver)
            .header("content-type", "application/json")
            .header("x-passage-signature", signature.to_owned())
            .header(
                "x-passage-timestamp",
                delivery.header("x-passage-timestamp").unwrap().to_owned(),
            )
            .body(delivery.body.clone())
            .send()
    };
    let signature = delivery.header("x-passage-signature").unwrap();
    let tampered = format!("{}x", &signature[..signature.len() - 1]);
    assert_eq!(post(&tampered).await.unwrap().status(), 401);
    let ok = post(signature).await.unwrap();
    assert_eq!(ok.status(), 200);
    let queued: serde_json::Value = ok.json().await.unwrap();
    assert!(queued["queued"].as_str().is_some(), "{queued}");
    server.kill();
    assert_eq!(post(signature).await.unwrap().status(), 503);

    drop(children);
    mock.shutdown().await;
}

/// A worker killed with SIGKILL runs no cleanup, so its handler processes would live on as
/// orphans: a slow one could still be running when the next owner runs the same event (two runs
/// at once), and one whose stdin was being written when the worker died reads a cut-off
/// document. The kernel takes them down with the worker instead (`PR_SET_PDEATHSIG`).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_takes_its_running_handler_with_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(40) * queue_support::load_factor();
    let mock = MockServer::start(MockConfig::default())
        .await
        .expect("emulator");
    let base = mock.base_url();
    let redis = server.url();
    let stream = "orphan";
    let dir = temp_dir("orphan");
    let log = dir.path().join("handled.log");
    // Long enough that an orphan would still be running when the second worker takes over.
    let handler: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "cat >/dev/null; echo \"started $PASSAGE_TEST_WORKER\" >> '{log}'; sleep 2; \
             echo \"finished $PASSAGE_TEST_WORKER\" >> '{log}'",
            log = log.display()
        ),
    ];
    let mut children = Children::default();
    let receiver = start_receiver(&mut children, &redis, stream, &base);
    let mut first = start_worker(&redis, stream, "w1", &base, &handler, dir.path());

    let client = Client::builder(ApiKey::new("psg_test_mock"))
        .base_url(base.clone())
        .build()
        .unwrap();
    let link = client
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .webhook_url(receiver)
        .send()
        .await
        .expect("create link")
        .id;
    mock.complete_link(&link, None).await.expect("complete");
    let lines = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    wait_for("the handler started in w1", deadline, || {
        lines().iter().any(|l| l == "started w1")
    })
    .await;
    first.kill().expect("SIGKILL w1");
    first.wait().unwrap();
    children.0.push(start_worker(
        &redis,
        stream,
        "w2",
        &base,
        &handler,
        dir.path(),
    ));
    let finished = wait_until(deadline, || lines().iter().any(|l| l == "finished w2")).await;
    // Room for an orphan of w1 to finish (its sleep is 2 s, started before w2 was).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = lines();
    assert!(
        finished && !seen.iter().any(|l| l == "finished w1"),
        "w2 finished: {finished}; the handler of the killed w1 must not run on: {seen:?}\n{}",
        log_tails(dir.path(), &["w1", "w2"], 20)
    );
    drop(children);
    mock.shutdown().await;
}
