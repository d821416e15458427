//! A durable webhook queue on Redis Streams (cargo feature `redis-streams`): receivers verify and
//! [`enqueue`](WebhookQueue::enqueue), [`Worker`]s on other machines decode, dedupe and hand each
//! event to your handler, retry it, and dead-letter what keeps failing.
//!
//! # Layout in Redis
//!
//! * `<name>:<p>` for each partition `p` in `0..partitions`: one stream per partition. An event
//!   goes to partition `fnv1a64(linkId) % partitions` ([`partition_of`]), so every event of a
//!   link is in one stream, in the order receivers queued it.
//! * `<name>:dead`: the dead-letter stream (the entry's fields, plus `error`, `attempts`,
//!   `source_stream`, `source_id`).
//! * `<name>:owner:<p>`: which worker owns partition `p` (a lease, renewed while it lives).
//! * `<name>:workers`: live workers (a sorted set scored by heartbeat expiry), to share the
//!   partitions among them.
//! * `<name>:dedupe:...`: the [`RedisDedupeStore`](crate::dedupe::RedisDedupeStore) records.
//!
//! # Guarantees
//!
//! * **Durable before 2xx**: [`WebhookQueue::enqueue`] returns only after Redis acknowledged the
//!   `XADD` (with `appendfsync always`, after it is on disk); a receiver answers 2xx only then, and
//!   503 otherwise so that Passage retries.
//! * **At least once**: an entry leaves the pending list (`XACK`) only after the handler
//!   succeeded or the entry was copied to the dead-letter stream. A worker that dies leaves its
//!   entries pending; the worker that takes its partitions over claims them (`XAUTOCLAIM`), and
//!   claims again whatever another consumer still holds pending later (a previous owner that read
//!   entries just before noticing its lease was gone): before handling newer entries of that
//!   partition, and at every lease upkeep (a third of the lease).
//! * **No double processing of a finished event**: every entry goes through the processing/done
//!   rule of [`crate::dedupe`] keyed by `(linkId, event, timestamp)`, so a redelivery by Passage
//!   (a second entry) or a reclaim after a crash is skipped when the first run finished. A handler
//!   runs twice only when a worker died after the handler finished and before it recorded *done*.
//! * **Never twice at once**: while a handler runs, a heartbeat renews the partition lease and the
//!   event's claim; a worker that loses its lease stops the handler before another worker can
//!   take over, and acknowledges only after checking it still owns the partition (see
//!   `worker::lease`).
//! * **Bounded**: acknowledged entries are trimmed after a retention ([`WorkerConfig::with_retention`],
//!   default 1 h), the dead-letter stream is capped ([`WorkerConfig::with_dead_letter_cap`]).
//! * **Clean stops**: when [`Worker::run`]'s shutdown future completes, the entries in flight
//!   finish, the leases are released and the worker leaves the registry.
//! * **Order per link**: a partition is processed by one worker at a time, entry after entry, so
//!   `link.failed` and a later `link.complete` of one link are handled in the order they were
//!   queued. A retried entry holds its partition until it succeeds or is dead-lettered.
#![allow(clippy::module_name_repetitions)]

pub mod reconcile;
mod worker;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::aio::ConnectionManager;
use ::redis::streams::{StreamId, StreamRangeReply};
use ::redis::Value;
use bytes::Bytes;

use crate::webhook::{VerifiedWebhook, WebhookEvent};

pub use reconcile::{
    ListingOrder, ReconcileReport, Reconciler, ReconcilerConfig, DEFAULT_GRACE, DEFAULT_LOOKBACK,
    DEFAULT_MARKER_TTL, DEFAULT_SAFETY_MARGIN,
};
pub use worker::{
    QueuedEvent, Worker, WorkerConfig, WorkerStats, DEFAULT_DEAD_LETTER_CAP,
    DEFAULT_HANDLER_TIMEOUT, DEFAULT_RETENTION,
};

