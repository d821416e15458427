//! Retries against the emulator: counted attempts, `Retry-After` honoured, bounds respected, and
//! creates never repeated once they may have reached the server.

mod client_support;

use std::time::Duration;

use client_support::{client, client_with, fast_policy, mock, SECRET};
use passage_connect::client::RetryReason;
use passage_connect::Error;
use passage_mock::{Fault, FaultKind, FaultRoute};

fn fault(route: FaultRoute, status: u16, retry_after: Option<u64>, times: u32) -> Fault {
    Fault::new(
        route,
        FaultKind::Status {
            status,
            retry_after,
        },
    )
    .times(times)
}

#[tokio::test]
async fn get_is_retried_through_5xx_and_succeeds() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    mock.inject_fault(fault(FaultRoute::Providers, 503, None, 1));
    mock.inject_fault(fault(FaultRoute::Providers, 502, None, 1));
    let catalog = client.providers().list().await.unwrap();
    assert_eq!(catalog, passage_mock::pinned_catalog());
    let events = recorder.events();
    let attempts: Vec<u32> = events.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    let reasons: Vec<RetryReason> = events.iter().map(|e| e.reason.clone()).collect();
    assert_eq!(
        reasons,
        [RetryReason::Status(503), RetryReason::Status(502)]
    );
    assert!(events
        .iter()
        .all(|e| e.method == "GET" && e.url.ends_with("/v1/providers")));
    mock.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured_as_the_delay() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    mock.inject_fault(fault(FaultRoute::ListLinks, 429, Some(1), 1));
    client.links().list().await.unwrap();
    let events = recorder.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, RetryReason::Status(429));
    assert_eq!(events[0].retry_after, Some(Duration::from_secs(1)));
    assert_eq!(
        events[0].delay,
        Duration::from_secs(1),
        "the pause is the server's Retry-After"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn attempts_are_bounded() {
    let mock = mock().await;
    let (client, recorder) = client_with(&mock.base_url(), SECRET, fast_policy(2));
    mock.inject_fault(fault(FaultRoute::ListLinks, 503, None, 5));
    let err = client.links().list().await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert_eq!(recorder.events().len(), 2, "first attempt + 2 retries");
    // Exactly 3 requests were made: the 2 remaining faults fail the next call's first two
    // attempts and its third succeeds.
    client.links().list().await.unwrap();
    assert_eq!(recorder.events().len(), 4);
    mock.shutdown().await;
}

#[tokio::test]
async fn total_time_budget_stops_retries() {
    let mock = mock().await;
    let policy = fast_policy(10).with_max_elapsed(Duration::from_millis(500));
    let (client, recorder) = client_with(&mock.base_url(), SECRET, policy);
    // Retry-After 1 s does not fit in a 0.5 s budget: no retry at all.
    mock.inject_fault(fault(FaultRoute::GetLink, 503, Some(1), 3));
    let err = client.links().get("link_x").await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert!(recorder.events().is_empty());
    mock.shutdown().await;
}

#[tokio::test]
async fn create_is_never_retried_on_error_answers() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    for status in [429u16, 500, 502, 503] {
        mock.inject_fault(fault(FaultRoute::CreateLink, status, Some(0), 1));
        let err = client
            .links()
            .create("tmobile")
            .operation("paymentMethod", "read")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err:?}");
    }
    assert!(recorder.events().is_empty());
    assert_eq!(mock.link_count(), 0);
    // The next create goes through, once.
    client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .send()
        .await
        .unwrap();
    assert_eq!(mock.link_count(), 1);
    mock.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_on_get_is_retried() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    let link = client
        .links()
        .create("att")
        .operation("mobileBillingStatement", "read")
        .send()
        .await
        .unwrap();
    mock.inject_fault(Fault::new(FaultRoute::GetLink, FaultKind::DropConnection));
    let got = client.links().get(&link.id).await.unwrap();
    assert_eq!(got.id, link.id);
    let events = recorder.events();
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0].reason, RetryReason::Transport(_)));
    mock.shutdown().await;
}

#[tokio::test]
async fn dropped_create_does_not_duplicate_the_link() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    mock.inject_fault(Fault::new(
        FaultRoute::CreateLink,
        FaultKind::DropConnection,
    ));
    let err = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Indeterminate { .. }), "{err:?}");
    assert_eq!(mock.link_count(), 1);
    assert!(recorder.events().is_empty());
    mock.shutdown().await;
}
