//! The whole flow against the emulator over real HTTP: create (typed arguments) -> complete
//! (control API) -> get / wait -> typed results equal to the data the emulator sent; failure and
//! expiry; waiting through a burst of 503s; list and providers.

mod client_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client_support::{client, client_with, fast_policy, mock, SECRET};
use passage_connect::client::WaitOptions;
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