/// Default base name of the streams.
pub const DEFAULT_STREAM: &str = "passage:webhooks";
/// Default number of partitions (streams) events are spread over.
pub const DEFAULT_PARTITIONS: u16 = 8;
/// Default bound on every Redis call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A Redis command failed (connection refused or reset, a Redis error reply...).
    #[error("webhook queue: {operation} failed: {source}")]
    Redis {
        /// The command or step (`XADD`, `XACK`, `connect`...).
        operation: &'static str,
        /// The Redis client's error.
        #[source]
        source: ::redis::RedisError,
    },
    /// A Redis call did not answer within the queue's timeout.
    #[error("webhook queue: {operation} timed out after {after:?}")]
    Timeout {
        /// The command.
        operation: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// A stream entry lacks a field the queue writes, or holds a value of the wrong kind
    /// (written by something else, or by an incompatible version).
    #[error("webhook queue: entry {id} of {stream}: field `{field}` {problem}")]
    MalformedEntry {
        /// The stream.
        stream: String,
        /// The entry id.
        id: String,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The dedupe store failed.
    #[error(transparent)]
    Dedupe(#[from] crate::dedupe::DedupeError),
    /// A configuration value is out of range.
    #[error("webhook queue: invalid configuration: {0}")]
    Config(&'static str),
}

/// Names and sizes shared by receivers and workers: they must agree on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    name: String,
    partitions: u16,
    timeout: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_STREAM.to_owned(),
            partitions: DEFAULT_PARTITIONS,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl QueueConfig {
    /// [`DEFAULT_STREAM`], [`DEFAULT_PARTITIONS`], [`DEFAULT_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The base name of the streams (`--stream` on the CLI).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Spreads events over `partitions` streams (at least 1). Every receiver and worker of one
    /// queue must use the same number, or events of one link may land in two streams.
    pub fn with_partitions(mut self, partitions: u16) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// Bounds every Redis call by `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of partitions.
    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    /// The timeout of each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The stream of partition `p`: `<name>:<p>`.
    pub fn stream(&self, partition: u16) -> String {
        format!("{}:{partition}", self.name)
    }

    /// The dead-letter stream: `<name>:dead`.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}:dead", self.name)
    }

    /// The partition of `link_id` under this configuration.
    pub fn partition_of(&self, link_id: &str) -> u16 {
        partition_of(link_id, self.partitions)
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.name)
    }
}

/// The partition of a link: FNV-1a (64-bit) of the link id's bytes, modulo `partitions`. Fixed
/// so that receivers of different versions agree.
///
/// ```
/// use passage_connect::queue::partition_of;
/// assert_eq!(partition_of("link_abc123", 8), partition_of("link_abc123", 8));
/// assert!(partition_of("link_abc123", 8) < 8);
/// assert_eq!(partition_of("anything", 1), 0);
/// ```
pub fn partition_of(link_id: &str, partitions: u16) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in link_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u16::try_from(hash % u64::from(partitions.max(1))).unwrap_or(0)
}

/// Field names of a queued entry.
pub(crate) mod field {
    pub const BODY: &str = "body";
    pub const KID: &str = "kid";
    pub const IAT: &str = "iat";
    pub const RECEIVED_AT: &str = "received_at";
    pub const LINK_ID: &str = "link_id";
    pub const EVENT: &str = "event";
    pub const ERROR: &str = "error";
    pub const ATTEMPTS: &str = "attempts";
    pub const SOURCE_STREAM: &str = "source_stream";
    pub const SOURCE_ID: &str = "source_id";
    pub const DEAD_AT: &str = "dead_at";
    /// Where the entry came from: absent for a received webhook, [`super::SOURCE_RECONCILED`]
    /// for an event the reconciler synthesized.
    pub const SOURCE: &str = "source";
}

/// The value of the `source` field of an entry the [`Reconciler`] enqueued (its webhook was
/// never queued: dropped after Passage's last retry while no receiver answered).
pub const SOURCE_RECONCILED: &str = "reconciled";

/// The producer side: receivers enqueue verified webhooks. Cheap to clone.
#[derive(Clone)]
pub struct WebhookQueue {
    conn: ConnectionManager,
    config: QueueConfig,
}

impl fmt::Debug for WebhookQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection knows the server address and maybe a password: leave it out.
        f.debug_struct("WebhookQueue")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A dead-lettered entry, as [`WebhookQueue::dead_letters`] lists it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its id in the dead-letter stream (what [`WebhookQueue::replay`] takes).
    pub id: String,
    /// The stream it came from.
    pub source_stream: String,
    /// Its id there.
    pub source_id: String,
    /// The link id (empty for an event without one).
    pub link_id: String,
    /// The event name.
    pub event: String,
    /// The last error.
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// When it was dead-lettered, Unix ms.
    pub dead_at: u64,
    /// The raw verified body.
    pub body: Bytes,
}

impl WebhookQueue {
    /// Connects to Redis at `url` (`redis://[:password@]host:port[/db]`). The queue reconnects by
    /// itself after Redis restarts. Errors never contain the URL.
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Self, QueueError> {
        let conn = crate::dedupe::connect_manager(url, config.timeout)
            .await
            .map_err(|source| QueueError::Redis {
                operation: "connect",
                source,
            })?;
        Ok(Self { conn, config })
    }

