//! The emulated API over real HTTP: validation, authentication, the link lifecycle, claims,
//! expiry, listing, the catalog and verification keys.

mod common;

use std::time::{Duration, Instant};

use common::*;
use passage_mock::{MockConfig, MockError};
use serde_json::{json, Value};

fn write_args() -> Value {
    json!({"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"123","nameOnCard":"John Doe","billingZip":"10001"})
}

fn with_args(args: Value) -> Value {
    json!({"integrationId":"tmobile","operations":[{"resource":"paymentMethod","action":"write","arguments":args}]})
}

fn merged(base: Value, extra: Value) -> Value {
    let mut base = base;
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[tokio::test]
async fn every_validation_case_is_a_400_with_the_right_path() {
    let mock = start_mock().await;
    let mut bad_cvv = write_args();
    bad_cvv["cvv"] = json!("12");
    let mut extra_key = write_args();
    extra_key["bogus"] = json!(true);
    let mut no_cvv = write_args();
    no_cvv.as_object_mut().unwrap().remove("cvv");
    let mut address = write_args();
    address["billingAddress"] = json!({"line1": "1 Main St", "state": "NY"});
    let mut bad_expiry = write_args();
    bad_expiry["expirationDate"] = json!("13/28");

    let cases: Vec<(&str, Value, &str)> = vec![
        ("empty body", json!({}), "integrationId"),
        ("empty body needs operations", json!({}), "operations"),
        ("not an object", json!([1, 2]), ""),
        (
            "integrationId mistyped",
            merged(billing_link(), json!({"integrationId": 5})),
            "integrationId",
        ),
        (
            "integrationId empty",
            merged(billing_link(), json!({"integrationId": ""})),
            "integrationId",
        ),
        (
            "integrationId unknown",
            merged(billing_link(), json!({"integrationId": "nope"})),
            "integrationId",
        ),
        (
            "operations mistyped",
            json!({"integrationId":"tmobile","operations":"read"}),
            "operations",
        ),
        (
            "operations empty",
            json!({"integrationId":"tmobile","operations":[]}),
            "operations",
        ),
        (
            "operation not an object",
            json!({"integrationId":"tmobile","operations":[5]}),
            "operations.0",
        ),
        (
            "resource missing",
            json!({"integrationId":"tmobile","operations":[{"action":"read"}]}),
            "operations.0.resource",
        ),
        (
            "action missing",
            json!({"integrationId":"tmobile","operations":[{"resource":"paymentMethod"}]}),
            "operations.0.action",
        ),
        (
            "action mistyped",
            json!({"integrationId":"tmobile","operations":[{"resource":"paymentMethod","action":1}]}),
            "operations.0.action",
        ),
        (
            "unknown action",
            json!({"integrationId":"tmobile","operations":[{"resource":"paymentMethod","action":"delete"}]}),
            "operations.0",
        ),
        (
            "unknown resource",
            json!({"integrationId":"ubereats","operations":[{"resource":"paymentMethod","action":"read"}]}),
            "operations.0",
        ),
        (
            "arguments mistyped",
            json!({"integrationId":"tmobile","operations":[{"resource":"paymentMethod","action":"write","arguments":"x"}]}),
            "operations.0.arguments",
        ),
        (
            "required argument missing (second op)",
            json!({"integrationId":"tmobile","operations":[{"resource":"paymentMethod","action":"read"},{"resource":"paymentMethod","action":"write","arguments":no_cvv}]}),
            "operations.1.arguments.cvv",
        ),
        (
            "arguments absent but required",
            json!({"integrationId":"att","operations":[{"resource":"paymentMethod","action":"write"}]}),
            "operations.0.arguments.cardNumber",
        ),
        (
            "argument pattern",
            with_args(bad_cvv),
            "operations.0.arguments.cvv",
        ),
        (
            "argument pattern (expiry)",
            with_args(bad_expiry),
            "operations.0.arguments.expirationDate",
        ),
        (
            "unknown argument",
            with_args(extra_key),
            "operations.0.arguments.bogus",
        ),
        (
            "nested required argument",
            with_args(address),
            "operations.0.arguments.billingAddress.city",
        ),
        (
            "integer argument bound",
            json!({"integrationId":"verizon","operations":[{"resource":"mobileBillingStatement","action":"read","arguments":{"limit":0}}]}),
            "operations.0.arguments.limit",
        ),
        (
            "integer argument mistyped",
            json!({"integrationId":"verizon","operations":[{"resource":"mobileBillingStatement","action":"read","arguments":{"limit":"5"}}]}),
            "operations.0.arguments.limit",
        ),
        (
            "arguments to an operation without any",
            json!({"integrationId":"tmobile","operations":[{"resource":"paymentMethod","action":"read","arguments":{"x":1}}]}),
            "operations.0.arguments",
        ),
        (
            "both forms at once",
            merged(
                billing_link(),
                json!({"resource":"paymentMethod","action":"read"}),
            ),
            "operations",
        ),
        (
            "older form without action",
            json!({"integrationId":"tmobile","resource":"paymentMethod"}),
            "action",
        ),
        (
            "older form bad arguments",
            json!({"integrationId":"tmobile","resource":"paymentMethod","action":"write","arguments":{"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"1","nameOnCard":"J","billingZip":"10001"}}),
            "arguments.cvv",
        ),
        (
            "older form unknown operation",
            json!({"integrationId":"tmobile","resource":"orderHistory","action":"read"}),
            "resource",
        ),
        (
            "webhookUrl not a URL",
            merged(billing_link(), json!({"webhookUrl": "not a url"})),
            "webhookUrl",
        ),
        (
            "webhookUrl not http",
            merged(
                billing_link(),
                json!({"webhookUrl": "ftp://example.com/hook"}),
            ),
            "webhookUrl",
        ),
        (
            "webhookUrl mistyped",
            merged(billing_link(), json!({"webhookUrl": 5})),
            "webhookUrl",
        ),
        (
            "webhookUrl null",
            merged(billing_link(), json!({"webhookUrl": null})),
            "webhookUrl",
        ),
        (
            "returnUrl plain http",
            merged(
                billing_link(),
                json!({"returnUrl": "http://example.com/done"}),
            ),
            "returnUrl",
        ),
        (
            "returnUrl javascript",
            merged(billing_link(), json!({"returnUrl": "javascript:alert(1)"})),
            "returnUrl",
        ),
        (
            "returnUrl not a URL",
            merged(billing_link(), json!({"returnUrl": "done"})),
            "returnUrl",
        ),
        (
            "externalUserId mistyped",
            merged(billing_link(), json!({"externalUserId": 42})),
            "externalUserId",
        ),
        (
            "debug mistyped",
            merged(billing_link(), json!({"debug": "yes"})),
            "debug",
        ),
        (
            "expiresIn zero",
            merged(billing_link(), json!({"expiresIn": 0})),
            "expiresIn",
        ),
        (
            "expiresIn negative",
            merged(billing_link(), json!({"expiresIn": -5})),
            "expiresIn",
        ),
        (
            "expiresIn fractional",
            merged(billing_link(), json!({"expiresIn": 1.5})),
            "expiresIn",
        ),
        (
            "expiresIn string",
            merged(billing_link(), json!({"expiresIn": "60"})),
            "expiresIn",
        ),
    ];
    for (name, body, path) in cases {
        let (status, answer) = create(&mock, &body).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert_eq!(answer["error"], "Validation failed", "{name}: {answer}");
        let issues = answer["issues"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no issues: {answer}"));
        assert!(
            issues
                .iter()
                .all(|i| i["path"].is_string()
                    && i["message"].as_str().is_some_and(|m| !m.is_empty())),
            "{name}: {answer}"
        );
        assert!(
            issues.iter().any(|i| i["path"] == path),
            "{name}: expected an issue at `{path}`, got {answer}"
        );
    }
    assert_eq!(mock.link_count(), 0, "no invalid request may create a link");
}

#[tokio::test]
async fn invalid_json_and_several_issues_at_once() {
    let mock = start_mock().await;
    let response = client()
        .post(format!("{}/v1/links", mock.base_url()))
        .bearer_auth(mock.api_key())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["issues"][0]["path"], "");

    // The documented example: both problems are reported, not just the first.
    let (status, body) = create(
        &mock,
        &merged(
            billing_link(),
            json!({"webhookUrl": "nope", "expiresIn": -1}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    let paths: Vec<&str> = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["webhookUrl", "expiresIn"], "{body}");
    assert_eq!(body["issues"][0]["message"], "must be a valid URL");
    assert_eq!(body["issues"][1]["message"], "must be a positive integer");
}

#[tokio::test]
async fn validation_messages_never_echo_card_data() {
    let mock = start_mock().await;
    let mut args = write_args();
    args["cardNumber"] = json!("4111SECRET1111");
    args["cvv"] = json!("SECRETCVV");
    let (status, body) = create(&mock, &with_args(args)).await;
    assert_eq!(status, 400);
    assert!(!body.to_string().contains("SECRET"), "{body}");
}

#[tokio::test]
async fn create_answers_the_documented_body() {
    let mock = start_mock().await;
    let before = passage_now_ms();
    let body = json!({"integrationId":"tmobile","operations":[
        {"resource":"paymentMethod","action":"read"},
        {"resource":"paymentMethod","action":"write","arguments":write_args()}],
        "webhookUrl":"https://your-server.com/webhook","returnUrl":"https://your-app.com/done?tab=2#x",
        "externalUserId":"user_456","debug":true,"expiresIn":600});
    let created = create_ok(&mock, &body).await;
    let id = created["linkId"].as_str().unwrap();
    let code = created["claimCode"].as_str().unwrap();
    assert!(id.starts_with("link_") && id.len() > 10, "{created}");
    assert!(code.starts_with("clm_") && code.len() > 10, "{created}");
    assert_eq!(created["integrationId"], "tmobile");
    assert_eq!(
        created["operations"],
        json!([{"resource":"paymentMethod","action":"read"},{"resource":"paymentMethod","action":"write"}]),
        "arguments are not echoed"
    );
    assert!(!created.to_string().contains("4111111111111111"));
    assert_eq!(created["status"], "pending");
    assert_eq!(
        created["appClipUrl"],
        format!("{}/sandbox/{id}?code={code}", mock.base_url())
    );
    assert_eq!(
        created["returnUrl"],
        format!("https://your-app.com/done?tab=2&linkId={id}#x")
    );
    let created_at = created["createdAt"].as_u64().unwrap();
    assert!(
        created_at >= before && created_at <= passage_now_ms(),
        "{created}"
    );
    assert_eq!(created["expiresAt"].as_u64().unwrap(), created_at + 600_000);

    // Default expiry is 4 hours; a custom-scheme returnUrl gets linkId too.
    let created = create_ok(
        &mock,
        &merged(billing_link(), json!({"returnUrl":"myapp://done"})),
    )
    .await;
    let id = created["linkId"].as_str().unwrap();
    assert_eq!(created["returnUrl"], format!("myapp://done?linkId={id}"));
    assert_eq!(
        created["expiresAt"].as_u64().unwrap() - created["createdAt"].as_u64().unwrap(),
        14_400_000
    );

    // The older top-level form is accepted and echoed as an operation list.
    let created = create_ok(
        &mock,
        &json!({"integrationId":"apple-review","resource":"readHistory","action":"read","arguments":{"limit":3}}),
    )
    .await;
    assert_eq!(
        created["operations"],
        json!([{"resource":"readHistory","action":"read"}])
    );
    assert!(created.get("returnUrl").is_none());
}

fn passage_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn every_v1_route_requires_a_valid_bearer_key() {
    let mock = start_with(MockConfig::default().with_api_key("psg_test_second")).await;
    let base = mock.base_url();
    let routes: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::GET, format!("{base}/v1/providers")),
        (reqwest::Method::POST, format!("{base}/v1/links")),
        (reqwest::Method::GET, format!("{base}/v1/links")),
        (
            reqwest::Method::GET,
            format!("{base}/v1/links/link_unknown"),
        ),
    ];
    let bad: Vec<Option<String>> = vec![
        None,
        Some("Bearer psg_wrong".into()),
        Some("Bearer ".into()),
        Some("Bearer psg_test_moc".into()),
        Some("Bearer psg_test_mockX".into()),
        Some(format!("Basic {}", "psg_test_mock")),
        Some("psg_test_mock".into()),
    ];
    for (method, url) in &routes {
        for header in &bad {
            let mut request = client().request(method.clone(), url).json(&billing_link());
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let (status, body) = json_of(request.send().await.unwrap()).await;
            assert_eq!(status, 401, "{method} {url} with {header:?}");
            assert_eq!(body, json!({"error":"Unauthorized"}));
        }
        for good in ["Bearer psg_test_mock", "bearer psg_test_second"] {
            let response = client()
                .request(method.clone(), url)
                .header("authorization", good)
                .json(&billing_link())
                .send()
                .await
                .unwrap();
            assert_ne!(
                response.status().as_u16(),
                401,
                "{method} {url} with {good}"
            );
        }
    }
    // The public endpoints need no key.
    let (status, _) = claim(&mock, &json!({"code":"clm_unknown"})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unknown_link_is_a_404() {
    let mock = start_mock().await;
    let (status, body) = get_link(&mock, "link_doesnotexist").await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error":"Link not found"}));
    let (status, body) = control(&mock, "/sandbox/links/link_nope/complete", None).await;
    assert_eq!(status, 404, "{body}");
    assert!(matches!(
        mock.complete_link("link_nope", None).await,
        Err(MockError::LinkNotFound { .. })
    ));
}

#[tokio::test]
async fn lifecycle_pending_active_failed_active_complete() {
    let mock = start_mock().await;
    let created = create_ok(
        &mock,
        &merged(
            billing_link(),
            json!({"externalUserId":"user_456","returnUrl":"https://your-app.com/done"}),
        ),
    )
    .await;
    let id = created["linkId"].as_str().unwrap().to_string();
    let code = created["claimCode"].as_str().unwrap().to_string();

    let (status, link) = get_link(&mock, &id).await;
    assert_eq!(status, 200);
    assert_eq!(link["id"], id.as_str());
    assert_eq!(link["status"], "pending");
    assert_eq!(link["externalUserId"], "user_456");
    assert_eq!(link["currentSessionId"], Value::Null);
    assert_eq!(link["error"], Value::Null);
    assert!(link.get("result").is_none());
    assert_eq!(link["returnUrl"], created["returnUrl"]);
    assert_eq!(link["operations"], created["operations"]);
    assert_eq!(link["expiresAt"], created["expiresAt"]);
    assert_eq!(link["createdAt"], created["createdAt"]);
    assert_eq!(link["updatedAt"], created["createdAt"]);

    // Claim: pending -> active.
    let (status, claimed) = claim(&mock, &json!({"code": code})).await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["linkId"], id.as_str());
    let session = claimed["sessionId"].as_str().unwrap().to_string();
    assert!(session.starts_with("sess_"));
    assert!(claimed["clientToken"].as_str().unwrap().starts_with("ct_"));
    let ws = claimed["websocketUrl"].as_str().unwrap();
    assert!(
        ws.starts_with("ws://127.0.0.1:") && ws.ends_with(&format!("/sessions/{session}/ws")),
        "{ws}"
    );
    assert_eq!(claimed["expiresAt"], created["expiresAt"]);
    let (_, link) = get_link(&mock, &id).await;
    assert_eq!(link["status"], "active");
    assert_eq!(link["currentSessionId"], session.as_str());

    // A second claim while active: 409.
    let (status, body) = claim(&mock, &json!({"code": code})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].is_string());

    // Fail it: failed with the error, claimable again.
    let (status, body) = control(
        &mock,
        &format!("/sandbox/links/{id}/fail"),
        Some(json!({"code":"CONNECTION_FAILED","message":"carrier site down"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, link) = get_link(&mock, &id).await;
    assert_eq!(link["status"], "failed");
    assert_eq!(
        link["error"],
        json!({"code":"CONNECTION_FAILED","message":"carrier site down"})
    );
    assert!(link.get("result").is_none());

    let (status, claimed) = claim(&mock, &json!({"code": code})).await;
    assert_eq!(status, 200, "a failed link can be claimed again: {claimed}");
    let second_session = claimed["sessionId"].as_str().unwrap();
    assert_ne!(second_session, session, "a new session");
    let (_, link) = get_link(&mock, &id).await;
    assert_eq!(link["status"], "active");
    assert_eq!(link["error"], Value::Null);
    assert_eq!(link["currentSessionId"], second_session);

    // Complete with sample data (no body).
    let (status, body) = control(&mock, &format!("/sandbox/links/{id}/complete"), None).await;
    assert_eq!(status, 200, "{body}");
    let (_, link) = get_link(&mock, &id).await;
    assert_eq!(link["status"], "complete");
    assert_eq!(link["error"], Value::Null);
    assert!(
        link["result"]["billing"].is_array(),
        "single operation: the data itself: {link}"
    );
    assert!(link["updatedAt"].as_u64().unwrap() >= link["createdAt"].as_u64().unwrap());

    // Terminal: claims 409, completing again 409.
    let (status, _) = claim(&mock, &json!({"code": code})).await;
    assert_eq!(status, 409);
    let (status, _) = control(&mock, &format!("/sandbox/links/{id}/complete"), None).await;
    assert_eq!(status, 409);
    assert!(matches!(
        mock.fail_link(&id, "AUTOMATION_ERROR", "x").await,
        Err(MockError::InvalidState { .. })
    ));
}

#[tokio::test]
async fn complete_with_a_given_result_stores_it_verbatim() {
    let mock = start_mock().await;
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap();
    let result = json!({"billing":[{"periodStart":"01/15/2025","amountDue":85.0,"currency":"USD","extra":{"kept":true}}]});
    let (status, body) = control(
        &mock,
        &format!("/sandbox/links/{id}/complete"),
        Some(json!({"result": result.clone()})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], result);
    let (_, link) = get_link(&mock, id).await;
    assert_eq!(link["result"], result);

    // Through the Rust handle too.
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap();
    mock.complete_link(id, Some(json!({"anything": [1, 2]})))
        .await
        .unwrap();
    let (_, link) = get_link(&mock, id).await;
    assert_eq!(link["result"], json!({"anything": [1, 2]}));
}

#[tokio::test]
async fn claim_answers_400_404_409_410() {
    let mock = start_mock().await;
    for body in [
        json!({"code": ""}),
        json!({"code": "   "}),
        json!({}),
        json!({"code": 5}),
    ] {
        let (status, answer) = claim(&mock, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string());
    }
    let response = client()
        .post(format!("{}/link/claim", mock.base_url()))
        .header("content-type", "application/json")
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    let (status, body) = claim(&mock, &json!({"code": "clm_unknown"})).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());

    let created = create_ok(&mock, &billing_link()).await;
    let code = created["claimCode"].as_str().unwrap();
    let id = created["linkId"].as_str().unwrap();
    mock.complete_link(id, None).await.unwrap();
    assert_eq!(claim(&mock, &json!({"code": code})).await.0, 409);

    let created = create_ok(&mock, &billing_link()).await;
    let code = created["claimCode"].as_str().unwrap();
    mock.expire_link(created["linkId"].as_str().unwrap())
        .await
        .unwrap();
    let (status, body) = claim(&mock, &json!({"code": code})).await;
    assert_eq!(status, 410, "{body}");
}

#[tokio::test]
async fn links_expire_after_expires_in() {
    let mock = start_mock().await;
    let created = create_ok(&mock, &merged(billing_link(), json!({"expiresIn": 1}))).await;
    let id = created["linkId"].as_str().unwrap();
    let code = created["claimCode"].as_str().unwrap();
    assert_eq!(
        created["expiresAt"].as_u64().unwrap() - created["createdAt"].as_u64().unwrap(),
        1000
    );
    let start = Instant::now();
    loop {
        let (_, link) = get_link(&mock, id).await;
        if link["status"] == "expired" {
            break;
        }
        assert_eq!(link["status"], "pending");
        assert!(start.elapsed() < DEADLINE, "never expired: {link}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(claim(&mock, &json!({"code": code})).await.0, 410);
    // Completing an expired link is refused too.
    let (status, _) = control(&mock, &format!("/sandbox/links/{id}/complete"), None).await;
    assert_eq!(status, 410);

    // An active link expires as well; the control API can expire on demand.
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap();
    assert_eq!(
        claim(&mock, &json!({"code": created["claimCode"]})).await.0,
        200
    );
    let (status, body) = control(&mock, &format!("/sandbox/links/{id}/expire"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "expired");
    assert_eq!(get_link(&mock, id).await.1["status"], "expired");
    // Expiring twice is a conflict-free 410.
    assert_eq!(
        control(&mock, &format!("/sandbox/links/{id}/expire"), None)
            .await
            .0,
        410
    );
}

#[tokio::test]
async fn list_links_returns_every_link_without_result_and_error() {
    let mock = start_mock().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            create_ok(&mock, &billing_link()).await["linkId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    mock.complete_link(&ids[0], None).await.unwrap();
    mock.fail_link(&ids[1], "AUTOMATION_ERROR", "boom")
        .await
        .unwrap();
    let response = client()
        .get(format!("{}/v1/links?status=ignored", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200);
    let links = body["links"].as_array().unwrap();
    let listed: Vec<&str> = links.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let statuses: Vec<&str> = links
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["complete", "failed", "pending"]);
    for link in links {
        assert!(
            link.get("result").is_none() && link.get("error").is_none(),
            "{link}"
        );
        for field in [
            "integrationId",
            "operations",
            "externalUserId",
            "currentSessionId",
            "expiresAt",
            "createdAt",
            "updatedAt",
        ] {
            assert!(link.get(field).is_some(), "{field} missing in {link}");
        }
    }
    assert_eq!(mock.link_count(), 3);
}

/// `GET /v1/links` with the query string `query`, authenticated.
async fn list(mock: &passage_mock::MockServer, query: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}/v1/links{query}", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap();
    json_of(response).await
}

#[tokio::test]
async fn list_links_pages_with_limit_and_cursor() {
    let mock = start_mock().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let created = create_ok(&mock, &billing_link()).await;
        ids.push(created["linkId"].as_str().unwrap().to_string());
    }
    let mut pages = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let (status, body) = list(&mock, &query).await;
        assert_eq!(status, 200, "{body}");
        let page: Vec<String> = body["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect();
        assert!(page.len() <= 2, "{body}");
        pages.push(page);
        match body.get("nextCursor").and_then(Value::as_str) {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert_eq!(pages.concat(), ids, "creation order across pages");
    // Without a limit: everything, and no cursor (as before paging existed).
    let (_, all) = list(&mock, "").await;
    assert_eq!(all["links"].as_array().unwrap().len(), 5);
    assert!(all.get("nextCursor").is_none(), "{all}");
    // An exact fit has no next cursor.
    let (_, exact) = list(&mock, "?limit=5").await;
    assert!(exact.get("nextCursor").is_none(), "{exact}");
    // Malformed parameters are 400s naming them.
    for (query, path) in [
        ("?limit=0", "limit"),
        ("?limit=abc", "limit"),
        ("?limit=1001", "limit"),
        ("?cursor=nope", "cursor"),
    ] {
        let (status, body) = list(&mock, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["issues"][0]["path"], path, "{query}: {body}");
    }
}

#[tokio::test]
async fn providers_serves_the_configured_catalog() {
    let mock = start_mock().await;
    let response = client()
        .get(format!("{}/v1/providers", mock.base_url()))
        .bearer_auth(mock.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let bytes = response.bytes().await.unwrap();
    let served = passage_catalog::Catalog::from_slice(&bytes).unwrap();
    assert_eq!(served, passage_mock::pinned_catalog());

    // Another catalog: served and used for validation.
    let custom = passage_catalog::Catalog::from_slice(
        br#"{"providers":[{"id":"acme","name":"<b>Acme</b>","resources":[{"name":"widget","operations":{"read":{"arguments":null,"result":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}}}}]}]}"#,
    )
    .unwrap();
    let mock = start_with(MockConfig::default().with_catalog(custom)).await;
    assert_eq!(create(&mock, &billing_link()).await.0, 400);
    let created = create_ok(
        &mock,
        &json!({"integrationId":"acme","operations":[{"resource":"widget","action":"read"}]}),
    )
    .await;
    let id = created["linkId"].as_str().unwrap();
    mock.complete_link(id, None).await.unwrap();
    assert!(get_link(&mock, id).await.1["result"]["n"].is_i64());
}

#[tokio::test]
async fn verification_keys_by_id_including_rotated_ones() {
    let mock = start_mock().await;
    let fetch = |key_id: Value| {
        let url = format!("{}/webhook_verification_key/get", mock.base_url());
        async move {
            json_of(
                client()
                    .post(url)
                    .json(&json!({"key_id": key_id}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let first = mock.key_id();
    assert!(
        first.starts_with("wsk_") && first[4..].parse::<u64>().is_ok(),
        "{first}"
    );
    let (status, body) = fetch(json!(first)).await;
    assert_eq!(status, 200);
    assert_eq!(body["key_id"], first.as_str());
    assert_eq!(body["algorithm"], "ES256");
    assert!(body["created_at"].is_u64());
    assert_eq!(body["key"], mock.public_key_pem());
    assert!(body["key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));

    let second = mock.rotate_signing_key();
    assert_ne!(second, first);
    assert_eq!(mock.key_id(), second);
    let (status, rotated) = fetch(json!(second)).await;
    assert_eq!(status, 200);
    assert_ne!(rotated["key"], body["key"]);
    assert_eq!(
        fetch(json!(first)).await.1["key"],
        body["key"],
        "old keys stay fetchable"
    );

    // Over the control API as well.
    let (status, third) = control(&mock, "/sandbox/keys/rotate", None).await;
    assert_eq!(status, 200);
    assert_eq!(third["key_id"], mock.key_id());

    let (status, body) = fetch(json!("wsk_0")).await;
    assert_eq!((status, body), (404, json!({"error":"Key not found"})));
    assert_eq!(fetch(Value::Null).await.0, 400);
}

#[tokio::test]
async fn configuration_errors_name_the_field() {
    let err = passage_mock::MockServer::start(MockConfig::default().with_api_keys(vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MockError::Config {
                field: "api_keys",
                ..
            }
        ),
        "{err}"
    );
    let err = passage_mock::MockServer::start(MockConfig::default().with_public_url("not a url"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MockError::Config {
                field: "public_url",
                ..
            }
        ),
        "{err}"
    );
    let taken = start_mock().await;
    let addr: std::net::SocketAddr = taken
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let err = passage_mock::MockServer::start(MockConfig::default().with_addr(addr))
        .await
        .unwrap_err();
    assert!(matches!(err, MockError::Bind { .. }), "{err}");
}

#[tokio::test]
async fn public_url_is_used_in_app_clip_and_websocket_urls() {
    let mock =
        start_with(MockConfig::default().with_public_url("https://mock.example.test/")).await;
    let created = create_ok(&mock, &billing_link()).await;
    assert!(created["appClipUrl"]
        .as_str()
        .unwrap()
        .starts_with("https://mock.example.test/sandbox/link_"));
    let (_, claimed) = claim(&mock, &json!({"code": created["claimCode"]})).await;
    assert!(claimed["websocketUrl"]
        .as_str()
        .unwrap()
        .starts_with("wss://mock.example.test/sessions/sess_"));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let mock = start_mock().await;
    let base = mock.base_url();
    mock.shutdown().await;
    let result = client().get(format!("{base}/v1/providers")).send().await;
    assert!(result.is_err(), "still answering after shutdown");
}

#[tokio::test]
async fn every_answer_carries_a_fresh_request_id() {
    let mock = start_mock().await;
    let base = mock.base_url();
    let mut seen = std::collections::HashSet::new();
    // A success, a handler's 404, the key check's 401, the control API and the sandbox page.
    let requests = [
        client()
            .get(format!("{base}/v1/providers"))
            .bearer_auth(mock.api_key()),
        client()
            .get(format!("{base}/v1/links/link_unknown"))
            .bearer_auth(mock.api_key()),
        client().get(format!("{base}/v1/links")),
        client().get(format!("{base}/sandbox/faults")),
        client().get(format!("{base}/sandbox")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let status = response.status();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on a {status} answer"))
            .to_str()
            .unwrap()
            .to_string();
        let suffix = id.strip_prefix("req_").unwrap_or_else(|| panic!("{id}"));
        assert_eq!(suffix.len(), 16, "{id}");
        assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert!(seen.insert(id.clone()), "{id} was sent twice");
    }
}
