//! `passage webhook reconcile --once` as a process, against a real `redis-server` (started by the
//! test) and the emulator: a webhook dropped while no receiver listened is queued by one pass (one
//! JSON report line), not by the next; a pass with errors exits 1; no API key exits 2; the key is
//! never printed.

#[path = "../../runtime/tests/redis_support/mod.rs"]
mod redis_support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use passage_connect::client::Client;
use passage_mock::{MockConfig, MockServer};
use redis_support::RedisServer;
use serde_json::Value;

const SECRET: &str = "psg_cli_reconcile_SeCrEt";
const BIN: &str = env!("CARGO_BIN_EXE_passage");

/// Runs `passage webhook reconcile --once ...` off the async threads; `key` in the environment.
async fn reconcile(redis: &str, base_url: &str, key: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["webhook", "reconcile", "--redis", redis, "--once"])
        .args(["--stream", "cliq", "--partitions", "4", "--grace-ms", "200"])
        .args(["--base-url", base_url])
        .env_remove("PASSAGE_BASE_URL")
        .env_remove("PASSAGE_API_KEY");
    if let Some(key) = key {
        command.env("PASSAGE_API_KEY", key);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the binary runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains(SECRET), "the key was printed: {all}");
    output
}

/// The one JSON line a pass prints.
fn report(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exit {:?}, stdout {stdout:?}, stderr {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_once_queues_a_dropped_webhook_and_reports_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mock = MockServer::start(
        MockConfig::default()
            .with_api_keys(vec![SECRET.to_string()])
            .with_webhook_retry_delays(vec![Duration::from_millis(10), Duration::from_millis(10)]),
    )
    .await
    .unwrap();
    let base = mock.base_url();
    let client = Client::builder(SECRET)
        .base_url(base.clone())
        .build()
        .unwrap();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let link = client
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .webhook_url(dead)
        .send()
        .await
        .unwrap();
    mock.complete_link(&link.id, None).await.unwrap();
    let start = Instant::now();
    while mock.webhook_deliveries().len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the webhook was not dropped: {:?}",
            mock.webhook_deliveries()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Past the grace period given on the command line.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let first = reconcile(&server.url(), &base, Some(SECRET)).await;
    assert_eq!(first.status.code(), Some(0));
    let first = report(&first);
    assert_eq!(first["enqueued"], 1, "{first}");
    assert_eq!(first["errors"], 0, "{first}");
    assert!(first["watermark"].as_u64().unwrap() > 0, "{first}");
    let second = report(&reconcile(&server.url(), &base, Some(SECRET)).await);
    assert_eq!(
        (&second["enqueued"], &second["already_handled"]),
        (&Value::from(0), &Value::from(1)),
        "{second}"
    );
    // The entry is on the link's partition stream, marked reconciled.
    let partition = passage_connect::queue::partition_of(&link.id, 4);
    let mut conn = server.client();
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("cliq:{partition}"))
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    assert_eq!(reply.ids.len(), 1);
    let source: String = reply.ids[0].get("source").unwrap();
    assert_eq!(source, "reconciled");

    // The API unreachable: the pass has errors, exit 1, the report still printed.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let failed = reconcile(&server.url(), &gone, Some(SECRET)).await;
    assert_eq!(failed.status.code(), Some(1));
    let failed = report(&failed);
    assert_eq!(failed["errors"], 1, "{failed}");
    assert_eq!(failed["watermark"], second["watermark"], "{failed}");

    // No key: a usage error.
    let no_key = reconcile(&server.url(), &base, None).await;
    assert_eq!(no_key.status.code(), Some(2));
    mock.shutdown().await;
}
