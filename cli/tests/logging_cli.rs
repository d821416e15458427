//! The `passage` binary logs on stderr through `tracing`: `-v`/`-vv` and `RUST_LOG` choose the
//! level, stdout stays the command's output (issue 13, item 7).

use std::process::{Command, Output};

use passage_mock::{Fault, FaultKind, FaultRoute, MockConfig, MockServer};

const KEY: &str = "psg_cli_logging";

/// Runs `passage links get ID` against `mock` after injecting one 503 (so the client retries once).
async fn get_with_one_retry(verbosity: &[&str], rust_log: Option<&str>) -> Output {
    let mock = MockServer::start(MockConfig::default().with_api_keys(vec![KEY.to_string()]))
        .await
        .unwrap();
    let link = passage_connect::Client::builder(KEY)
        .base_url(mock.base_url())
        .build()
        .unwrap()
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .send()
        .await
        .unwrap();
    mock.inject_fault(Fault::new(
        FaultRoute::GetLink,
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
    ));
    let mut command = Command::new(env!("CARGO_BIN_EXE_passage"));
    command
        .args(verbosity)
        .args(["links", "get", &link.id, "--base-url", &mock.base_url()])
        .env("PASSAGE_API_KEY", KEY)
        .env_remove("PASSAGE_BASE_URL")
        .env_remove("RUST_LOG");
    if let Some(spec) = rust_log {
        command.env("RUST_LOG", spec);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout: serde_json::Value = serde_json::from_slice(&output.stdout)
        .expect("stdout is only the command's JSON, logs go to stderr");
    assert_eq!(stdout["id"], link.id.as_str());
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_logged_with_vv_or_rust_log_and_not_by_default() {
    let quiet = get_with_one_retry(&[], None).await;
    assert!(
        !stderr(&quiet).contains("retrying Passage API request"),
        "{}",
        stderr(&quiet)
    );

    let verbose = get_with_one_retry(&["-vv"], None).await;
    let text = stderr(&verbose);
    assert!(text.contains("retrying Passage API request"), "{text}");
    assert!(text.contains("DEBUG"), "{text}");
    assert!(!text.contains(KEY), "the key was logged: {text}");

    let from_env = get_with_one_retry(&[], Some("passage_connect=debug")).await;
    assert!(
        stderr(&from_env).contains("retrying Passage API request"),
        "{}",
        stderr(&from_env)
    );
}
