//! `passage webhook verify` and `passage webhook sign`: the library's verifier and test signer
//! on the command line.
//!
//! Contracts relied on by acceptance tests:
//! * `verify` prints the verified event as JSON on stdout and exits 0; when verification fails it
//!   prints the reason on stderr and exits 1. With `--integration` and `--operation`, the event's
//!   `result` is replaced by the typed result re-serialized; if it (or the event itself) does not
//!   fit its types the reason goes to stderr and the exit code is 4. Unreadable files and unusable
//!   keys exit 3, an unknown integration or operation 2 (the table of `passage --help`).
//! * `sign` prints exactly two lines, `X-Passage-Signature: ...` and `X-Passage-Timestamp: ...`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};

use crate::exit::{Code, OrExit as _};
use passage_connect::link::{LinkResults, OperationRef};
use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{
    HeaderMap, HeaderValue, StaticKeys, TimestampHeader, WebhookEvent, WebhookVerifier,
    SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use serde_json::{Map, Value};

/// Webhook subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify a webhook body against its `X-Passage-Signature` and print the event as JSON.
    ///
    /// Exit status: 0 verified; 1 verification failed (reason on stderr); 3 unreadable file or
    /// unusable key; 4 verified but the event or its result does not fit its generated types
    /// (with --integration/--operation).
    Verify(VerifyArgs),
    /// Sign a webhook body like Passage does; prints the two header lines.
    Sign(SignArgs),
    /// Receive webhooks over HTTP, verify them and queue them on Redis Streams.
    ///
    /// 200 only once queued; 401 bad signature; 413 too large; 503 Redis or keys unavailable.
    Receive(crate::webhook_queue::ReceiveArgs),
    /// Process queued webhooks: run CMD once per event with the event as JSON on stdin.
    ///
    /// Exit 0 acknowledges; anything else is retried with backoff, then dead-lettered.
    Work(crate::webhook_queue::WorkArgs),
    /// Queue the events of links whose webhook was never queued (dropped by Passage after its
    /// retries), found through `GET /v1/links` (key from PASSAGE_API_KEY).
    ///
    /// Prints each pass's report as one JSON line; `--once` exits 1 if the pass had errors.
    Reconcile(crate::reconcile::ReconcileArgs),
    /// List or replay dead-lettered webhooks.
    #[command(subcommand)]
    DeadLetter(crate::webhook_queue::DeadLetterCommand),
}

/// Arguments of `passage webhook verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// PEM file of the verification key: a public key (`BEGIN PUBLIC KEY`, as returned by
    /// /webhook_verification_key/get) or a private key, whose public half is used. The file
    /// does not say its key id, so any well-formed `kid` in the JWT is accepted for it.
    #[arg(long, value_name = "PEM_FILE")]
    key: PathBuf,
    /// The `X-Passage-Signature` value (the compact JWT).
    #[arg(long, value_name = "JWT")]
    signature: String,
    /// The `X-Passage-Timestamp` value; when left out only the signed `iat` is checked.
    #[arg(long, value_name = "SECS")]
    timestamp: Option<String>,
    /// How far `iat` may be from now (and the timestamp from `iat`), in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    tolerance: u64,
    /// The link's integration, to decode `result` into its generated types (with --operation).
    #[arg(long, value_name = "INTEGRATION", requires = "operations")]
    integration: Option<String>,
    /// The link's operations in order, `resource:action` (repeat for each; with --integration).
    #[arg(long = "operation", value_name = "RESOURCE:ACTION", requires = "integration", value_parser = crate::hints::parse_operation)]
    operations: Vec<OperationRef>,
    /// The raw body, exactly as received (`-` for stdin).
    #[arg(value_name = "BODY_FILE")]
    body: PathBuf,
}

/// Arguments of `passage webhook sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// PEM file of the P-256 private key: PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1
    /// (`BEGIN EC PRIVATE KEY`).
    #[arg(long, value_name = "PRIVATE_PEM")]
    key: PathBuf,
    /// The key id to put in the JWT header.
    #[arg(long, value_name = "ID", default_value = "wsk_local")]
    kid: String,
    /// The signing time, Unix seconds (default: now).
    #[arg(long, value_name = "SECS")]
    iat: Option<u64>,
    /// The body to sign (`-` for stdin).
    #[arg(value_name = "BODY_FILE")]
    body: PathBuf,
}

