//! Sample results: generated for every catalog operation, valid against its result schema (checked
//! here with an independently compiled validator), in the single- and multi-operation forms, and
//! the same data the sandbox page offers.

mod common;

use common::*;
use serde_json::{json, Value};

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("catalog schema compiles")
}

#[tokio::test]
async fn every_operation_gets_schema_valid_sample_data() {
    let mock = start_mock().await;
    let catalog = passage_mock::pinned_catalog();
    let mut checked = 0;
    for op in catalog.operations() {
        let mut body = json!({"integrationId": op.integration, "operations": [{"resource": op.resource, "action": op.action}]});
        if op.resource == "paymentMethod" && op.action == "write" {
            body["operations"][0]["arguments"] = json!({"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"123","nameOnCard":"J","billingZip":"10001"});
        }
        let created = create_ok(&mock, &body).await;
        let id = created["linkId"].as_str().unwrap();
        let (status, answer) = control(&mock, &format!("/sandbox/links/{id}/complete"), None).await;
        assert_eq!(
            status, 200,
            "{}/{}/{}: {answer}",
            op.integration, op.resource, op.action
        );
        let (_, link) = get_link(&mock, id).await;
        let result = &link["result"];
        if let Some(schema) = &op.spec.result {
            let errors: Vec<String> = validator(schema)
                .iter_errors(result)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{}/{}/{}: {errors:?}\n{result}",
                op.integration,
                op.resource,
                op.action
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} operations");
}

#[tokio::test]
async fn multi_operation_links_get_the_operations_wrapper() {
    let mock = start_mock().await;
    let catalog = passage_mock::pinned_catalog();
    let created = create_ok(
        &mock,
        &json!({"integrationId":"att","operations":[
            {"resource":"mobileBillingStatement","action":"read"},
            {"resource":"paymentMethod","action":"read"},
            {"resource":"paymentMethod","action":"read"}]}),
    )
    .await;
    let id = created["linkId"].as_str().unwrap();
    mock.complete_link(id, None).await.unwrap();
    let result = get_link(&mock, id).await.1["result"].clone();
    let operations = result["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("{result}"));
    assert_eq!(operations.len(), 3);
    assert_eq!(result.as_object().unwrap().len(), 1);
    for (entry, (resource, action)) in operations.iter().zip([
        ("mobileBillingStatement", "read"),
        ("paymentMethod", "read"),
        ("paymentMethod", "read"),
    ]) {
        assert_eq!(entry["resource"], resource);
        assert_eq!(entry["action"], action);
        let schema = catalog
            .operation("att", resource, action)
            .unwrap()
            .spec
            .result
            .clone()
            .unwrap();
        assert!(validator(&schema).is_valid(&entry["data"]), "{entry}");
    }
    // The same operation twice gets its own data per position.
    assert_ne!(
        operations[1]["data"], operations[2]["data"],
        "each position has its own seed"
    );
}

/// Extracts and unescapes the first `<textarea ...>...</textarea>` of the page.
fn textareas(html: &str) -> Vec<String> {
    html.split("<textarea")
        .skip(1)
        .map(|rest| {
            let start = rest.find('>').unwrap() + 1;
            let end = rest.find("</textarea>").unwrap();
            rest[start..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

#[tokio::test]
async fn sandbox_page_offers_the_same_sample_the_control_api_stores() {
    let mock = start_mock().await;
    let created = create_ok(
        &mock,
        &json!({"integrationId":"doordash","operations":[{"resource":"orderHistory","action":"read"}]}),
    )
    .await;
    let page = client()
        .get(created["appClipUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    let offered: Value = serde_json::from_str(&textareas(&html)[0]).unwrap();
    let id = created["linkId"].as_str().unwrap();
    mock.complete_link(id, None).await.unwrap();
    assert_eq!(
        get_link(&mock, id).await.1["result"],
        offered,
        "deterministic per (seed, link, operation)"
    );
}
