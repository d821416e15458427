//! `Links::wait_with_notifications`: returns as soon as the notification for its link lands
//! (long before the next poll), ignores other links' notifications, and falls back to polling.

use std::time::{Duration, Instant};

use passage_connect::client::{ApiKey, Client, LinkNotifier, WaitOptions};
use passage_connect::link::LinkStatus;
use passage_connect::Error;
use passage_mock::{MockConfig, MockServer};

async fn setup() -> (MockServer, Client, String) {
    let mock = MockServer::start(MockConfig::default())
        .await
        .expect("emulator");
    let client = Client::builder(ApiKey::new("psg_test_mock"))
        .base_url(mock.base_url())
        .build()
        .unwrap();
    let link = client
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .send()
        .await
        .unwrap()
        .id;
    (mock, client, link)
}

/// Polls every 60 s at the earliest: only a notification can end the wait quickly.
fn slow_polls(timeout: Duration) -> WaitOptions {
    WaitOptions::default()
        .timeout(timeout)
        .min_interval(Duration::from_secs(60))
        .initial_interval(Duration::from_secs(60))
        .max_interval(Duration::from_secs(60))
}

#[tokio::test]
async fn returns_when_its_webhook_lands() {
    let (mock, client, link) = setup().await;
    let notifier = LinkNotifier::new();
    let options = slow_polls(Duration::from_secs(30));
    let links = client.links();
    let wait = links.wait_with_notifications(&link, &options, &notifier);
    let feed = async {
        // The wait has polled once (pending) and sleeps for 60 s.
        tokio::time::sleep(Duration::from_millis(200)).await;
        notifier.notify("link_someone_else");
        mock.complete_link(&link, None).await.expect("complete");
        let started = Instant::now();
        notifier.notify(&link);
        started
    };
    let (done, notified_at) = tokio::join!(wait, feed);
    let done = done.expect("the wait ends");
    assert_eq!(done.status, LinkStatus::Complete);
    assert!(done.result.is_some(), "the same typed link as a poll gives");
    assert!(
        notified_at.elapsed() < Duration::from_secs(10),
        "returned {:?} after the notification",
        notified_at.elapsed()
    );
}

#[tokio::test]
async fn other_links_notifications_do_not_end_the_wait() {
    let (_mock, client, link) = setup().await;
    let notifier = LinkNotifier::new();
    let options = slow_polls(Duration::from_millis(800));
    let links = client.links();
    let wait = links.wait_with_notifications(&link, &options, &notifier);
    let feed = async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            notifier.notify("link_other");
        }
    };
    let (outcome, ()) = tokio::join!(wait, feed);
    assert!(matches!(outcome, Err(Error::Timeout { .. })), "{outcome:?}");
}

#[tokio::test]
async fn falls_back_to_polling_without_a_webhook() {
    let (mock, client, link) = setup().await;
    let notifier = LinkNotifier::new();
    let options = WaitOptions::default()
        .timeout(Duration::from_secs(30))
        .min_interval(Duration::from_millis(50))
        .initial_interval(Duration::from_millis(50))
        .max_interval(Duration::from_millis(100));
    let links = client.links();
    let wait = links.wait_with_notifications(&link, &options, &notifier);
    let complete = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        mock.complete_link(&link, None).await.expect("complete");
    };
    let (done, ()) = tokio::join!(wait, complete);
    assert_eq!(done.expect("polling found it").status, LinkStatus::Complete);
}