/// Runs the subcommand.
pub async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Verify(args) => verify(args).await,
        Command::Sign(args) => sign(args),
        Command::Receive(args) => crate::webhook_queue::receive(args).await,
        Command::Work(args) => crate::webhook_queue::work(args).await,
        Command::Reconcile(args) => crate::reconcile::run(args).await,
        Command::DeadLetter(cmd) => crate::webhook_queue::dead_letter(cmd).await,
    }
}

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the body from stdin")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn read_pem(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(integration) = &args.integration {
        for op in &args.operations {
            crate::hints::check_operation(integration, &op.resource, &op.action, None)
                .map_err(anyhow::Error::msg)
                .or_exit(Code::Usage)?;
        }
    }
    let pem = read_pem(&args.key).or_exit(Code::BadInput)?;
    let public_pem = if pem.contains("PRIVATE KEY-----") {
        WebhookSigningKey::from_pem(&pem)
            .with_context(|| format!("{}", args.key.display()))
            .or_exit(Code::BadInput)?
            .public_key_pem()
    } else {
        pem
    };
    let keys = StaticKeys::any_kid(&public_pem)
        .with_context(|| format!("{}", args.key.display()))
        .or_exit(Code::BadInput)?;
    let body = read_input(&args.body).or_exit(Code::BadInput)?;

    let mut headers = HeaderMap::new();
    match HeaderValue::from_bytes(args.signature.trim().as_bytes()) {
        Ok(v) => {
            headers.insert(SIGNATURE_HEADER, v);
        }
        Err(_) => {
            eprintln!("verification failed: X-Passage-Signature: not a valid header value");
            return Ok(Code::Failure.into());
        }
    }
    let rule = match &args.timestamp {
        Some(ts) => {
            match HeaderValue::from_bytes(ts.trim().as_bytes()) {
                Ok(v) => {
                    headers.insert(TIMESTAMP_HEADER, v);
                }
                Err(_) => {
                    eprintln!("verification failed: X-Passage-Timestamp: not a valid header value");
                    return Ok(Code::Failure.into());
                }
            }
            TimestampHeader::Required
        }
        None => TimestampHeader::Optional,
    };
    let verifier = WebhookVerifier::new(keys)
        .with_tolerance(Duration::from_secs(args.tolerance))
        .with_timestamp_header(rule);

    let verified = match verifier.verify(&headers, &body).await {
        Ok(v) => v,
        Err(err) => {
            eprintln!("verification failed: {err}");
            return Ok(Code::Failure.into());
        }
    };
    let event = match verified.event() {
        Ok(event) => event,
        Err(err) => {
            // Verified, but the body does not fit the webhook event type.
            eprintln!("verified, but the body is not a webhook event: {err}");
            return Ok(Code::DoesNotFit.into());
        }
    };

    let mut out = serde_json::to_value(&event).context("re-serializing the event")?;
    if let (Some(integration), false) = (&args.integration, args.operations.is_empty()) {
        if let Some(link) = event.link_event() {
            if link.result.is_some() {
                let results = match link.decode_results(integration, &args.operations) {
                    Ok(r) => r,
                    Err(err) => {
                        eprintln!("verified, but the result cannot be decoded: {err}");
                        return Ok(Code::DoesNotFit.into());
                    }
                };
                let failures: Vec<String> = results
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| {
                        e.outcome
                            .as_ref()
                            .err()
                            .map(|d| format!("operation {i} ({}): {d}", e.operation))
                    })
                    .collect();
                if !failures.is_empty() {
                    eprintln!(
                        "verified, but the result does not fit its types:\n{}",
                        failures.join("\n")
                    );
                    return Ok(Code::DoesNotFit.into());
                }
                if let Some(obj) = out.as_object_mut() {
                    obj.insert(
                        "result".into(),
                        typed_result(&results, args.operations.len())?,
                    );
                }
            }
        } else if let WebhookEvent::Unknown { event, .. } = &event {
            eprintln!("note: unknown event `{event}`: result printed as received");
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// The typed result in the wire shape: the data itself for one operation, the
/// `{"operations":[...]}` envelope (extra fields kept) for several.
fn typed_result(results: &LinkResults, operation_count: usize) -> anyhow::Result<Value> {
    let typed = |e: &passage_connect::link::OperationOutcome| -> anyhow::Result<Value> {
        match &e.outcome {
            Ok(r) => Ok(serde_json::to_value(r)?),
            Err(d) => bail!("{d}"),
        }
    };
    if operation_count == 1 {
        if let Some(only) = results.single() {
            return typed(only);
        }
    }
    let mut ops = Vec::with_capacity(results.len());
    for e in results {
        let mut entry = Map::new();
        entry.insert("resource".into(), Value::from(e.operation.resource.clone()));
        entry.insert("action".into(), Value::from(e.operation.action.clone()));
        entry.insert("data".into(), typed(e)?);
        for (k, v) in &e.extra {
            entry.insert(k.clone(), v.clone());
        }
        ops.push(Value::Object(entry));
    }
    let mut top = Map::new();
    top.insert("operations".into(), Value::Array(ops));
    for (k, v) in results.extra() {
        top.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(top))
}

fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let pem = read_pem(&args.key).or_exit(Code::BadInput)?;
    let key = WebhookSigningKey::from_pem(&pem)
        .with_context(|| format!("{}", args.key.display()))
        .or_exit(Code::BadInput)?;
    let body = read_input(&args.body).or_exit(Code::BadInput)?;
    let iat = match args.iat {
        Some(iat) => iat,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_secs(),
    };
    let signed = sign_webhook(&key, &args.kid, &body, iat);
    println!("X-Passage-Signature: {}", signed.signature);
    println!("X-Passage-Timestamp: {}", signed.timestamp);
    Ok(ExitCode::SUCCESS)
}
