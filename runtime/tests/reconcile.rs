//! The `Reconciler` against a real `redis-server` (started by the test) and the emulator: links
//! completed or failed while no receiver listened (each webhook dropped after its three attempts)
//! are queued by one pass; a second pass queues nothing; an event already done is not queued; the
//! watermark advances; and the real webhook arriving late is the same event (one handler run).
#![cfg(all(feature = "redis-streams", feature = "test-util"))]

mod redis_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use passage_connect::client::Client;
use passage_connect::dedupe::{DedupeKey, DedupeStore, RedisDedupeStore};
use passage_connect::queue::{
    QueueConfig, QueuedEvent, Reconciler, ReconcilerConfig, WebhookQueue, Worker, WorkerConfig,
};
use passage_connect::webhook::{HeaderMap, HeaderValue, StaticKeys, WebhookVerifier};
use passage_mock::{MockConfig, MockServer};
use redis::streams::StreamRangeReply;
use redis_support::RedisServer;

const SECRET: &str = "psg_test_reconcile_5ecret";
const DEADLINE: Duration = Duration::from_secs(30);
const PARTITIONS: u16 = 4;

fn queue_config(name: &str) -> QueueConfig {
    QueueConfig::new()
        .with_name(name)
        .with_partitions(PARTITIONS)
        .with_timeout(Duration::from_millis(1000))
}

/// A reconciler with a short grace (the emulator's retries take milliseconds here).
fn reconciler_config() -> ReconcilerConfig {
    ReconcilerConfig::new()
        .with_grace(Duration::from_millis(300))
        .with_page_size(2)
}

async fn mock() -> MockServer {
    MockServer::start(
        MockConfig::default()
            .with_api_keys(vec![SECRET.to_string()])
            .with_webhook_retry_delays(vec![Duration::from_millis(10), Duration::from_millis(10)]),
    )
    .await
    .expect("the emulator starts")
}

fn client(mock: &MockServer) -> Client {
    Client::builder(SECRET)
        .base_url(mock.base_url())
        .build()
        .unwrap()
}

/// A webhook URL nobody listens on (bound, then released: connections are refused).
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/hook", listener.local_addr().unwrap())
}

/// Creates a link whose webhook goes to a dead receiver.
async fn link(client: &Client, webhook: &str) -> String {
    client
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .webhook_url(webhook)
        .send()
        .await
        .unwrap()
        .id
}

