//! Pins the exit-code table of `passage --help` for each subcommand, by running the built binary:
//! 0 ok, 1 verification/API failure, 2 usage, 3 bad input, 4 does not fit its type (5/6/7 for
//! `links wait`: `links_cli.rs`). Messages name CLI flags, list close matches from the catalog and
//! say each cause once.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use passage_mock::{Fault, FaultKind, FaultRoute, MockConfig, MockServer, WebhookSigningKey};

const SECRET: &str = "psg_exit_codes_SeCrEt";
const BILL: &str =
    r#"{"billing":[{"periodStart":"01/15/2025","amountDue":85.0,"currency":"USD"}]}"#;

fn passage(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passage"));
    command
        .args(args)
        .env_remove("PASSAGE_API_KEY")
        .env_remove("PASSAGE_BASE_URL")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary runs");
    if let Some(text) = stdin {
        use std::io::Write as _;
        // A command that refuses its flags exits before reading stdin: a broken pipe here is
        // expected then, and the exit code below is what the test checks.
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_code(output: &Output, code: i32, stderr_has: &[&str]) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    for needle in stderr_has {
        assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    }
}

const DECODE: [&str; 7] = [
    "decode",
    "--integration",
    "tmobile",
    "--resource",
    "mobileBillingStatement",
    "--action",
    "read",
];

#[test]
fn help_shows_the_table() {
    let help = passage(&["--help"], None);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for row in [
        "0  success",
        "1  failure",
        "2  usage",
        "3  bad input",
        "4  does not fit its type",
        "5  links wait",
    ] {
        assert!(text.contains(row), "{text}");
    }
}

#[test]
fn the_readme_repeats_the_table() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let help = passage(&["--help"], None);
    let text = String::from_utf8_lossy(&help.stdout);
    let table = &text[text.find("Exit codes").expect("a table")..];
    assert!(
        readme.contains(table.trim_end()),
        "README.md must hold the table of `passage --help` verbatim:\n{table}"
    );
}

