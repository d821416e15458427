//! Every `Error` variant produced by a real HTTP answer (or non-answer) of the emulator, in both
//! error-body forms, and none of them showing the API key.

mod client_support;

use std::time::Duration;

use client_support::{assert_no_key, client, client_with, fast_policy, mock, SECRET};
use passage_connect::client::{Client, RetryPolicy, WaitOptions};
use passage_connect::error::ValidationSource;
use passage_connect::link::LinkStatus;
use passage_connect::Error;
use passage_mock::{Fault, FaultKind, FaultRoute};

fn status_fault(route: FaultRoute, status: u16) -> Fault {
    Fault::new(
        route,
        FaultKind::Status {
            status,
            retry_after: None,
        },
    )
}

#[tokio::test]
async fn server_validation_error_in_both_forms() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let send = || {
        client
            .links()
            .create("tmobile")
            .operation("noSuchResource", "read")
            .allow_unknown_operations()
            .send()
    };
    let err = send().await.unwrap_err();
    let Error::Validation {
        issues,
        origin,
        response,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*origin, ValidationSource::Server);
    assert_eq!(issues[0].path, "operations.0", "{issues:?}");
    assert_eq!(response.as_ref().unwrap().status, 400);
    assert_no_key(&err);

    mock.inject_fault(Fault::new(
        FaultRoute::CreateLink,
        FaultKind::NestedErrorBody { status: None },
    ));
    let nested = send().await.unwrap_err();
    let Error::Validation {
        issues, response, ..
    } = &nested
    else {
        panic!("{nested:?}")
    };
    assert_eq!(issues[0].path, "operations.0", "{issues:?}");
    assert_eq!(
        response.as_ref().unwrap().code.as_deref(),
        Some("validation_error")
    );
    assert_eq!(mock.link_count(), 0);
    mock.shutdown().await;
}

#[tokio::test]
async fn local_validation_sends_nothing_and_names_dot_paths() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let card: passage_connect::types::tmobile::PaymentMethodWriteArguments =
        serde_json::from_value(serde_json::json!({
            "cardNumber": "4111111111111111", "expirationDate": "12/28", "cvv": "12",
            "nameOnCard": "John Doe", "billingZip": "10001"
        }))
        .unwrap();
    let err = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .operation_with_arguments(&card)
        .webhook_url("not a url")
        .send()
        .await
        .unwrap_err();
    let Error::Validation { issues, origin, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*origin, ValidationSource::Local);
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        ["operations.1.arguments.cvv", "webhookUrl"],
        "{issues:?}"
    );
    assert!(!format!("{err:?}").contains("4111111111111111"));

    // Typed arguments for an integration their type does not list.
    let err = client
        .links()
        .create("ubereats")
        .operation_with_arguments(&card)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Validation { issues, .. } if issues[0].path == "operations.0"));

    // An operation the registry does not know, and raw JSON arguments against the schema.
    let err = client
        .links()
        .create("tmobile")
        .operation("noSuchResource", "read")
        .operation_with_json_arguments(
            "mobileBillingStatement",
            "read",
            serde_json::json!({"limit": "three"}),
        )
        .send()
        .await
        .unwrap_err();
    let Error::Validation { issues, .. } = &err else {
        panic!("{err:?}")
    };
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        ["operations.0", "operations.1.arguments.limit"],
        "{issues:?}"
    );
    assert_eq!(mock.link_count(), 0);
    mock.shutdown().await;
}

#[tokio::test]
async fn unauthorized_with_a_wrong_key_and_no_key_in_the_error() {
    let mock = mock().await;
    let (client, _) = client_with(&mock.base_url(), "psg_wrong_key", fast_policy(3));
    let err = client.links().list().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(!err.to_string().contains("psg_wrong_key"));
    assert!(!format!("{err:?}").contains("psg_wrong_key"));
    mock.shutdown().await;
}

#[tokio::test]
async fn not_found_in_both_forms() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let err = client.links().get("link_does_not_exist").await.unwrap_err();
    let Error::NotFound { response } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(response.status, 404);
    assert!(response.request.contains("/v1/links/link_does_not_exist"));
    assert_no_key(&err);

    mock.inject_fault(Fault::new(
        FaultRoute::GetLink,
        FaultKind::NestedErrorBody { status: None },
    ));
    let err = client.links().get("link_does_not_exist").await.unwrap_err();
    let Error::NotFound { response } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(response.code.as_deref(), Some("not_found"));
    assert!(response.raw.contains("\"code\""));
    mock.shutdown().await;
}