    /// The configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Queues a verified webhook: `XADD` of the raw body, the signing key id, the JWT's `iat`, the
    /// receive time and the link id and event name (read from the body, for partitioning and
    /// listing). Returns the entry id once Redis acknowledged the write: answer 2xx then, and
    /// non-2xx on an error (Passage retries).
    pub async fn enqueue(&self, webhook: &VerifiedWebhook) -> Result<String, QueueError> {
        let (link_id, event) = match webhook.event() {
            Ok(event) => (
                event
                    .link_event()
                    .map(|l| l.link_id.clone())
                    .unwrap_or_default(),
                event.name().to_owned(),
            ),
            // A verified body that does not parse is queued anyway: the worker dead-letters it
            // with the parse error, where an operator can see it.
            Err(_) => (String::new(), String::new()),
        };
        let stream = self.config.stream(self.config.partition_of(&link_id));
        let cmd = ::redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg(field::BODY)
            .arg(webhook.body())
            .arg(field::KID)
            .arg(webhook.kid())
            .arg(field::IAT)
            .arg(webhook.issued_at())
            .arg(field::RECEIVED_AT)
            .arg(unix_millis())
            .arg(field::LINK_ID)
            .arg(&link_id)
            .arg(field::EVENT)
            .arg(&event)
            .clone();
        let id: String = self.call("XADD", cmd).await?;
        tracing::debug!(
            target: "passage_connect::queue",
            metric = "enqueued",
            stream = %stream,
            id = %id,
            link_id = %link_id,
            event = %event,
            "webhook enqueued"
        );
        Ok(id)
    }

    /// Queues an event the [`Reconciler`] synthesized from the API (`body`: the documented
    /// webhook shape, `timestamp` = the link's `updatedAt`, so its dedupe key is the real
    /// webhook's): the same fields as [`enqueue`](Self::enqueue), with no signature (`kid` `""`,
    /// `iat` `0`) and `source` = [`SOURCE_RECONCILED`]. Same partition as the link's webhooks.
    pub async fn enqueue_reconciled(
        &self,
        body: &[u8],
        link_id: &str,
        event: &str,
    ) -> Result<String, QueueError> {
        let stream = self.config.stream(self.config.partition_of(link_id));
        let cmd = ::redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg(field::BODY)
            .arg(body)
            .arg(field::KID)
            .arg("")
            .arg(field::IAT)
            .arg(0)
            .arg(field::RECEIVED_AT)
            .arg(unix_millis())
            .arg(field::LINK_ID)
            .arg(link_id)
            .arg(field::EVENT)
            .arg(event)
            .arg(field::SOURCE)
            .arg(SOURCE_RECONCILED)
            .clone();
        let id: String = self.call("XADD", cmd).await?;
        tracing::debug!(
            target: "passage_connect::queue",
            metric = "enqueued",
            stream = %stream,
            id = %id,
            link_id = %link_id,
            event = %event,
            source = SOURCE_RECONCILED,
            "reconciled event enqueued"
        );
        Ok(id)
    }

    /// The first `count` entries of the dead-letter stream, oldest first.
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let stream = self.config.dead_letter_stream();
        let cmd = ::redis::cmd("XRANGE")
            .arg(&stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .clone();
        let reply: StreamRangeReply = self.call("XRANGE", cmd).await?;
        reply
            .ids
            .iter()
            .map(|entry| dead_letter_from(&stream, entry))
            .collect()
    }

    /// Puts dead-lettered entry `id` back on its partition stream, with its original fields (so
    /// its dedupe identity is the same: if it was processed meanwhile it is skipped), and deletes
    /// it from the dead-letter stream. `Ok(None)` if there is no such entry.
    pub async fn replay(&self, id: &str) -> Result<Option<String>, QueueError> {
        let stream = self.config.dead_letter_stream();
        let cmd = ::redis::cmd("XRANGE").arg(&stream).arg(id).arg(id).clone();
        let reply: StreamRangeReply = self.call("XRANGE", cmd).await?;
        let Some(entry) = reply.ids.first() else {
            return Ok(None);
        };
        let dead = dead_letter_from(&stream, entry)?;
        let target = if dead.source_stream.is_empty() {
            self.config.stream(self.config.partition_of(&dead.link_id))
        } else {
            dead.source_stream.clone()
        };
        let mut xadd = ::redis::cmd("XADD");
        xadd.arg(&target).arg("*");
        for name in [
            field::BODY,
            field::KID,
            field::IAT,
            field::RECEIVED_AT,
            field::LINK_ID,
            field::EVENT,
            field::SOURCE,
        ] {
            if let Some(value) = entry.map.get(name) {
                xadd.arg(name).arg(value_bytes(value).unwrap_or_default());
            }
        }
        xadd.arg(field::SOURCE_ID).arg(&dead.source_id);
        // Add first, then delete: a crash in between leaves a copy in both streams, which dedupe
        // makes harmless; the other order could lose the entry.
        let new_id: String = self.call("XADD", xadd).await?;
        let del = ::redis::cmd("XDEL").arg(&stream).arg(id).clone();
        let _: i64 = self.call("XDEL", del).await?;
        tracing::info!(
            target: "passage_connect::queue",
            metric = "replayed",
            dead_id = %id,
            stream = %target,
            id = %new_id,
            "dead letter replayed"
        );
        Ok(Some(new_id))
    }