#[test]
fn decode_codes() {
    assert_code(&passage(&DECODE, Some(BILL)), 0, &[]);
    // Usage: clap's own errors and an unknown integration or operation, with close matches.
    assert_code(
        &passage(&["decode", "--integration", "tmobile"], None),
        2,
        &[],
    );
    let mut typo = DECODE;
    typo[2] = "tmobil";
    assert_code(
        &passage(&typo, Some(BILL)),
        2,
        &["unknown integration `tmobil`", "did you mean `tmobile`?"],
    );
    let mut op = DECODE;
    op[4] = "mobileBillingStatment";
    assert_code(
        &passage(&op, Some(BILL)),
        2,
        &["did you mean `mobileBillingStatement:read`?"],
    );
    // Bad input: malformed JSON, a missing file.
    assert_code(
        &passage(&DECODE, Some("{\"billing\": [")),
        3,
        &["standard input is not valid JSON"],
    );
    let mut missing = DECODE.to_vec();
    missing.push("/nonexistent/body.json");
    assert_code(&passage(&missing, None), 3, &["/nonexistent/body.json"]);
    // Well-formed JSON that does not fit its type: the JSON path.
    assert_code(
        &passage(
            &DECODE,
            Some(r#"{"billing":[{"periodStart":"x","amountDue":"85","currency":"USD"}]}"#),
        ),
        4,
        &["billing[0].amountDue"],
    );
}

#[test]
fn webhook_sign_and_verify_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let key = WebhookSigningKey::generate();
    std::fs::write(path("private.pem"), key.to_pkcs8_pem()).unwrap();
    std::fs::write(path("public.pem"), key.public_key_pem()).unwrap();
    std::fs::write(path("junk.pem"), "not a key").unwrap();
    let event = format!(
        r#"{{"event":"link.complete","linkId":"link_1","status":"complete","result":{BILL},"error":null,"timestamp":1704067200000}}"#
    );
    std::fs::write(path("body.json"), &event).unwrap();
    let misfit = event.replace("85.0", "\"85\"");
    std::fs::write(path("misfit.json"), &misfit).unwrap();

    // sign: 0, 3 (missing key file, junk key, missing body), 2 (usage).
    let signed = passage(
        &[
            "webhook",
            "sign",
            "--key",
            &path("private.pem"),
            &path("body.json"),
        ],
        None,
    );
    assert_code(&signed, 0, &[]);
    let signed_misfit = passage(
        &[
            "webhook",
            "sign",
            "--key",
            &path("private.pem"),
            &path("misfit.json"),
        ],
        None,
    );
    assert_code(&signed_misfit, 0, &[]);
    assert_code(
        &passage(
            &[
                "webhook",
                "sign",
                "--key",
                &path("nope.pem"),
                &path("body.json"),
            ],
            None,
        ),
        3,
        &["nope.pem"],
    );
    assert_code(
        &passage(
            &[
                "webhook",
                "sign",
                "--key",
                &path("junk.pem"),
                &path("body.json"),
            ],
            None,
        ),
        3,
        &["junk.pem"],
    );
    assert_code(
        &passage(
            &[
                "webhook",
                "sign",
                "--key",
                &path("private.pem"),
                &path("nobody.json"),
            ],
            None,
        ),
        3,
        &["nobody.json"],
    );
    assert_code(
        &passage(&["webhook", "sign", &path("body.json")], None),
        2,
        &[],
    );

    let header = |output: &Output, name: &str| -> String {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
            .unwrap()
    };
    let verify = |signed: &Output, body: &str, extra: &[&str]| {
        let mut args: Vec<String> = vec![
            "webhook".into(),
            "verify".into(),
            "--key".into(),
            path("public.pem"),
            "--signature".into(),
            header(signed, "X-Passage-Signature"),
            "--timestamp".into(),
            header(signed, "X-Passage-Timestamp"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(path(body));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        passage(&refs, None)
    };
    let typed = [
        "--integration",
        "tmobile",
        "--operation",
        "mobileBillingStatement:read",
    ];
    assert_code(&verify(&signed, "body.json", &typed), 0, &[]);
    // 1: the body is not the one signed.
    assert_code(
        &verify(&signed, "misfit.json", &[]),
        1,
        &["verification failed"],
    );
    // 4: verified, but the result does not fit its type.
    assert_code(
        &verify(&signed_misfit, "misfit.json", &typed),
        4,
        &["does not fit"],
    );
    // 3: the body file cannot be read.
    assert_code(&verify(&signed, "nobody.json", &[]), 3, &["nobody.json"]);
    // 2: an operation the catalog does not know, with the close match.
    assert_code(
        &verify(
            &signed,
            "body.json",
            &[
                "--integration",
                "tmobile",
                "--operation",
                "mobileBillingStatement:raed",
            ],
        ),
        2,
        &["did you mean `mobileBillingStatement:read`?"],
    );
    // 2: clap usage (a flag without its value).
    assert_code(&passage(&["webhook", "verify", "--key"], None), 2, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_codes() {
    let mock = MockServer::start(MockConfig::default().with_api_keys(vec![SECRET.to_string()]))
        .await
        .unwrap();
    let base = mock.base_url();
    let run = |args: Vec<String>, key: bool| {
        tokio::task::spawn_blocking(move || {
            let mut command = Command::new(env!("CARGO_BIN_EXE_passage"));
            command.args(&args).env_remove("PASSAGE_BASE_URL");
            if key {
                command.env("PASSAGE_API_KEY", SECRET);
            } else {
                command.env_remove("PASSAGE_API_KEY");
            }
            command.output().unwrap()
        })
    };
    let create = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["links", "create", "--base-url", &base]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    let ok = run(
        create(&["--integration", "att", "--operation", "paymentMethod:read"]),
        true,
    )
    .await
    .unwrap();
    assert_code(&ok, 0, &[]);

    // 2: no key; unknown integration (names the CLI flag, not the Rust method; close matches).
    let no_key = run(
        create(&["--integration", "att", "--operation", "paymentMethod:read"]),
        false,
    )
    .await
    .unwrap();
    assert_code(&no_key, 2, &["PASSAGE_API_KEY"]);
    let typo = run(
        create(&[
            "--integration",
            "verizn",
            "--operation",
            "paymentMethod:read",
        ]),
        true,
    )
    .await
    .unwrap();
    assert_code(
        &typo,
        2,
        &["did you mean `verizon`?", "--allow-unknown-operations"],
    );
    assert!(!stderr(&typo).contains("allow_unknown_operations()"));
    // With the flag, the unknown operation is sent and the server refuses it: an API failure.
    let sent = run(
        create(&[
            "--integration",
            "verizn",
            "--operation",
            "paymentMethod:read",
            "--allow-unknown-operations",
        ]),
        true,
    )
    .await
    .unwrap();
    assert_code(&sent, 1, &[]);

    // 3: malformed --arguments; 4: arguments that do not fit the operation's schema.
    let card = r#"{"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"1","nameOnCard":"J","billingZip":"10001"}"#;
    let write = [
        "--integration",
        "tmobile",
        "--operation",
        "paymentMethod:write",
        "--arguments",
    ];
    let mut malformed = write.to_vec();
    malformed.push("{\"cardNumber\":");
    assert_code(
        &run(create(&malformed), true).await.unwrap(),
        3,
        &["not valid JSON"],
    );
    let mut misfit = write.to_vec();
    misfit.push(card);
    assert_code(
        &run(create(&misfit), true).await.unwrap(),
        4,
        &["operations.0.arguments.cvv"],
    );

    // 1: the connection drops after the create was sent; the cause is said once.
    mock.inject_fault(Fault::new(
        FaultRoute::CreateLink,
        FaultKind::DropConnection,
    ));
    let dropped = run(
        create(&["--integration", "att", "--operation", "paymentMethod:read"]),
        true,
    )
    .await
    .unwrap();
    assert_code(&dropped, 1, &["outcome unknown"]);
    let err = stderr(&dropped);
    let first = err.find("error sending request").expect(&err);
    assert!(
        !err[first + 1..].contains("error sending request"),
        "a cause is repeated: {err}"
    );
    mock.shutdown().await;
}

/// `decode` takes `--operation RESOURCE:ACTION` like `links create` and `webhook verify` (the
/// `--resource`/`--action` pair still works); a malformed or half-given form is a usage error.
#[test]
fn decode_takes_the_operation_form_too() {
    let ok = passage(
        &[
            "decode",
            "--integration",
            "tmobile",
            "--operation",
            "mobileBillingStatement:read",
        ],
        Some(BILL),
    );
    assert_code(&ok, 0, &[]);
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&passage(&DECODE, Some(BILL)).stdout),
        "both forms print the same"
    );
    let malformed = passage(
        &[
            "decode",
            "--integration",
            "tmobile",
            "--operation",
            "mobileBillingStatement",
        ],
        Some(BILL),
    );
    assert_code(&malformed, 2, &["resource:action"]);
    let half = passage(
        &[
            "decode",
            "--integration",
            "tmobile",
            "--resource",
            "mobileBillingStatement",
        ],
        Some(BILL),
    );
    assert_code(&half, 2, &["--action"]);
    let both = passage(
        &[
            "decode",
            "--integration",
            "tmobile",
            "--operation",
            "mobileBillingStatement:read",
            "--resource",
            "paymentMethod",
            "--action",
            "read",
        ],
        Some(BILL),
    );
    assert_code(&both, 2, &["--operation"]);
}

/// A port already taken: the error says so, then a hint names `--addr` and port 0.
#[test]
fn mock_on_a_taken_port_hints_at_addr() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = passage(&["mock", "--addr", &addr], None);
    assert_code(&out, 1, &["cannot listen on", "hint:", "--addr", "port 0"]);
}

/// A `--webhook-url` that is not an http(s) URL is a usage error naming the flag, checked before
/// anything is sent (it was a 4, "does not fit", from the SDK's validation).
#[test]
fn a_bad_webhook_url_is_a_usage_error() {
    for bad in ["notaurl", "ftp://example.com/hook", "http://"] {
        let out = Command::new(env!("CARGO_BIN_EXE_passage"))
            .args(["links", "create", "--integration", "tmobile"])
            .args(["--operation", "paymentMethod:read", "--webhook-url", bad])
            .env("PASSAGE_API_KEY", SECRET)
            .env("PASSAGE_BASE_URL", "http://127.0.0.1:9")
            .output()
            .unwrap();
        assert_code(&out, 2, &["--webhook-url"]);
    }
}

/// Nothing listening at the base URL: the error says so, and a hint names `passage mock` and
/// where the base URL comes from.
#[test]
fn connection_refused_hints_at_the_emulator_and_the_base_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let out = Command::new(env!("CARGO_BIN_EXE_passage"))
        .args(["links", "get", "link_x"])
        .env("PASSAGE_API_KEY", SECRET)
        .env("PASSAGE_BASE_URL", format!("http://{addr}"))
        .output()
        .unwrap();
    assert_code(
        &out,
        1,
        &[
            "hint:",
            "passage mock",
            "PASSAGE_BASE_URL",
            &addr.to_string(),
        ],
    );
    assert!(!stderr(&out).contains(SECRET), "the key never shows");
}
