//! `passage webhook receive | work | dead-letter`: the Redis Streams webhook queue of
//! `passage_connect::queue` on the command line, so a team can run receivers and workers
//! without writing Rust.
//!
//! Contracts relied on by acceptance checks:
//! * `receive` answers a webhook POST (any path) 200 `{"queued":"<entry id>"}` only once Redis
//!   acknowledged the entry; 401 when the signature does not verify; 413 past the body limit;
//!   408 for a body slower than `--body-timeout-ms`; 503 when Redis (or the key endpoint) is
//!   unavailable, so Passage retries, and past `--max-connections`. SIGTERM or Ctrl-C drains the
//!   requests in flight, exit 0.
//! * `work -- CMD [ARGS...]` runs CMD once per event with one JSON document on stdin:
//!   `{"event","reconciled","linkId","status","timestamp","integration","operations":[{"resource",
//!   "action","data","error"}],"error"}` (`reconciled`: true for an event the reconciler
//!   synthesized after its webhook was dropped); `data` is the typed result re-serialized, or `null` with the
//!   decode error in the operation's `error`. `integration`/`operations` come from
//!   `GET /v1/links/{id}` (needs `PASSAGE_API_KEY`; without it both are `null`). Exit 0
//!   acknowledges the event; any other exit is retried with backoff, then dead-lettered. CMD's
//!   environment does not carry `PASSAGE_API_KEY` unless `--pass-api-key` is given. SIGTERM or
//!   Ctrl-C drains: the events in flight finish, partitions are handed back, exit 0.
//! * `dead-letter list` prints one JSON object per line; `dead-letter replay ID...|--all` prints
//!   `replayed N` and exits 1 if an id was not in the dead-letter stream.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use passage_connect::client::{ApiKey, Client};
use passage_connect::queue::{QueueConfig, QueuedEvent, WebhookQueue, Worker, WorkerConfig};
use passage_connect::webhook::signing::WebhookSigningKey;
use passage_connect::webhook::{RemoteKeys, StaticKeys, VerifyError, WebhookVerifier};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;

const PRODUCTION_URL: &str = "https://connect.getpassage.ai";

/// Where the queue is; shared by the three commands.
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// Redis URL, e.g. `redis://127.0.0.1:6379/`.
    #[arg(long, value_name = "URL")]
    pub(crate) redis: String,
    /// Base name of the streams.
    #[arg(long, value_name = "NAME", default_value = passage_connect::queue::DEFAULT_STREAM)]
    stream: String,
    /// Number of partition streams (every receiver and worker of a queue must agree).
    #[arg(long, value_name = "N", default_value_t = passage_connect::queue::DEFAULT_PARTITIONS)]
    partitions: u16,
    /// Timeout of each Redis call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    redis_timeout_ms: u64,
}

impl QueueArgs {
    pub(crate) fn config(&self) -> QueueConfig {
        QueueConfig::new()
            .with_name(self.stream.clone())
            .with_partitions(self.partitions)
            .with_timeout(Duration::from_millis(self.redis_timeout_ms))
    }
}

/// Arguments of `passage webhook receive`.
#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, value_name = "HOST:PORT")]
    addr: SocketAddr,
    #[command(flatten)]
    queue: QueueArgs,
    /// Fetch verification keys from this API (`/webhook_verification_key/get`).
    #[arg(long, env = "PASSAGE_BASE_URL", default_value = PRODUCTION_URL, conflicts_with = "key")]
    base_url: String,
    /// Verify with this fixed key instead (public PEM, or a private PEM whose public half is used).
    #[arg(long, value_name = "PEM_FILE")]
    key: Option<PathBuf>,
    /// Connections served at once; one more is answered 503 and closed at once.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Time a request's head may take to arrive (from the connection's start for its first
    /// request), in milliseconds; a slower connection is closed.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// Time a webhook body may take to arrive, in milliseconds; a slower one is answered 408.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_ms: u64,
    /// Time a keep-alive connection may stay idle between requests, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// Largest webhook body, in bytes; larger is answered 413 (the verifier holds the same cap).
    #[arg(long, value_name = "BYTES", default_value_t = passage_connect::webhook::DEFAULT_MAX_BODY_SIZE)]
    max_body_bytes: usize,
}

