//! Unions are tolerant but not gullible: `Unknown` keeps only what a newer version of the schema
//! could produce (an object with a tag value not known yet; a value of a JSON kind some variant
//! has), and everything else is an error naming its JSON path. Duplicate keys are refused, so
//! decode → encode → decode is stable.

use passage_generated::{decode_result, DecodeError, OperationResult};
use serde_json::{json, Value};

fn order(fulfillment: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"orderCount": 1, "orders": [{
        "id": "3f1c2e4a-9b7d-4c1e-8a2f-6d5b4c3a2e1f",
        "store": "Joe's",
        "placedAt": "2025-01-15T12:00:00Z",
        "total": 12.5,
        "items": [{"name": "Soup", "price": 12.5}],
        "fulfillment": fulfillment,
    }]}))
    .unwrap()
}

fn doordash(bytes: &[u8]) -> Result<OperationResult, Box<DecodeError>> {
    decode_result("doordash", "orderHistory", "read", bytes).map_err(Box::new)
}

#[test]
fn a_value_of_a_kind_no_variant_has_is_an_error_at_its_path() {
    let err = decode_result("att", "paymentMethod", "write", b"42").unwrap_err();
    assert_eq!(err.path, "$");
    assert!(
        err.message.contains("expected object, found a number"),
        "{err}"
    );

    let err = doordash(&order(json!("garbage"))).unwrap_err();
    assert_eq!(err.path, "orders[0].fulfillment");
    assert!(
        err.message
            .contains("expected an object with a `kind` tag, found a string"),
        "{err}"
    );
}

#[test]
fn a_known_tag_with_a_body_that_does_not_fit_names_the_path_inside() {
    let err = doordash(&order(
        json!({"kind": "delivery", "address": 5, "deliveredAt": null}),
    ))
    .unwrap_err();
    assert_eq!(err.path, "orders[0].fulfillment.address");
    assert!(err.message.contains("invalid type: integer `5`"), "{err}");

    let err = doordash(&order(json!({"kind": "pickup"}))).unwrap_err();
    assert_eq!(err.path, "orders[0].fulfillment");
    assert!(err.message.contains("missing field `readyAt`"), "{err}");

    let err = doordash(&order(json!({"kind": 7, "readyAt": "x"}))).unwrap_err();
    assert_eq!(err.path, "orders[0].fulfillment.kind");
}

#[test]
fn an_unknown_tag_is_kept_raw_and_round_trips() {
    let drone = json!({"kind": "drone", "droneId": "D-7", "eta": 12});
    let decoded = doordash(&order(drone.clone())).unwrap();
    let back = serde_json::to_value(&decoded).unwrap();
    assert_eq!(back["orders"][0]["fulfillment"], drone);
    let OperationResult::DoordashOrderHistoryRead(result) = decoded else {
        panic!("typed result expected");
    };
    assert!(matches!(
        result.orders[0].fulfillment,
        passage_generated::types::doordash_order_history_read_result::OrderFulfillment::Unknown(_)
    ));
}

#[test]
fn an_untagged_union_keeps_an_unknown_object_but_not_a_scalar() {
    // paymentMethod/write answers `{dryRun, card}` or `{success, card}`: a new object shape is
    // something Passage could add; a string never.
    let decoded = decode_result("att", "paymentMethod", "write", br#"{"queued": true}"#).unwrap();
    assert_eq!(
        serde_json::to_value(&decoded).unwrap(),
        json!({"queued": true})
    );
    for bad in [&b"\"ok\""[..], b"true", b"null", b"[1]"] {
        let err = decode_result("att", "paymentMethod", "write", bad).unwrap_err();
        assert_eq!(err.path, "$", "{err}");
        assert!(err.message.contains("expected object"), "{err}");
    }
}

#[test]
fn duplicate_keys_inside_a_union_are_an_error_so_decoding_is_stable() {
    let bytes = br#"{"orderCount":1,"orders":[{"id":"3f1c2e4a-9b7d-4c1e-8a2f-6d5b4c3a2e1f","store":"s","placedAt":"2025-01-15T12:00:00Z","total":1,"items":[],"fulfillment":{"kind":"pickup","readyAt":"a","readyAt":"b"}}]}"#;
    let err = doordash(bytes).unwrap_err();
    assert_eq!(err.path, "orders[0].fulfillment");
    assert!(err.message.contains("duplicate key `readyAt`"), "{err}");
}

#[test]
fn duplicate_keys_are_refused_in_plain_objects_too() {
    // A declared field sent twice (serde's own rule) and an unknown one sent twice (kept in
    // `extra`): both refused, with the object's path.
    let declared = br#"{"orderCount":1,"orderCount":2,"orders":[]}"#;
    let err = doordash(declared).unwrap_err();
    assert!(
        err.message.contains("duplicate field `orderCount`"),
        "{err}"
    );
    let unknown = br#"{"orderCount":0,"orders":[],"note":"a","note":"b"}"#;
    let err = doordash(unknown).unwrap_err();
    assert!(err.message.contains("duplicate field `note`"), "{err}");
    // Once is fine, and kept.
    let once = doordash(br#"{"orderCount":0,"orders":[],"note":"a"}"#).unwrap();
    assert_eq!(serde_json::to_value(&once).unwrap()["note"], "a");
}