    /// Replays every dead-lettered entry (see [`replay`](Self::replay)); returns how many.
    pub async fn replay_all(&self) -> Result<usize, QueueError> {
        let mut replayed = 0;
        loop {
            let batch = self.dead_letters(100).await?;
            if batch.is_empty() {
                return Ok(replayed);
            }
            for dead in batch {
                if self.replay(&dead.id).await?.is_some() {
                    replayed += 1;
                }
            }
        }
    }

    async fn call<T: ::redis::FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: ::redis::Cmd,
    ) -> Result<T, QueueError> {
        let mut conn = self.conn.clone();
        bounded(self.config.timeout, operation, async move {
            cmd.query_async(&mut conn).await
        })
        .await
    }
}

/// Runs a Redis call with a timeout, mapping both failure kinds to [`QueueError`].
pub(crate) async fn bounded<T>(
    timeout: Duration,
    operation: &'static str,
    call: impl Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, QueueError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) if source.is_timeout() => Err(QueueError::Timeout {
            operation,
            after: timeout,
        }),
        Ok(Err(source)) => Err(QueueError::Redis { operation, source }),
        Err(_) => Err(QueueError::Timeout {
            operation,
            after: timeout,
        }),
    }
}

pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn value_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

pub(crate) fn text_field(
    stream: &str,
    entry: &StreamId,
    name: &'static str,
) -> Result<String, QueueError> {
    let bytes = entry
        .map
        .get(name)
        .and_then(value_bytes)
        .ok_or_else(|| malformed(stream, entry, name, "is missing"))?;
    String::from_utf8(bytes).map_err(|_| malformed(stream, entry, name, "is not UTF-8"))
}

pub(crate) fn number_field(
    stream: &str,
    entry: &StreamId,
    name: &'static str,
) -> Result<u64, QueueError> {
    text_field(stream, entry, name)?
        .parse()
        .map_err(|_| malformed(stream, entry, name, "is not a number"))
}

pub(crate) fn malformed(
    stream: &str,
    entry: &StreamId,
    field: &'static str,
    problem: &'static str,
) -> QueueError {
    QueueError::MalformedEntry {
        stream: stream.to_owned(),
        id: entry.id.clone(),
        field,
        problem,
    }
}

fn dead_letter_from(stream: &str, entry: &StreamId) -> Result<DeadLetter, QueueError> {
    let optional = |name: &'static str| text_field(stream, entry, name).unwrap_or_default();
    Ok(DeadLetter {
        id: entry.id.clone(),
        source_stream: optional(field::SOURCE_STREAM),
        source_id: optional(field::SOURCE_ID),
        link_id: optional(field::LINK_ID),
        event: optional(field::EVENT),
        error: optional(field::ERROR),
        attempts: optional(field::ATTEMPTS).parse().unwrap_or(0),
        dead_at: optional(field::DEAD_AT).parse().unwrap_or(0),
        body: Bytes::from(
            entry
                .map
                .get(field::BODY)
                .and_then(value_bytes)
                .ok_or_else(|| malformed(stream, entry, field::BODY, "is missing"))?,
        ),
    })
}

/// Parses the fields of a queued entry (not yet the body).
pub(crate) fn entry_fields(
    stream: &str,
    entry: &StreamId,
) -> Result<(Bytes, HashMap<&'static str, String>), QueueError> {
    let body = entry
        .map
        .get(field::BODY)
        .and_then(value_bytes)
        .ok_or_else(|| malformed(stream, entry, field::BODY, "is missing"))?;
    let mut fields = HashMap::new();
    for name in [field::KID, field::LINK_ID, field::EVENT] {
        fields.insert(name, text_field(stream, entry, name)?);
    }
    Ok((Bytes::from(body), fields))
}

/// Parses the body of a queued entry into the typed event.
pub(crate) fn parse_event(body: &[u8]) -> Result<WebhookEvent, crate::webhook::EventError> {
    WebhookEvent::parse(body)
}