impl ReceiveArgs {
    /// The serving limits the flags ask for.
    fn limits(&self) -> passage_serve::ServeLimits {
        passage_serve::ServeLimits::default()
            .with_max_connections(self.max_connections as usize)
            .with_header_read_timeout(Duration::from_millis(self.header_timeout_ms))
            .with_body_read_timeout(Duration::from_millis(self.body_timeout_ms))
            .with_idle_timeout(Duration::from_millis(self.idle_timeout_ms))
            .with_max_body_bytes(self.max_body_bytes)
    }
}

/// Arguments of `passage webhook work`.
#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// Consumer group (workers of one group share the events).
    #[arg(long, value_name = "NAME")]
    group: String,
    /// Consumer name, unique per running worker (default: `<hostname>-<pid>`).
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
    /// Runs of CMD per event before it is dead-lettered.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_attempts: u32,
    /// Lease of a partition and of an event, in milliseconds: a dead worker's events are taken
    /// over this long after it stopped. Renewed while CMD runs, so CMD may run longer.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    lease_ms: u64,
    /// One run of CMD is killed after this many milliseconds (a failed attempt).
    #[arg(long, value_name = "MS", default_value_t = 300_000)]
    handler_timeout_ms: u64,
    /// Acknowledged entries stay in the partition streams this long (milliseconds), then are
    /// trimmed; entries a group has not read or acknowledged are never trimmed.
    #[arg(long, value_name = "MS", default_value_t = 3_600_000)]
    retention_ms: u64,
    /// At most this many entries in the dead-letter stream (the oldest go first).
    #[arg(long, value_name = "N", default_value_t = passage_connect::queue::DEFAULT_DEAD_LETTER_CAP)]
    dead_letter_cap: usize,
    /// Pass PASSAGE_API_KEY on to CMD. By default CMD's environment does not carry it: the
    /// worker uses the key to look links up, and a handler seldom needs it.
    #[arg(long)]
    pass_api_key: bool,
    /// First backoff after a failed run, in milliseconds (doubles, up to 10 s).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    backoff_ms: u64,
    /// API base URL for `GET /v1/links/{id}` (key from PASSAGE_API_KEY).
    #[arg(long, env = "PASSAGE_BASE_URL", default_value = PRODUCTION_URL)]
    base_url: String,
    /// The command run per event, and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// `passage webhook dead-letter` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DeadLetterCommand {
    /// Print the dead-lettered entries, one JSON object per line, oldest first.
    List {
        #[command(flatten)]
        queue: QueueArgs,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
    /// Put dead-lettered entries back on their stream (same identity, so dedupe holds).
    Replay {
        #[command(flatten)]
        queue: QueueArgs,
        /// Replay every dead-lettered entry.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Entry ids (from `list`).
        #[arg(value_name = "ID", required_unless_present = "all")]
        ids: Vec<String>,
    },
}

struct Receiver {
    verifier: WebhookVerifier,
    queue: WebhookQueue,
}

