//! The whole flow against the emulator over real HTTP: create (typed arguments) -> complete
//! (control API) -> get / wait -> typed results equal to the data the emulator sent; failure and
//! expiry; waiting through a burst of 503s; list and providers; listing as a stream of pages
//! (cursor followed, pages fetched as consumed, client-side filters).

mod client_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client_support::{client, client_with, fast_policy, mock, SECRET};
use futures::{StreamExt as _, TryStreamExt as _};
use passage_connect::client::{ListFilter, WaitOptions};
use passage_connect::link::{FailureCode, LinkStatus, OperationRef};
use passage_connect::types::OperationResult;
use passage_mock::{Fault, FaultKind, FaultRoute};
use serde_json::{json, Value};

fn quick_wait() -> WaitOptions {
    WaitOptions::default()
        .timeout(Duration::from_secs(60))
        .initial_interval(Duration::from_millis(20))
        .max_interval(Duration::from_millis(100))
        .min_interval(Duration::from_millis(5))
}

fn card() -> passage_connect::types::tmobile::PaymentMethodWriteArguments {
    serde_json::from_value(json!({
        "cardNumber": "4111111111111111", "expirationDate": "12/28", "cvv": "123",
        "nameOnCard": "John Doe", "billingZip": "10001"
    }))
    .unwrap()
}

