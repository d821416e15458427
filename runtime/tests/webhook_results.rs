//! From a verified webhook to the generated types: the seed billing payload of a
//! single-operation tmobile link, and a multi-operation result.
#![cfg(feature = "test-util")]

use passage_connect::link::{FailureCode, LinkStatus};
use passage_connect::link::{OperationRef, ResultError};
use passage_connect::types::OperationResult;
use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{LinkEvent, ManualClock, StaticKeys, WebhookEvent, WebhookVerifier};

const NOW: u64 = 1_704_067_200;
const SEED: &str = r#"{"event":"link.complete","linkId":"link_abc123","status":"complete","result":{"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]},"error":null,"timestamp":1704067200000}"#;

async fn verified_event(body: &str) -> WebhookEvent {
    let key = WebhookSigningKey::generate();
    let verifier =
        WebhookVerifier::new(StaticKeys::from_pem("key_abc123", &key.public_key_pem()).unwrap())
            .with_clock(ManualClock::at_unix_secs(NOW));
    let headers = sign_webhook(&key, "key_abc123", body.as_bytes(), NOW).to_header_map();
    verifier
        .verify(&headers, body.as_bytes())
        .await
        .unwrap()
        .event()
        .unwrap()
}

fn link(event: &WebhookEvent) -> &LinkEvent {
    event.link_event().expect("a link event")
}

#[tokio::test]
async fn seed_billing_webhook_decodes_into_the_tmobile_type() {
    let event = verified_event(SEED).await;
    assert!(matches!(event, WebhookEvent::LinkComplete(_)));
    let link = link(&event);
    assert_eq!(link.link_id, "link_abc123");
    assert_eq!(link.status, LinkStatus::Complete);
    assert_eq!(link.timestamp, 1_704_067_200_000);
    let results = link
        .decode_results(
            "tmobile",
            &[OperationRef::new("mobileBillingStatement", "read")],
        )
        .unwrap();
    let only = results.single().unwrap();
    let Ok(OperationResult::TmobileMobileBillingStatementRead(billing)) = &only.outcome else {
        panic!("{:?}", only.outcome);
    };
    assert_eq!(billing.billing.len(), 1);
    let item = &billing.billing[0];
    assert_eq!(item.period_start, "01/15/2025");
    assert_eq!(item.period_end.as_deref(), Some("02/14/2025"));
    assert_eq!(item.amount_due, 85.0);
    assert_eq!(item.currency, "USD");
    // Re-serialized, the typed result is the original data.
    let again = serde_json::to_value(only.result().unwrap()).unwrap();
    assert_eq!(
        again,
        serde_json::json!({"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]})
    );
}

#[tokio::test]
async fn multi_operation_result_dispatches_each_operation() {
    let body = r#"{"event":"link.complete","linkId":"link_2","status":"complete","result":{"operations":[{"resource":"mobileBillingStatement","action":"read","data":{"billing":[{"periodStart":"01/15/2025","amountDue":85.0,"currency":"USD"}]}},{"resource":"paymentMethod","action":"read","data":{"paymentMethods":[{"order":0,"vendorId":"v1","last4":"1111","type":"credit_card","isDefault":true,"raw":{}}]},"note":"kept"}]},"error":null,"timestamp":1704067200000}"#;
    let event = verified_event(body).await;
    let ops = [
        OperationRef::new("mobileBillingStatement", "read"),
        OperationRef::new("paymentMethod", "read"),
    ];
    let results = link(&event).decode_results("tmobile", &ops).unwrap();
    assert_eq!(results.len(), 2);
    assert!(matches!(
        results
            .find("mobileBillingStatement", "read")
            .unwrap()
            .outcome,
        Ok(OperationResult::TmobileMobileBillingStatementRead(_))
    ));
    let pm = results.find("paymentMethod", "read").unwrap();
    assert!(
        matches!(pm.outcome, Ok(OperationResult::TmobilePaymentMethodRead(_))),
        "{:?}",
        pm.outcome
    );
    assert_eq!(pm.extra["note"], "kept");
    let strict = results.into_strict().unwrap();
    assert_eq!(strict[1].resource(), "paymentMethod");

    // The same body with the link's operations in another order is refused at index 0.
    let reversed = [ops[1].clone(), ops[0].clone()];
    assert!(matches!(
        link(&event).decode_results("tmobile", &reversed),
        Err(ResultError::OperationMismatch { index: 0, .. })
    ));
}

#[tokio::test]
async fn failed_webhook_has_the_error_and_no_result() {
    let body = r#"{"event":"link.failed","linkId":"link_abc123","status":"failed","error":{"code":"AUTOMATION_ERROR","message":"Login failed"},"timestamp":1704067200000}"#;
    let event = verified_event(body).await;
    let WebhookEvent::LinkFailed(link) = &event else {
        panic!("{event:?}")
    };
    let error = link.error.as_ref().unwrap();
    assert_eq!(error.code, FailureCode::AutomationError);
    assert_eq!(error.message, "Login failed");
    assert!(link.result.is_none());
    assert!(link.status.ends_wait() && !link.status.is_terminal());
}

#[tokio::test]
async fn unknown_event_is_kept_whole() {
    let body = r#"{"event":"link.expired","linkId":"link_abc123","timestamp":1704067200000}"#;
    match verified_event(body).await {
        WebhookEvent::Unknown { event, raw } => {
            assert_eq!(event, "link.expired");
            assert_eq!(raw.get(), body);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn one_operation_not_fitting_keeps_the_others_with_path_and_raw() {
    let body = r#"{"event":"link.complete","linkId":"l","result":{"operations":[{"resource":"mobileBillingStatement","action":"read","data":{"billing":[{"periodStart":"01/15/2025","amountDue":"85","currency":"USD"}]}},{"resource":"paymentMethod","action":"read","data":{"paymentMethods":[]}}]},"timestamp":1}"#;
    let event = verified_event(body).await;
    let ops = [
        OperationRef::new("mobileBillingStatement", "read"),
        OperationRef::new("paymentMethod", "read"),
    ];
    let results = link(&event).decode_results("tmobile", &ops).unwrap();
    let err = results.as_slice()[0].outcome.as_ref().unwrap_err();
    assert!(err.path.contains("billing[0].amountDue"), "{}", err.path);
    assert!(err.raw.contains(r#""amountDue":"85""#));
    assert!(results.as_slice()[1].result().is_some());
    assert!(matches!(
        results.into_strict(),
        Err(ResultError::Decode { index: 0, .. })
    ));
}
