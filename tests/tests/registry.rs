//! The registry and `OperationResult` as the runtime, emulator and CLI use them, now that each
//! integration's operations live in its own feature-gated module of the generated crate.

mod support;

use passage_generated::{decode_result, find_operation, operations, OperationResult};

#[test]
fn operations_lists_every_compiled_operation_in_order_and_find_operation_agrees() {
    let all: Vec<_> = operations().collect();
    // `full`: every operation of the pinned catalog.
    let catalog_operations: usize = support::pinned_catalog()
        .providers
        .iter()
        .map(|p| {
            p.resources
                .iter()
                .map(|r| r.operations.len())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(all.len(), 12);
    assert_eq!(all.len(), catalog_operations);
    let keys: Vec<_> = all
        .iter()
        .map(|op| (op.integration, op.resource, op.action))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "operations() is sorted");
    for op in &all {
        assert_eq!(
            find_operation(op.integration, op.resource, op.action),
            Some(*op)
        );
        assert!(op.result_schema.is_some(), "{op:?}");
    }
    assert_eq!(
        passage_generated::tmobile::OPERATIONS.len(),
        all.iter().filter(|op| op.integration == "tmobile").count()
    );
    assert_eq!(find_operation("tmobile", "paymentMethod", "delete"), None);
    assert_eq!(find_operation("nosuch", "paymentMethod", "read"), None);
}

#[test]
fn a_decoded_result_names_its_operation_serializes_and_compares() {
    let data = br#"{"paymentMethods":[{"order":1,"vendorId":"v","last4":"4242","type":"credit_card","isDefault":true,"raw":null}]}"#;
    let tmobile = decode_result("tmobile", "paymentMethod", "read", data).unwrap();
    let verizon = decode_result("verizon", "paymentMethod", "read", data).unwrap();
    assert!(matches!(
        tmobile,
        OperationResult::TmobilePaymentMethodRead(_)
    ));
    assert_eq!(
        tmobile.operation(),
        find_operation("tmobile", "paymentMethod", "read")
    );
    assert_eq!(
        (tmobile.integration(), tmobile.resource(), tmobile.action()),
        ("tmobile", "paymentMethod", "read")
    );
    assert_eq!(verizon.integration(), "verizon");
    let back: serde_json::Value = serde_json::to_value(&tmobile).unwrap();
    assert_eq!(
        back,
        serde_json::from_slice::<serde_json::Value>(data).unwrap()
    );
    assert_eq!(
        tmobile,
        decode_result("tmobile", "paymentMethod", "read", data).unwrap()
    );
    // Same data, another integration's operation: not equal.
    assert_ne!(tmobile, verizon);
    // Debug and Clone (written out, not derived) behave as derived ones would.
    assert_eq!(tmobile.clone(), tmobile);
    let OperationResult::TmobilePaymentMethodRead(inner) = &tmobile else {
        unreachable!("matched above")
    };
    assert_eq!(
        format!("{tmobile:?}"),
        format!("TmobilePaymentMethodRead({inner:?})")
    );

    let unknown = decode_result("tmobile", "paymentMethod", "delete", b"{\"a\":1}").unwrap();
    assert!(unknown.is_unknown());
    assert_eq!(unknown.operation(), None);
    assert_eq!(
        (unknown.integration(), unknown.resource(), unknown.action()),
        ("tmobile", "paymentMethod", "delete")
    );
    assert_eq!(serde_json::to_string(&unknown).unwrap(), "{\"a\":1}");
    assert_eq!(unknown.clone(), unknown);
    assert_eq!(
        format!("{unknown:?}"),
        r#"Unknown { integration: "tmobile", resource: "paymentMethod", action: "delete", data: RawValue({"a":1}) }"#
    );
}