#[tokio::test]
async fn create_complete_get_and_wait_give_typed_results_equal_to_the_sent_data() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let created = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .operation_with_arguments(&card())
        .webhook_url("https://your-server.example/webhook")
        .return_url("https://your-app.example/done")
        .external_user_id("user_456")
        .expires_in(Duration::from_secs(3600))
        .send()
        .await
        .unwrap();
    assert!(created.id.starts_with("link_"), "{}", created.id);
    assert_eq!(created.status, LinkStatus::Pending);
    assert_eq!(created.integration_id, "tmobile");
    assert_eq!(
        created.operations,
        [
            OperationRef::new("paymentMethod", "read"),
            OperationRef::new("paymentMethod", "write")
        ]
    );
    let claim = created.claim_code.clone().unwrap();
    assert!(created.app_clip_url.as_deref().unwrap().contains(&claim));
    assert!(created.return_url.as_deref().unwrap().contains(&created.id));
    let (created_at, expires_at) = (created.created_at.unwrap(), created.expires_at.unwrap());
    assert_eq!(expires_at - created_at, 3_600_000);

    let read = json!({"paymentMethods":[{"order":0,"vendorId":"pm_1","last4":"4242","type":"credit_card",
        "isDefault":true,"brand":"visa","raw":{"anything":[1,2.5,"x"]}}]});
    let write = json!({"success": true, "card": {"last4": "1111"}});
    let result = json!({"operations":[
        {"resource":"paymentMethod","action":"read","data":read},
        {"resource":"paymentMethod","action":"write","data":write}
    ]});
    mock.complete_link(&created.id, Some(result.clone()))
        .await
        .unwrap();

    let got = client.links().get(&created.id).await.unwrap();
    let waited = client
        .links()
        .wait_with(&created.id, &quick_wait())
        .await
        .unwrap();
    for link in [&got, &waited] {
        assert_eq!(link.status, LinkStatus::Complete);
        assert_eq!(link.external_user_id.as_deref(), Some("user_456"));
        assert!(link.error.is_none());
        let raw: Value = serde_json::from_str(link.result.as_ref().unwrap().get()).unwrap();
        assert_eq!(raw, result, "the raw result is kept");
        let results = link.results().unwrap().unwrap();
        let typed = results.into_strict().unwrap();
        assert_eq!(typed.len(), 2);
        assert!(
            !matches!(typed[0], OperationResult::Unknown { .. }),
            "{:?}",
            typed[0]
        );
        assert!(
            !matches!(typed[1], OperationResult::Unknown { .. }),
            "{:?}",
            typed[1]
        );
        assert_eq!(serde_json::to_value(&typed[0]).unwrap(), read);
        assert_eq!(serde_json::to_value(&typed[1]).unwrap(), write);
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn generated_sample_results_round_trip_through_the_typed_decoder() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    for (integration, resource) in [
        ("tmobile", "mobileBillingStatement"),
        ("att", "paymentMethod"),
        ("ubereats", "orderHistory"),
        ("apple-review", "readHistory"),
    ] {
        let created = client
            .links()
            .create(integration)
            .operation(resource, "read")
            .send()
            .await
            .unwrap();
        mock.complete_link(&created.id, None).await.unwrap();
        let link = client
            .links()
            .wait_with(&created.id, &quick_wait())
            .await
            .unwrap();
        let sent: Value = serde_json::from_str(link.result.as_ref().unwrap().get()).unwrap();
        let results = link.results().unwrap().unwrap();
        let entry = results.single().unwrap();
        let typed = entry
            .result()
            .unwrap_or_else(|| panic!("{:?}", entry.outcome));
        assert!(
            !matches!(typed, OperationResult::Unknown { .. }),
            "{integration}/{resource}"
        );
        // A JSON `number` may be an `f64` in the generated types, so `904` can come back as
        // `904.0`: compare numbers by value, everything else exactly.
        let back = serde_json::to_value(typed).unwrap();
        assert!(
            passage_samples::json_eq(&back, &sent),
            "{integration}/{resource}:\n{back}\n{sent}"
        );
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn wait_returns_when_the_link_completes_during_the_wait() {
    let mock = Arc::new(mock().await);
    let (client, _) = client(&mock);
    let created = client
        .links()
        .create("verizon")
        .operation("mobileBillingStatement", "read")
        .send()
        .await
        .unwrap();
    // Complete the link from the progress hook once two polls have seen it pending.
    let polls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let seen = polls.clone();
    let options = quick_wait().on_poll(move |link| {
        if link.status == LinkStatus::Pending && seen.fetch_add(1, Ordering::SeqCst) == 1 {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    });
    let completer = {
        let mock = mock.clone();
        let id = created.id.clone();
        tokio::spawn(async move {
            rx.await.unwrap();
            mock.complete_link(&id, None).await.unwrap();
        })
    };
    let link = client
        .links()
        .wait_with(&created.id, &options)
        .await
        .unwrap();
    completer.await.unwrap();
    assert_eq!(link.status, LinkStatus::Complete);
    assert!(polls.load(Ordering::SeqCst) >= 2);
    assert!(link.results().unwrap().is_ok());
}

#[tokio::test]
async fn wait_survives_a_burst_of_503s() {
    let mock = mock().await;
    // One retry per GET: the burst outlasts the request-level retries, so the wait loop itself
    // must keep polling.
    let (client, recorder) = client_with(&mock.base_url(), SECRET, fast_policy(1));
    let created = client
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .send()
        .await
        .unwrap();
    mock.complete_link(&created.id, None).await.unwrap();
    mock.inject_fault(
        Fault::new(
            FaultRoute::GetLink,
            FaultKind::Status {
                status: 503,
                retry_after: None,
            },
        )
        .times(7),
    );
    let link = client
        .links()
        .wait_with(&created.id, &quick_wait())
        .await
        .unwrap();
    assert_eq!(link.status, LinkStatus::Complete);
    // 7 failures over 4 GETs of 2 attempts each: one retry per GET -> 4 retries recorded.
    assert_eq!(recorder.events().len(), 4);
    mock.shutdown().await;
}

#[tokio::test]
async fn failed_and_expired_links_end_the_wait() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let failed = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .send()
        .await
        .unwrap();
    mock.fail_link(&failed.id, "CLIENT_TIMEOUT", "the user left")
        .await
        .unwrap();
    let link = client
        .links()
        .wait_with(&failed.id, &quick_wait())
        .await
        .unwrap();
    assert_eq!(link.status, LinkStatus::Failed);
    let error = link.error.unwrap();
    assert_eq!(error.code, FailureCode::from("CLIENT_TIMEOUT"));
    assert_eq!(error.message, "the user left");
    assert!(link.result.is_none());

    let expired = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .send()
        .await
        .unwrap();
    mock.expire_link(&expired.id).await.unwrap();
    let link = client
        .links()
        .wait_with(&expired.id, &quick_wait())
        .await
        .unwrap();
    assert_eq!(link.status, LinkStatus::Expired);
    mock.shutdown().await;
}

#[tokio::test]
async fn list_returns_the_created_links_and_providers_the_catalog() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let mut ids = Vec::new();
    for user in ["u1", "u2"] {
        let link = client
            .links()
            .create("ubereats")
            .operation("orderHistory", "read")
            .external_user_id(user)
            .send()
            .await
            .unwrap();
        ids.push(link.id);
    }
    let list = client.links().list().await.unwrap();
    let mut listed: Vec<String> = list.links.iter().map(|l| l.id.clone()).collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    assert!(list.links.iter().all(|l| l.integration_id == "ubereats"
        && l.operations == [OperationRef::new("orderHistory", "read")]
        && l.result.is_none()));

    let catalog = client.providers().list().await.unwrap();
    assert_eq!(catalog, passage_mock::pinned_catalog());
    assert!(catalog
        .operation("apple-review", "readHistory", "read")
        .is_some());
    mock.shutdown().await;
}

async fn create_links(client: &passage_connect::client::Client, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let link = client
            .links()
            .create("ubereats")
            .operation("orderHistory", "read")
            .send()
            .await
            .unwrap();
        ids.push(link.id);
    }
    ids
}