/// `passage webhook receive`: serves through `passage-serve` (timeouts, connection and body
/// caps, JSON errors), so a peer that has not signed anything cannot hold the receiver; stops on
/// Ctrl-C or SIGTERM, letting requests in flight finish (their webhooks are queued or refused,
/// never half-done).
pub async fn receive(args: ReceiveArgs) -> anyhow::Result<ExitCode> {
    let verifier = match &args.key {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the key file {}", path.display()))?;
            let public = if pem.contains("PRIVATE KEY-----") {
                WebhookSigningKey::from_pem(&pem)
                    .with_context(|| path.display().to_string())?
                    .public_key_pem()
            } else {
                pem
            };
            WebhookVerifier::new(
                StaticKeys::any_kid(&public).with_context(|| path.display().to_string())?,
            )
        }
        None => WebhookVerifier::new(RemoteKeys::new(&args.base_url)),
    }
    .with_max_body_size(args.max_body_bytes);
    let queue = WebhookQueue::connect(&args.queue.redis, args.queue.config())
        .await
        .context("connecting to redis")?;
    let state = Arc::new(Receiver { verifier, queue });
    let app = axum::Router::new()
        .fallback(axum::routing::post(accept))
        .with_state(state);
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            let hint = crate::hints::bind_hint(&err, "--addr")
                .map(|hint| format!("\nhint: {hint}"))
                .unwrap_or_default();
            anyhow::bail!("binding {}: {err}{hint}", args.addr);
        }
    };
    let bound = listener.local_addr()?;
    // Installed before "listening" is printed: a SIGTERM right after it must not kill us mid-way.
    let stop = crate::signal::shutdown()?;
    println!("listening on http://{bound}");
    tracing::info!(%bound, "webhook receiver listening");
    passage_serve::serve(listener, app, args.limits(), stop).await;
    tracing::info!("webhook receiver stopped");
    Ok(ExitCode::SUCCESS)
}

/// One webhook: verified, then queued. `peer` is the connecting address (for the logs).
async fn accept(
    State(state): State<Arc<Receiver>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verified = match state.verifier.verify_bytes(&headers, body).await {
        Ok(verified) => verified,
        Err(err) => {
            let status = match &err {
                VerifyError::KeyUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                VerifyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNAUTHORIZED,
            };
            tracing::warn!(error = %err, %status, %peer, "webhook refused");
            return (status, Json(json!({"error": err.to_string()}))).into_response();
        }
    };
    match state.queue.enqueue(&verified).await {
        Ok(id) => (StatusCode::OK, Json(json!({"queued": id}))).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, %peer, "could not queue the webhook; answering 503");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "queue unavailable"})),
            )
                .into_response()
        }
    }
}

/// `passage webhook work`.
pub async fn work(args: WorkArgs) -> anyhow::Result<ExitCode> {
    let consumer = args.consumer.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
        format!("{host}-{}", std::process::id())
    });
    let config = WorkerConfig::new(args.group.clone(), consumer)
        .with_max_attempts(args.max_attempts)
        .with_lease(Duration::from_millis(args.lease_ms))
        .with_handler_timeout(Duration::from_millis(args.handler_timeout_ms))
        .with_retention(Duration::from_millis(args.retention_ms))
        .with_dead_letter_cap(args.dead_letter_cap)
        .with_backoff(
            Duration::from_millis(args.backoff_ms),
            Duration::from_secs(10),
        );
    let mut worker = Worker::connect(&args.queue.redis, args.queue.config(), config)
        .await
        .context("connecting to redis")?;
    match std::env::var("PASSAGE_API_KEY") {
        Ok(key) if !key.trim().is_empty() => {
            let client = Client::builder(ApiKey::new(key.trim()))
                .base_url(args.base_url.clone())
                .build()?;
            worker = worker.with_client(client);
        }
        _ => tracing::warn!(
            "PASSAGE_API_KEY is not set: events carry no integration, operations or typed results"
        ),
    }
    let command = Arc::new(args.command);
    let pass_api_key = args.pass_api_key;
    let stop = crate::signal::shutdown()?;
    worker
        .run(
            move |event: Arc<QueuedEvent>| {
                let command = command.clone();
                async move { run_command(&command, &event, pass_api_key).await }
            },
            // SIGTERM or Ctrl-C: the entries in flight are finished, the partitions handed back.
            stop,
        )
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// The JSON document CMD reads.
fn event_document(event: &QueuedEvent) -> Value {
    let link = event.event.link_event();
    let operations = event.operations.as_ref().map(|ops| {
        let outcomes = event.results.as_ref().and_then(|r| r.as_ref().ok());
        let result_error = event
            .results
            .as_ref()
            .and_then(|r| r.as_ref().err())
            .map(ToString::to_string);
        ops.iter()
            .enumerate()
            .map(|(i, op)| {
                let outcome = outcomes.and_then(|o| o.as_slice().get(i));
                let (data, error) = match outcome.map(|o| &o.outcome) {
                    Some(Ok(typed)) => (
                        serde_json::to_value(typed).unwrap_or(Value::Null),
                        Value::Null,
                    ),
                    Some(Err(err)) => (Value::Null, Value::from(err.to_string())),
                    None => (
                        Value::Null,
                        result_error.clone().map_or(Value::Null, Value::from),
                    ),
                };
                json!({"resource": op.resource, "action": op.action, "data": data, "error": error})
            })
            .collect::<Vec<_>>()
    });
    let error = link
        .and_then(|l| l.error.as_ref())
        .map_or(Value::Null, |e| {
            serde_json::to_value(e).unwrap_or(Value::Null)
        });
    json!({
        "event": event.event.name(),
        "reconciled": event.reconciled,
        "linkId": link.map(|l| l.link_id.clone()),
        "status": link.map(|l| l.status.as_str().to_owned()),
        "timestamp": link.map(|l| l.timestamp),
        "integration": event.integration,
        "operations": operations,
        "error": error,
    })
}