/// Waits until every webhook of `ids` was dropped (three failed attempts logged each), then
/// until the grace period passed since.
async fn wait_dropped(mock: &MockServer, ids: &[&str], events_each: usize) {
    let start = Instant::now();
    loop {
        let log = mock.webhook_deliveries();
        let dropped = ids.iter().all(|id| {
            log.iter()
                .filter(|d| d.link_id == *id && !d.succeeded())
                .count()
                >= 3 * events_each
        });
        if dropped {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "webhooks not dropped in time: {:#?}",
            log.iter()
                .map(|d| (&d.link_id, &d.event, d.attempt, &d.outcome))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(reconciler_config().grace() + Duration::from_millis(100)).await;
}

/// Every entry of the queue's partition streams, as (field → text) maps.
fn entries(server: &RedisServer, name: &str) -> Vec<HashMap<String, String>> {
    let mut conn = server.client();
    let mut all = Vec::new();
    for p in 0..PARTITIONS {
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(format!("{name}:{p}"))
            .arg("-")
            .arg("+")
            .query(&mut conn)
            .unwrap();
        for entry in reply.ids {
            let map = entry
                .map
                .iter()
                .map(|(k, v)| {
                    let text: String = redis::from_redis_value(v).unwrap_or_default();
                    (k.clone(), text)
                })
                .collect();
            all.push(map);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pass_queues_dropped_webhooks_and_the_next_pass_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mock = mock().await;
    let client = client(&mock);
    let dead = dead_url();
    let ids = [
        link(&client, &dead).await,
        link(&client, &dead).await,
        link(&client, &dead).await,
    ];
    let pending = link(&client, &dead).await;
    mock.complete_link(&ids[0], None).await.unwrap();
    mock.complete_link(&ids[1], None).await.unwrap();
    mock.fail_link(&ids[2], "AUTOMATION_ERROR", "boom")
        .await
        .unwrap();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    wait_dropped(&mock, &refs, 1).await;

    let reconciler = Reconciler::connect(
        &server.url(),
        queue_config("rq1"),
        client.clone(),
        reconciler_config(),
    )
    .await
    .unwrap();
    assert_eq!(reconciler.watermark().await.unwrap(), None);
    let first = reconciler.run_once().await.unwrap();
    assert_eq!(
        (first.listed, first.terminal, first.enqueued, first.errors),
        (4, 3, 3, 0),
        "{first:?}"
    );
    let stored = reconciler
        .watermark()
        .await
        .unwrap()
        .expect("watermark stored");
    assert_eq!(stored, first.watermark);

    // The queued entries: the documented body, timestamp = updatedAt, marked reconciled.
    let queued = entries(&server, "rq1");
    assert_eq!(queued.len(), 3, "{queued:#?}");
    for id in &ids {
        let entry = queued
            .iter()
            .find(|e| e["link_id"] == *id)
            .unwrap_or_else(|| panic!("{id} not queued: {queued:#?}"));
        assert_eq!(entry["source"], "reconciled");
        assert_eq!((entry["kid"].as_str(), entry["iat"].as_str()), ("", "0"));
        let body: serde_json::Value = serde_json::from_str(&entry["body"]).unwrap();
        let link = client.links().get(id).await.unwrap();
        assert_eq!(body["linkId"], id.as_str());
        assert_eq!(body["timestamp"], link.updated_at.unwrap());
        assert_eq!(body["event"], entry["event"].as_str());
        match link.status.as_str() {
            "complete" => {
                assert_eq!(body["event"], "link.complete");
                let result: serde_json::Value =
                    serde_json::from_str(link.result.as_ref().unwrap().get()).unwrap();
                assert_eq!(body["result"], result);
                assert!(body["error"].is_null());
            }
            _ => {
                assert_eq!(body["event"], "link.failed");
                assert_eq!(body["error"]["code"], "AUTOMATION_ERROR");
                assert!(body.get("result").is_none(), "{body}");
            }
        }
    }
    assert!(queued.iter().all(|e| e["link_id"] != pending));

    // A second pass (workers have not run): the markers keep it from queueing again.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = reconciler.run_once().await.unwrap();
    assert_eq!(
        (
            second.terminal,
            second.already_handled,
            second.enqueued,
            second.errors
        ),
        (3, 3, 0, 0),
        "{second:?}"
    );
    assert!(
        second.watermark > first.watermark,
        "{first:?} then {second:?}"
    );
    assert_eq!(entries(&server, "rq1").len(), 3);

    // An event a worker already did is not queued.
    let done = link(&client, &dead).await;
    mock.complete_link(&done, None).await.unwrap();
    wait_dropped(&mock, &[&done], 1).await;
    let updated = client.links().get(&done).await.unwrap().updated_at.unwrap();
    let store = RedisDedupeStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("rq1:dedupe:");
    store
        .complete(&DedupeKey::new(
            done.as_str(),
            "link.complete",
            updated as u64,
        ))
        .await
        .unwrap();
    let third = reconciler.run_once().await.unwrap();
    assert_eq!(
        (third.terminal, third.already_handled, third.enqueued),
        (4, 4, 0),
        "{third:?}"
    );
    assert!(entries(&server, "rq1").iter().all(|e| e["link_id"] != done));
    mock.shutdown().await;
}

/// The logged webhook attempt of `link_id`, verified as a receiver would.
async fn real_webhook(
    mock: &MockServer,
    link_id: &str,
) -> passage_connect::webhook::VerifiedWebhook {
    let delivery = mock
        .webhook_deliveries()
        .into_iter()
        .find(|d| d.link_id == link_id)
        .expect("an attempt was logged");
    let mut headers = HeaderMap::new();
    for (name, value) in &delivery.headers {
        headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let keys = StaticKeys::from_pem(&delivery.key_id, &mock.public_key_pem()).unwrap();
    WebhookVerifier::new(keys)
        .verify(&headers, delivery.body.as_bytes())
        .await
        .unwrap()
}

/// What the worker's handler saw: (link id, event, timestamp, reconciled).
type Handled = Arc<Mutex<Vec<(String, String, u64, bool)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_real_webhook_and_the_reconciled_event_are_one_event() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mock = mock().await;
    let client = client(&mock);
    let id = link(&client, &dead_url()).await;
    mock.complete_link(&id, None).await.unwrap();
    wait_dropped(&mock, &[&id], 1).await;

    let reconciler = Reconciler::connect(
        &server.url(),
        queue_config("rq2"),
        client.clone(),
        reconciler_config(),
    )
    .await
    .unwrap();
    let report = reconciler.run_once().await.unwrap();
    assert_eq!(report.enqueued, 1, "{report:?}");
    // Passage's webhook turns up after all (a receiver came back): queued behind it.
    let queue = WebhookQueue::connect(&server.url(), queue_config("rq2"))
        .await
        .unwrap();
    queue
        .enqueue(&real_webhook(&mock, &id).await)
        .await
        .unwrap();

    let handled: Handled = Arc::default();
    let worker = Worker::connect(
        &server.url(),
        queue_config("rq2"),
        WorkerConfig::new("g", "w1")
            .with_lease(Duration::from_millis(1500))
            .with_block(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let stats = worker.stats();
    let stop = Arc::new(tokio::sync::Notify::new());
    let task = {
        let (handled, stop) = (handled.clone(), stop.clone());
        tokio::spawn(async move {
            worker
                .run(
                    move |event: Arc<QueuedEvent>| {
                        let handled = handled.clone();
                        async move {
                            let link = event.event.link_event().unwrap();
                            handled.lock().unwrap().push((
                                link.link_id.clone(),
                                event.event.name().to_owned(),
                                link.timestamp,
                                event.reconciled,
                            ));
                            Ok::<(), String>(())
                        }
                    },
                    async move { stop.notified().await },
                )
                .await
        })
    };
    let start = Instant::now();
    while stats.duplicates.load(std::sync::atomic::Ordering::Relaxed) < 1 {
        assert!(
            start.elapsed() < DEADLINE,
            "the second entry was not skipped: handled {:?}",
            handled.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.notify_waiters();
    let _ = tokio::time::timeout(DEADLINE, task).await;
    let handled = handled.lock().unwrap().clone();
    let updated = client.links().get(&id).await.unwrap().updated_at.unwrap() as u64;
    assert_eq!(
        handled,
        [(id.clone(), "link.complete".to_string(), updated, true)],
        "one run, of the reconciled entry"
    );
    mock.shutdown().await;
}