#[tokio::test]
async fn list_pages_follow_the_cursor_until_the_last_page() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let mut ids = create_links(&client, 5).await;
    let pages: Vec<_> = client
        .links()
        .list_pages(&ListFilter::new().page_size(2))
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.links.len()).collect();
    assert_eq!(sizes, [2, 2, 1], "pages of at most 2");
    assert!(pages[..2].iter().all(|p| p.next_cursor().is_some()));
    assert_eq!(pages[2].next_cursor(), None);
    // Every link once, whatever the server's order.
    let mut listed: Vec<String> = pages
        .iter()
        .flat_map(|p| p.links.iter().map(|l| l.id.clone()))
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    // Without a page size the server's single answer is everything: one page.
    let whole: Vec<_> = client
        .links()
        .list_pages(&ListFilter::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].links.len(), 5);
}

#[tokio::test]
async fn list_stream_fetches_pages_as_consumed_and_stops() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let ids = create_links(&client, 5).await;
    let mut stream = client.links().list_stream(ListFilter::new().page_size(2));
    let first = stream.try_next().await.unwrap().unwrap();
    let second = stream.try_next().await.unwrap().unwrap();
    assert!(ids.contains(&first.id) && ids.contains(&second.id));
    // The second page has not been asked for yet: a fault injected now hits its request.
    mock.inject_fault(Fault::new(
        FaultRoute::ListLinks,
        FaultKind::Status {
            status: 400,
            retry_after: None,
        },
    ));
    let err = stream.try_next().await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    // After an error the stream ends, and stays ended.
    assert!(stream.next().await.is_none());
    assert!(stream.next().await.is_none());

    // Without the fault: all five, then the end.
    let all: Vec<_> = client
        .links()
        .list_stream(ListFilter::new().page_size(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let mut stream = client.links().list_stream(ListFilter::new().page_size(5));
    for _ in 0..5 {
        stream.try_next().await.unwrap().unwrap();
    }
    assert!(stream.try_next().await.unwrap().is_none());
}

#[tokio::test]
async fn list_stream_applies_the_client_side_filters() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let ids = create_links(&client, 4).await;
    mock.complete_link(&ids[0], None).await.unwrap();
    mock.complete_link(&ids[2], None).await.unwrap();
    mock.fail_link(&ids[3], "AUTOMATION_ERROR", "boom")
        .await
        .unwrap();
    let listed = |filter: ListFilter| {
        let client = client.clone();
        async move {
            let mut ids: Vec<String> = client
                .links()
                .list_stream(filter.page_size(1))
                .map_ok(|link| link.id)
                .try_collect()
                .await
                .unwrap();
            ids.sort();
            ids
        }
    };
    let mut complete = vec![ids[0].clone(), ids[2].clone()];
    complete.sort();
    assert_eq!(
        listed(ListFilter::new().client_side_status(LinkStatus::Complete)).await,
        complete
    );
    let mut done = vec![ids[0].clone(), ids[2].clone(), ids[3].clone()];
    done.sort();
    assert_eq!(
        listed(
            ListFilter::new()
                .client_side_status(LinkStatus::Complete)
                .client_side_status(LinkStatus::Failed)
        )
        .await,
        done
    );
    let future = i64::MAX;
    assert!(listed(ListFilter::new().client_side_updated_since(future))
        .await
        .is_empty());
    assert_eq!(
        listed(ListFilter::new().client_side_updated_since(0))
            .await
            .len(),
        4
    );
}