#[tokio::test]
async fn forbidden_conflict_expired_and_other_statuses_from_real_answers() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    mock.inject_fault(status_fault(FaultRoute::ListLinks, 403));
    let err = client.links().list().await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    assert_no_key(&err);

    mock.inject_fault(Fault::new(
        FaultRoute::ListLinks,
        FaultKind::NestedErrorBody { status: Some(403) },
    ));
    let err = client.links().list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Forbidden { response } if response.code.as_deref() == Some("forbidden")),
        "{err:?}"
    );

    mock.inject_fault(status_fault(FaultRoute::GetLink, 409));
    let err = client.links().get("link_x").await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    mock.inject_fault(Fault::new(
        FaultRoute::GetLink,
        FaultKind::NestedErrorBody { status: Some(409) },
    ));
    let err = client.links().get("link_x").await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    mock.inject_fault(status_fault(FaultRoute::GetLink, 410));
    let err = client.links().get("link_x").await.unwrap_err();
    assert!(matches!(err, Error::Expired { .. }), "{err:?}");

    mock.inject_fault(status_fault(FaultRoute::Providers, 418));
    let err = client.providers().list().await.unwrap_err();
    assert!(
        matches!(&err, Error::UnexpectedStatus { response } if response.status == 418),
        "{err:?}"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn rate_limited_and_server_errors_after_retries_give_up() {
    let mock = mock().await;
    let (client, recorder) = client(&mock);
    mock.inject_fault(
        Fault::new(
            FaultRoute::ListLinks,
            FaultKind::Status {
                status: 429,
                retry_after: Some(120),
            },
        )
        .times(0),
    );
    // Retry-After beyond the policy's limit (60 s): no retry, the caller gets the server's value.
    let err = client.links().list().await.unwrap_err();
    let Error::RateLimited { retry_after, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(120)));
    assert!(err.is_transient());
    assert!(recorder.events().is_empty());
    mock.clear_faults();

    mock.inject_fault(status_fault(FaultRoute::GetLink, 500).times(0));
    let err = client.links().get("link_x").await.unwrap_err();
    let Error::Server { status, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 500);
    assert_eq!(
        recorder.events().len(),
        3,
        "3 retries after the first attempt"
    );
    assert_no_key(&err);
    mock.shutdown().await;
}

#[tokio::test]
async fn decode_error_keeps_the_body_and_names_a_path() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let link = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .send()
        .await
        .unwrap();
    mock.inject_fault(Fault::new(FaultRoute::GetLink, FaultKind::MalformedJson));
    let err = client.links().get(&link.id).await.unwrap_err();
    let Error::Decode { path, body, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(!path.is_empty());
    assert!(!body.is_empty());
    assert_no_key(&err);
    mock.shutdown().await;
}

#[tokio::test]
async fn transport_errors_name_the_url_and_never_the_key() {
    // A port bound but never listened on: held for the whole test (no other test can take it),
    // and every connection to it is refused.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let (client, recorder) = client_with(&base, SECRET, fast_policy(2));
    let err = client.links().get("link_1").await.unwrap_err();
    let Error::Transport { url, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(url.ends_with("/v1/links/link_1"));
    assert_eq!(recorder.events().len(), 2);
    assert_no_key(&err);

    // A create that never connected is certainly not on the server: it is retried too.
    let (client, recorder) = client_with(&base, SECRET, fast_policy(2));
    let err = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(recorder.events().len(), 2);
    assert_no_key(&err);
}

#[tokio::test]
async fn request_timeout_is_a_transport_error() {
    let mock = mock().await;
    let client = Client::builder(SECRET)
        .base_url(mock.base_url())
        .timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    mock.inject_fault(Fault::new(
        FaultRoute::Providers,
        FaultKind::Delay(Duration::from_secs(5)),
    ));
    let err = client.providers().list().await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { source, .. } if source.is_timeout()),
        "{err:?}"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_on_create_is_indeterminate_and_not_repeated() {
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
        .external_user_id("user_dup_check")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Indeterminate { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_no_key(&err);
    assert_eq!(
        mock.link_count(),
        1,
        "the link exists once: the create was not repeated"
    );
    assert!(recorder.events().is_empty());
    // The caller can find it.
    let list = client.links().list().await.unwrap();
    let found: Vec<_> = list
        .links
        .iter()
        .filter(|l| l.external_user_id.as_deref() == Some("user_dup_check"))
        .collect();
    assert_eq!(found.len(), 1);
    mock.shutdown().await;
}

#[tokio::test]
async fn wait_deadline_is_a_timeout_with_the_last_status() {
    let mock = mock().await;
    let (client, _) = client(&mock);
    let link = client
        .links()
        .create("tmobile")
        .operation("paymentMethod", "read")
        .send()
        .await
        .unwrap();
    let options = WaitOptions::default()
        .timeout(Duration::from_millis(600))
        .initial_interval(Duration::from_millis(20))
        .min_interval(Duration::from_millis(10));
    let err = client
        .links()
        .wait_with(&link.id, &options)
        .await
        .unwrap_err();
    let Error::Timeout {
        link_id,
        last_status,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(link_id, &link.id);
    assert_eq!(last_status, &Some(LinkStatus::Pending));
    assert_no_key(&err);
    mock.shutdown().await;
}

#[test]
fn config_errors_never_show_the_key() {
    let err = Client::builder(format!("{SECRET}\u{7f}"))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert_no_key(&err);
    let client = Client::builder(SECRET).build().unwrap();
    assert!(!format!("{client:?}").contains(SECRET));
}
