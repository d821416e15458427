//! The built `passage` binary's `links` and `providers` commands against an in-process emulator:
//! JSON on stdout, tables with `--pretty` (RFC 3339 times), exit codes of `wait`, local
//! validation, and the key
//! never printed.

use std::process::{Command, Output};

use passage_mock::{MockConfig, MockServer};
use serde_json::{json, Value};

const SECRET: &str = "psg_cli_SeCrEt_77aa";

async fn mock() -> MockServer {
    MockServer::start(MockConfig::default().with_api_keys(vec![SECRET.to_string()]))
        .await
        .expect("the emulator starts")
}

/// Runs `passage ARGS --base-url URL` with the key in the environment (off the async threads).
async fn passage(base_url: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passage"));
    command
        .args(args)
        .args(["--base-url", base_url])
        .env("PASSAGE_API_KEY", SECRET)
        .env_remove("PASSAGE_BASE_URL");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the binary runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains(SECRET), "the key was printed: {all}");
    output
}

fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_prints_the_catalog_as_json_and_a_table() {
    let mock = mock().await;
    let base = mock.base_url();
    let catalog = stdout_json(&passage(&base, &["providers"]).await);
    let pinned: Value = serde_json::from_str(passage_mock::PINNED_CATALOG_JSON).unwrap();
    assert_eq!(catalog, pinned);

    let table = passage(&base, &["providers", "--pretty"]).await;
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("INTEGRATION"), "{text}");
    assert!(
        text.contains("apple-review") && text.contains("paymentMethod:write"),
        "{text}"
    );
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_wait_list_round_trip() {
    let mock = mock().await;
    let base = mock.base_url();
    let card = json!({"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"123",
        "nameOnCard":"John Doe","billingZip":"10001"})
    .to_string();
    let created = stdout_json(
        &passage(
            &base,
            &[
                "links",
                "create",
                "--integration",
                "tmobile",
                "--operation",
                "paymentMethod:read",
                "--operation",
                "paymentMethod:write",
                "--arguments",
                &card,
                "--external-user-id",
                "cli_user",
                "--return-url",
                "myapp://done",
                "--webhook-url",
                "https://hooks.example/passage",
                "--expires-in",
                "600",
            ],
        )
        .await,
    );
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "pending");
    assert!(created["appClipUrl"]
        .as_str()
        .unwrap()
        .contains(created["claimCode"].as_str().unwrap()));
    assert_eq!(
        created["operations"][1],
        json!({"resource":"paymentMethod","action":"write"})
    );
    assert_eq!(mock.link_count(), 1);

    let got = stdout_json(&passage(&base, &["links", "get", &id]).await);
    assert_eq!(got["status"], "pending");
    assert_eq!(got["externalUserId"], "cli_user");

    let result = json!({"operations":[
        {"resource":"paymentMethod","action":"read","data":{"paymentMethods":[]}},
        {"resource":"paymentMethod","action":"write","data":{"success":true,"card":{"last4":"1111"}}}
    ]});
    mock.complete_link(&id, Some(result.clone())).await.unwrap();
    let waited = stdout_json(&passage(&base, &["links", "wait", &id, "--timeout", "60"]).await);
    assert_eq!(waited["status"], "complete");
    assert_eq!(waited["result"], result);

    let pretty = passage(&base, &["links", "get", &id, "--pretty"]).await;
    let text = String::from_utf8_lossy(&pretty.stdout);
    assert!(
        text.contains("complete") && text.contains("result 1 (paymentMethod/write)"),
        "{text}"
    );
    // Times read as RFC 3339 UTC, not raw epoch milliseconds.
    let created = text
        .lines()
        .find_map(|l| l.strip_prefix("created at"))
        .unwrap_or_else(|| panic!("no `created at` row: {text}"))
        .trim();
    assert!(
        created.len() == 24 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );

    let list = stdout_json(&passage(&base, &["links", "list"]).await);
    assert_eq!(list["links"].as_array().unwrap().len(), 1);
    assert_eq!(list["links"][0]["id"], id.as_str());
    let table = passage(&base, &["links", "list", "--pretty"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("ID") && text.contains(&id), "{text}");
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_exit_codes_for_failed_expired_and_timeout() {
    let mock = mock().await;
    let base = mock.base_url();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let created = stdout_json(
            &passage(
                &base,
                &[
                    "links",
                    "create",
                    "--integration",
                    "att",
                    "--operation",
                    "mobileBillingStatement:read",
                ],
            )
            .await,
        );
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    mock.fail_link(&ids[0], "AUTOMATION_ERROR", "boom")
        .await
        .unwrap();
    mock.expire_link(&ids[1]).await.unwrap();

    let failed = passage(&base, &["links", "wait", &ids[0]]).await;
    assert_eq!(failed.status.code(), Some(6));
    let body: Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(body["error"]["code"], "AUTOMATION_ERROR");

    let expired = passage(&base, &["links", "wait", &ids[1]]).await;
    assert_eq!(expired.status.code(), Some(7));

    let pending = passage(&base, &["links", "wait", &ids[2], "--timeout", "1"]).await;
    assert_eq!(pending.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&pending.stderr).contains("timed out"));
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_exit_with_the_table_code_and_a_message() {
    let mock = mock().await;
    let base = mock.base_url();
    let bad_card = json!({"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"1",
        "nameOnCard":"John Doe","billingZip":"10001"})
    .to_string();
    let invalid = passage(
        &base,
        &[
            "links",
            "create",
            "--integration",
            "verizon",
            "--operation",
            "paymentMethod:read",
            "--operation",
            "paymentMethod:write",
            "--arguments",
            &bad_card,
        ],
    )
    .await;
    // Checked locally against the operation's schema: does not fit its type (4), nothing sent.
    assert_eq!(invalid.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(stderr.contains("operations.1.arguments.cvv"), "{stderr}");
    assert!(!stderr.contains("4111111111111111"), "{stderr}");
    assert_eq!(mock.link_count(), 0);

    let missing = passage(&base, &["links", "get", "link_nope"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));

    let output = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_passage"))
                .args(["links", "list", "--base-url", &base])
                .env_remove("PASSAGE_API_KEY")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    // No key: a usage error (2), like a missing required flag.
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PASSAGE_API_KEY"));
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_jsonl_prints_one_link_per_line_across_pages() {
    let mock = mock().await;
    let base = mock.base_url();
    let client = passage_connect::client::Client::builder(SECRET)
        .base_url(base.clone())
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let link = client
            .links()
            .create("ubereats")
            .operation("orderHistory", "read")
            .send()
            .await
            .unwrap();
        ids.push(link.id);
    }
    mock.complete_link(&ids[1], None).await.unwrap();
    let output = passage(&base, &["links", "list", "--jsonl", "--page-size", "2"]).await;
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: line {line:?}")))
        .collect();
    // Five links over three pages of at most two, each once.
    let mut listed: Vec<String> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids, "{text}");
    let complete = lines.iter().filter(|l| l["status"] == "complete").count();
    assert_eq!(complete, 1, "{text}");
    // A page size of zero is a usage error.
    let zero = passage(&base, &["links", "list", "--jsonl", "--page-size", "0"]).await;
    assert_eq!(zero.status.code(), Some(2));
    mock.shutdown().await;
}

/// The `request id: req_...` line of `stderr`, if any.
fn request_id_line(stderr: &[u8]) -> Option<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .find_map(|line| line.strip_prefix("request id: ").map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_printed_on_errors_and_with_verbose() {
    let mock = mock().await;
    let base = mock.base_url();

    // An API error: the id of the answer follows the error line, whatever the verbosity.
    let missing = passage(&base, &["links", "get", "link_nope"]).await;
    assert_eq!(missing.status.code(), Some(1));
    let id = request_id_line(&missing.stderr).unwrap_or_else(|| {
        panic!(
            "no request id in: {}",
            String::from_utf8_lossy(&missing.stderr)
        )
    });
    assert!(id.starts_with("req_"), "{id}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    let error_at = stderr.find("error: ").expect("an error line");
    assert!(error_at < stderr.find("request id: ").unwrap(), "{stderr}");

    // An injected 503 on create (never retried): the same.
    mock.inject_fault(passage_mock::Fault::new(
        passage_mock::FaultRoute::CreateLink,
        passage_mock::FaultKind::Status {
            status: 503,
            retry_after: None,
        },
    ));
    let failed = passage(
        &base,
        &[
            "links",
            "create",
            "--integration",
            "tmobile",
            "--operation",
            "paymentMethod:read",
        ],
    )
    .await;
    assert_eq!(failed.status.code(), Some(1));
    assert!(request_id_line(&failed.stderr).is_some_and(|id| id.starts_with("req_")));

    // A success prints it only with -v, on stderr: stdout stays the JSON.
    let create = [
        "links",
        "create",
        "--integration",
        "tmobile",
        "--operation",
        "paymentMethod:read",
        "--quiet",
    ];
    let quiet = passage(&base, &create).await;
    assert!(quiet.status.success());
    assert_eq!(request_id_line(&quiet.stderr), None);
    let link_id = String::from_utf8_lossy(&quiet.stdout).trim().to_string();
    // --quiet: the id alone on stdout, and the appClipUrl to open on stderr (GET never has it).
    let opened = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        opened
            .lines()
            .any(|l| l.starts_with("open http") && l.contains(&link_id)),
        "stderr: {opened}"
    );

    let verbose = passage(&base, &["-v", "links", "get", &link_id]).await;
    let link = stdout_json(&verbose);
    assert_eq!(link["id"], link_id.as_str());
    assert!(request_id_line(&verbose.stderr).is_some_and(|id| id.starts_with("req_")));
    let listed = passage(&base, &["-v", "links", "list", "--jsonl"]).await;
    assert!(listed.status.success());
    assert!(request_id_line(&listed.stderr).is_some_and(|id| id.starts_with("req_")));
    mock.shutdown().await;
}