async fn run_command(
    command: &[String],
    event: &QueuedEvent,
    pass_api_key: bool,
) -> Result<(), String> {
    let document = serde_json::to_vec(&event_document(event)).map_err(|e| e.to_string())?;
    let (program, args) = command.split_first().ok_or("no command")?;
    let mut child = tokio::process::Command::new(program);
    if !pass_api_key {
        // The key is the worker's, not the handler's: a handler that logs its environment (or a
        // crash reporter that does) must not leak it.
        child.env_remove("PASSAGE_API_KEY");
    }
    // Not even a SIGKILLed worker leaves its handler running (see `child_guard`).
    crate::child_guard::die_with_parent(&mut child);
    let mut child = child
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        // Cut off with the attempt (the worker's lease): no run outlives its attempt.
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin is fine: ignore a broken pipe.
        let _ = stdin.write_all(&document).await;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} exited with {status}"))
    }
}

/// `passage webhook dead-letter`.
pub async fn dead_letter(cmd: DeadLetterCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DeadLetterCommand::List { queue, count } => {
            let queue = WebhookQueue::connect(&queue.redis, queue.config()).await?;
            for dead in queue.dead_letters(count).await? {
                let body: Value = serde_json::from_slice(&dead.body).unwrap_or_else(|_| {
                    Value::from(String::from_utf8_lossy(&dead.body).into_owned())
                });
                println!(
                    "{}",
                    json!({
                        "id": dead.id,
                        "linkId": dead.link_id,
                        "event": dead.event,
                        "error": dead.error,
                        "attempts": dead.attempts,
                        "sourceStream": dead.source_stream,
                        "sourceId": dead.source_id,
                        "deadAt": dead.dead_at,
                        "body": body,
                    })
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DeadLetterCommand::Replay { queue, all, ids } => {
            let queue = WebhookQueue::connect(&queue.redis, queue.config()).await?;
            if all {
                println!("replayed {}", queue.replay_all().await?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut replayed = 0;
            let mut missing = Vec::new();
            for id in &ids {
                match queue.replay(id).await? {
                    Some(_) => replayed += 1,
                    None => missing.push(id.as_str()),
                }
            }
            println!("replayed {replayed}");
            if missing.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("not in the dead-letter stream: {}", missing.join(", "));
                Ok(ExitCode::from(1))
            }
        }
    }
}
