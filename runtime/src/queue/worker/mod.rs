//! The consumer side of the queue: a [`Worker`] owns a share of the partitions, reads their
//! entries through a consumer group, dedupes, decodes and runs the handler, retries with backoff,
//! dead-letters, and takes over the partitions (and pending entries) of workers that died.
//! Partition leases and the heartbeat are in [`lease`], reading entries in [`read`], trimming
//! in [`retention`].

mod entry_id;
mod lease;
mod read;
mod retention;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::redis::aio::ConnectionManager;
use ::redis::streams::StreamId;
use ::redis::Script;
use bytes::Bytes;

use self::lease::{HeldClaim, RELEASE_LUA, RENEW_CLAIM_LUA, RENEW_LUA};
use super::{bounded, entry_fields, field, parse_event, unix_millis, QueueConfig, QueueError};
use crate::client::Client;
use crate::dedupe::{Claim, ClaimToken, DedupeKey, DedupeStore, RedisDedupeStore};
use crate::link::{LinkResults, OperationRef, ResultError};
use crate::webhook::WebhookEvent;

/// Default of [`WorkerConfig::with_handler_timeout`].
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(300);
/// Default of [`WorkerConfig::with_retention`]: as long as the dedupe store keeps *done* records.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);
/// Default of [`WorkerConfig::with_dead_letter_cap`].
pub const DEFAULT_DEAD_LETTER_CAP: usize = 10_000;

/// How a [`Worker`] behaves; `group` and `consumer` name it in Redis.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    group: String,
    consumer: String,
    max_attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    lease: Duration,
    batch: usize,
    block: Duration,
    handler_timeout: Duration,
    retention: Duration,
    dead_letter_cap: usize,
}

impl WorkerConfig {
    /// A worker of consumer group `group` named `consumer` (unique per running worker: two
    /// processes with one name would share a pending list), 5 attempts, backoff from 200 ms
    /// doubling to 10 s, a 30 s lease, batches of 32, 1 s blocking reads.
    pub fn new(group: impl Into<String>, consumer: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            consumer: consumer.into(),
            max_attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            lease: crate::dedupe::DEFAULT_LEASE,
            batch: 32,
            block: Duration::from_secs(1),
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            retention: DEFAULT_RETENTION,
            dead_letter_cap: DEFAULT_DEAD_LETTER_CAP,
        }
    }

    /// Cuts one run of the handler off after `timeout` (a failed attempt). Independent of the
    /// lease: the lease is renewed while the handler runs.
    pub fn with_handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Keeps acknowledged entries in the partition streams for `retention`, then trims them
    /// (entries a consumer group has not read or not acknowledged are never trimmed).
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Keeps at most `cap` entries (at least 1) in the dead-letter stream; older ones are
    /// dropped when a new one is added.
    pub fn with_dead_letter_cap(mut self, cap: usize) -> Self {
        self.dead_letter_cap = cap.max(1);
        self
    }

    /// Runs the handler at most `attempts` times (at least 1) before dead-lettering.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Waits `first` after the first failure, doubling up to `max`.
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// The lease of a partition and of an event's dedupe claim: a dead worker's partitions and
    /// events are taken over this long after its last renewal. Must exceed a handler's worst
    /// case (one attempt is cut off at the lease).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(300));
        self
    }

    /// Reads up to `batch` entries per call (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Blocks a read for at most `block` when nothing is queued.
    pub fn with_block(mut self, block: Duration) -> Self {
        self.block = block.max(Duration::from_millis(1));
        self
    }

    /// The consumer name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }
}

/// Counters of a [`Worker`] (also emitted as `tracing` events with a `metric` field, target
/// `passage_connect::queue`).
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Events whose handler succeeded.
    pub processed: AtomicU64,
    /// Entries skipped because their event was already done (redelivery or reclaim).
    pub duplicates: AtomicU64,
    /// Failed handler attempts that were retried.
    pub retried: AtomicU64,
    /// Entries moved to the dead-letter stream.
    pub dead_lettered: AtomicU64,
    /// Entries claimed from other (dead) consumers.
    pub reclaimed: AtomicU64,
    /// Redis calls that failed (each is retried).
    pub redis_errors: AtomicU64,
}

impl WorkerStats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One event handed to the handler.
#[derive(Debug)]
pub struct QueuedEvent {
    /// The partition stream it was read from.
    pub stream: String,
    /// Its entry id there.
    pub id: String,
    /// Which attempt this is (1 for the first; counts restart after a takeover).
    pub attempt: u32,
    /// When the receiver queued it, Unix ms.
    pub received_at: u64,
    /// The id of the key that signed it (empty for a reconciled event).
    pub kid: String,
    /// Whether the event was synthesized by the reconciler from `GET /v1/links/{id}` (its
    /// webhook was dropped) rather than received: same body shape, same dedupe identity.
    pub reconciled: bool,
    /// The raw verified body.
    pub body: Bytes,
    /// The typed event.
    pub event: WebhookEvent,
    /// The link's integration, when the worker has a client (`GET /v1/links/{id}`).
    pub integration: Option<String>,
    /// The link's operations, when the worker has a client.
    pub operations: Option<Vec<OperationRef>>,
    /// The typed per-operation results of a `link.complete`, when the worker has a client.
    pub results: Option<Result<LinkResults, ResultError>>,
}

/// A consumer of the queue. See the [module docs](super) for what it guarantees.
pub struct Worker {
    queue: QueueConfig,
    config: WorkerConfig,
    conn: ConnectionManager,
    reader: ConnectionManager,
    dedupe: RedisDedupeStore,
    client: Option<Client>,
    stats: Arc<WorkerStats>,
    renew: Script,
    release: Script,
    renew_claim: Script,
    /// When each held partition's lease was last confirmed by Redis (measured before the call).
    confirmed: std::sync::Mutex<HashMap<u16, Instant>>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("queue", &self.queue)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

enum Outcome {
    Done,
    Failed { error: String, attempts: u32 },
}

/// A parsed entry, as every attempt sees it.
struct EntryData {
    stream: String,
    id: String,
    received_at: u64,
    kid: String,
    reconciled: bool,
    body: Bytes,
    event: WebhookEvent,
}

/// How one entry ended for this worker.
enum EntryEnd {
    /// Acknowledged: handled, skipped as a duplicate, or dead-lettered.
    Finished,
    /// The partition's lease went to another worker: the entry was left pending for it.
    LeaseLost,
}

/// How a partition's batch ended.
enum PartitionEnd {
    Done,
    /// Stopping: the rest of the batch stays pending for the next owner.
    Stopped,
    /// A Redis call failed: claim the pending entries again next round.
    Retry,
    LeaseLost,
}

impl Worker {
    /// Connects (two connections: blocking reads get their own) and creates the consumer group
    /// on every partition stream if missing.
    pub async fn connect(
        url: &str,
        queue: QueueConfig,
        config: WorkerConfig,
    ) -> Result<Self, QueueError> {
        let connect = |timeout| async move {
            crate::dedupe::connect_manager(url, timeout)
                .await
                .map_err(|source| QueueError::Redis {
                    operation: "connect",
                    source,
                })
        };
        let conn = connect(queue.timeout()).await?;
        let reader = connect(queue.timeout() + config.block).await?;
        let dedupe = RedisDedupeStore::from_manager(conn.clone())
            .with_prefix(queue.key("dedupe:"))
            .with_lease(config.lease)
            .with_timeout(queue.timeout());
        let worker = Self {
            queue,
            config,
            conn,
            reader,
            dedupe,
            client: None,
            stats: Arc::new(WorkerStats::default()),
            renew: Script::new(RENEW_LUA),
            release: Script::new(RELEASE_LUA),
            renew_claim: Script::new(RENEW_CLAIM_LUA),
            confirmed: std::sync::Mutex::default(),
        };
        worker.create_groups().await?;
        Ok(worker)
    }

    /// Looks each link up with `client` (`GET /v1/links/{id}`) to fill
    /// [`QueuedEvent::integration`], [`operations`](QueuedEvent::operations) and the typed
    /// [`results`](QueuedEvent::results). A failed lookup is a failed attempt.
    pub fn with_client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The worker's counters.
    pub fn stats(&self) -> Arc<WorkerStats> {
        self.stats.clone()
    }

    /// Processes events until `shutdown` completes, then drains: the entry each partition has in
    /// flight is finished (its handler runs to its end), the entries read but not started stay
    /// pending for the next owner, the partitions are handed back and the worker leaves the
    /// registry, so the remaining workers (or a new one) take every partition at once.
    /// `handler` gets each event; `Ok` acknowledges it, `Err` is retried, then dead-lettered with
    /// the error's text.
    pub async fn run<H, Fut, E>(
        &self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), QueueError>
    where
        H: Fn(Arc<QueuedEvent>) -> Fut + Send + Sync,
        Fut: Future<Output = Result<(), E>> + Send,
        E: fmt::Display,
    {
        tokio::pin!(shutdown);
        // `stopped`: the shutdown future completed (it must not be polled again);
        // `stopping`: what the partitions' loops read between entries.
        let mut stopped = false;
        let stopping = AtomicBool::new(false);
        let mut owned: BTreeSet<u16> = BTreeSet::new();
        let mut needs_claim: BTreeSet<u16> = BTreeSet::new();
        let mut next_maintain = Instant::now();
        let trim_every =
            (self.config.retention / 2).clamp(Duration::from_millis(100), Duration::from_secs(60));
        let mut next_trim = Instant::now() + trim_every;
        while !stopped {
            if Instant::now() >= next_maintain {
                match self.maintain(&mut owned, &mut needs_claim).await {
                    Ok(()) => {
                        next_maintain = Instant::now() + self.config.lease / 3;
                        // Between batches nothing of an owned partition should be pending: an
                        // entry that is (another consumer's, read after this worker's takeover
                        // claim; or this worker's own, delivered to a read it had given up on)
                        // would otherwise wait for a newer entry of its partition (below), or
                        // forever if none comes, and hold back trimming meanwhile.
                        for partition in owned.clone() {
                            match self.has_pending(partition).await {
                                Ok(true) => {
                                    needs_claim.insert(partition);
                                }
                                Ok(false) => {}
                                Err(err) => self.note_error(&err),
                            }
                        }
                    }
                    Err(err) => {
                        WorkerStats::bump(&self.stats.redis_errors);
                        tracing::warn!(target: "passage_connect::queue", error = %err, "partition lease upkeep failed");
                        next_maintain = Instant::now() + Duration::from_millis(200);
                    }
                }
            }
            if Instant::now() >= next_trim {
                next_trim = Instant::now() + trim_every;
                for partition in owned.clone() {
                    if let Err(err) = self.trim(partition).await {
                        self.note_error(&err);
                    }
                }
            }
            // Pending entries of taken-over partitions (or left by an error) come first.
            let mut batches: BTreeMap<u16, Vec<StreamId>> = BTreeMap::new();
            for partition in needs_claim.clone() {
                match self.claim_pending(partition).await {
                    Ok(entries) => {
                        needs_claim.remove(&partition);
                        if !entries.is_empty() {
                            batches.insert(partition, entries);
                        }
                    }
                    Err(err) => self.note_error(&err),
                }
            }
            if batches.is_empty() && !owned.is_empty() {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    read = self.read_new(&owned) => match read {
                        Ok(read) => batches = self.oldest_first(read, &mut needs_claim).await,
                        Err(err) => {
                            self.note_error(&err);
                            needs_claim.extend(owned.iter().copied());
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    },
                }
            } else if owned.is_empty() {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep_until(next_maintain.into()) => {}
                }
            }
            // Partitions in parallel, each partition's entries in order.
            let runs = batches.into_iter().map(|(partition, entries)| {
                let (handler, stopping) = (&handler, &stopping);
                async move {
                    for entry in entries {
                        if stopping.load(Ordering::Relaxed) {
                            // Left pending: the next owner claims it, in order.
                            return (partition, PartitionEnd::Stopped);
                        }
                        match self.process(partition, &entry, handler).await {
                            Ok(EntryEnd::Finished) => {}
                            Ok(EntryEnd::LeaseLost) => return (partition, PartitionEnd::LeaseLost),
                            Err(err) => {
                                self.note_error(&err);
                                return (partition, PartitionEnd::Retry);
                            }
                        }
                    }
                    (partition, PartitionEnd::Done)
                }
            });
            // The shutdown signal is watched while handlers run: a stop lets each partition
            // finish the entry in flight and start no other.
            let batch = join_all(runs);
            tokio::pin!(batch);
            let ends = loop {
                tokio::select! {
                    ends = &mut batch => break ends,
                    () = &mut shutdown, if !stopped => {
                        stopped = true;
                        stopping.store(true, Ordering::Relaxed);
                        tracing::info!(target: "passage_connect::queue", "stopping: finishing the entries in flight");
                    }
                }
            };
            for (partition, end) in ends {
                match end {
                    PartitionEnd::Done | PartitionEnd::Stopped => {}
                    PartitionEnd::Retry => {
                        // The entry stays pending; claim it again (in order) on the next round.
                        needs_claim.insert(partition);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    PartitionEnd::LeaseLost => {
                        owned.remove(&partition);
                        needs_claim.remove(&partition);
                    }
                }
            }
        }
        for partition in owned {
            if let Err(err) = self.release_partition(partition).await {
                self.note_error(&err);
            }
        }
        if let Err(err) = self.leave_registry().await {
            self.note_error(&err);
        }
        tracing::info!(target: "passage_connect::queue", consumer = %self.config.consumer, "worker stopped: partitions handed back");
        Ok(())
    }

    fn note_error(&self, err: &QueueError) {
        WorkerStats::bump(&self.stats.redis_errors);
        tracing::warn!(target: "passage_connect::queue", error = %err, "redis call failed; retrying");
    }

    /// One entry, to its end (acknowledged, skipped or dead-lettered), or until the partition's
    /// lease is lost (see [`lease`]). `Err` only for Redis failures: the entry then stays pending
    /// and is claimed again.
    async fn process<H, Fut, E>(
        &self,
        partition: u16,
        entry: &StreamId,
        handler: &H,
    ) -> Result<EntryEnd, QueueError>
    where
        H: Fn(Arc<QueuedEvent>) -> Fut + Send + Sync,
        Fut: Future<Output = Result<(), E>> + Send,
        E: fmt::Display,
    {
        let stream = self.queue.stream(partition);
        // Never start an entry of a partition that is no longer ours.
        if !self.still_owner(partition).await? {
            return Ok(EntryEnd::LeaseLost);
        }
        let parsed = entry_fields(&stream, entry).and_then(|(body, fields)| {
            let received_at = super::number_field(&stream, entry, field::RECEIVED_AT)?;
            Ok((body, fields, received_at))
        });
        let (body, fields, received_at) = match parsed {
            Ok(parsed) => parsed,
            Err(err) => return self.dead_letter(&stream, entry, &err.to_string(), 0).await,
        };
        let event = match parse_event(&body) {
            Ok(event) => event,
            Err(err) => {
                let error = format!("body: {err}");
                return self.dead_letter(&stream, entry, &error, 0).await;
            }
        };
        let data = EntryData {
            stream: stream.clone(),
            id: entry.id.clone(),
            received_at,
            kid: fields.get(field::KID).cloned().unwrap_or_default(),
            reconciled: super::text_field(&stream, entry, field::SOURCE)
                .is_ok_and(|source| source == super::SOURCE_RECONCILED),
            body,
            event,
        };
        let key = DedupeKey::from_event(&data.event);
        let token = match &key {
            // Waiting for another holder's claim can take a lease: keep ours meanwhile.
            Some(key) => match self.guarded(partition, None, self.claim_event(key)).await {
                None => return Ok(EntryEnd::LeaseLost),
                Some(claimed) => match claimed? {
                    Some(token) => Some(token),
                    None => {
                        WorkerStats::bump(&self.stats.duplicates);
                        tracing::info!(target: "passage_connect::queue", metric = "duplicate", %key, "already done; acknowledged");
                        return self.ack(&stream, &entry.id).await;
                    }
                },
            },
            None => None,
        };
        let held = key
            .as_ref()
            .zip(token.as_ref())
            .map(|(key, token)| HeldClaim {
                redis_key: self.dedupe.redis_key(key),
                token: token.as_str().to_owned(),
            });
        let Some(outcome) = self
            .guarded(partition, held.as_ref(), self.attempts(&data, handler))
            .await
        else {
            // The handler was stopped; the new owner runs the event again.
            if let (Some(key), Some(token)) = (&key, &token) {
                let _ = self.dedupe.release(key, token).await;
            }
            return Ok(EntryEnd::LeaseLost);
        };
        match outcome {
            Outcome::Done => {
                if let Some(key) = &key {
                    self.complete_event(key, Instant::now()).await?;
                }
                // The fence: an owner that lost its lease does not acknowledge; the new owner
                // finds the event done and acknowledges it.
                if !self.still_owner(partition).await? {
                    return Ok(EntryEnd::LeaseLost);
                }
                self.ack(&stream, &entry.id).await?;
                WorkerStats::bump(&self.stats.processed);
                tracing::info!(
                    target: "passage_connect::queue",
                    metric = "processed",
                    stream = %stream,
                    id = %entry.id,
                    reconciled = data.reconciled,
                    lag_ms = unix_millis().saturating_sub(received_at),
                    "event processed"
                );
                Ok(EntryEnd::Finished)
            }
            Outcome::Failed { error, attempts } => {
                if !self.still_owner(partition).await? {
                    if let (Some(key), Some(token)) = (&key, &token) {
                        let _ = self.dedupe.release(key, token).await;
                    }
                    return Ok(EntryEnd::LeaseLost);
                }
                let end = self.dead_letter(&stream, entry, &error, attempts).await?;
                if let (Some(key), Some(token)) = (&key, &token) {
                    // Best effort: otherwise the claim simply runs out.
                    let _ = self.dedupe.release(key, token).await;
                }
                Ok(end)
            }
        }
    }

    /// Runs `work` while [`heartbeat`](Self::heartbeat) keeps `partition` (and `claim`) held;
    /// `None` when the lease was lost first (`work` is dropped: a child process spawned with
    /// `kill_on_drop` is killed).
    async fn guarded<F: Future>(
        &self,
        partition: u16,
        claim: Option<&HeldClaim>,
        work: F,
    ) -> Option<F::Output> {
        tokio::select! {
            out = work => Some(out),
            () = self.heartbeat(partition, claim) => None,
        }
    }

    /// The handler's attempts with backoff, each cut off at the handler timeout.
    async fn attempts<H, Fut, E>(&self, data: &EntryData, handler: &H) -> Outcome
    where
        H: Fn(Arc<QueuedEvent>) -> Fut + Send + Sync,
        Fut: Future<Output = Result<(), E>> + Send,
        E: fmt::Display,
    {
        let mut outcome = Outcome::Failed {
            error: String::new(),
            attempts: 0,
        };
        let limit = self.config.handler_timeout;
        for attempt in 1..=self.config.max_attempts {
            let result = tokio::time::timeout(limit, self.attempt(data, attempt, handler))
                .await
                .unwrap_or_else(|_| Err(format!("attempt timed out after {limit:?}")));
            match result {
                Ok(()) => return Outcome::Done,
                Err(error) => {
                    tracing::warn!(target: "passage_connect::queue", metric = "retried", stream = %data.stream, id = %data.id, attempt, %error, "handler failed");
                    outcome = Outcome::Failed {
                        error,
                        attempts: attempt,
                    };
                    if attempt < self.config.max_attempts {
                        WorkerStats::bump(&self.stats.retried);
                        tokio::time::sleep(self.backoff(attempt)).await;
                    }
                }
            }
        }
        outcome
    }

    async fn attempt<H, Fut, E>(
        &self,
        data: &EntryData,
        attempt: u32,
        handler: &H,
    ) -> Result<(), String>
    where
        H: Fn(Arc<QueuedEvent>) -> Fut + Send + Sync,
        Fut: Future<Output = Result<(), E>> + Send,
        E: fmt::Display,
    {
        let event = &data.event;
        let (mut integration, mut operations, mut results) = (None, None, None);
        if let (Some(client), Some(link)) = (&self.client, event.link_event()) {
            let stored = client
                .links()
                .get(&link.link_id)
                .await
                .map_err(|err| format!("GET /v1/links/{}: {err}", link.link_id))?;
            if matches!(event, WebhookEvent::LinkComplete(_)) {
                results = Some(link.decode_results(&stored.integration_id, &stored.operations));
            }
            integration = Some(stored.integration_id);
            operations = Some(stored.operations);
        }
        let queued = Arc::new(QueuedEvent {
            stream: data.stream.clone(),
            id: data.id.clone(),
            attempt,
            received_at: data.received_at,
            kid: data.kid.clone(),
            body: data.body.clone(),
            event: event.clone(),
            reconciled: data.reconciled,
            integration,
            operations,
            results,
        });
        handler(queued).await.map_err(|err| err.to_string())
    }

    /// Claims the event's dedupe key: `Some(token)` to process, `None` when already done. Waits
    /// out another holder's lease (a worker that died mid-handler); retries store errors.
    async fn claim_event(&self, key: &DedupeKey) -> Result<Option<ClaimToken>, QueueError> {
        let mut errors = 0u32;
        loop {
            match self.dedupe.claim(key).await {
                Ok(Claim::Acquired(token)) => return Ok(Some(token)),
                Ok(Claim::Done) => return Ok(None),
                Ok(Claim::InProgress { retry_after }) => {
                    tracing::info!(target: "passage_connect::queue", %key, ?retry_after, "event held by another worker; waiting for its lease");
                    tokio::time::sleep(
                        retry_after.min(self.config.lease) + Duration::from_millis(10),
                    )
                    .await;
                }
                Err(err) => {
                    errors += 1;
                    if errors >= 3 {
                        return Err(err.into());
                    }
                    WorkerStats::bump(&self.stats.redis_errors);
                    tokio::time::sleep(self.backoff(errors)).await;
                }
            }
        }
    }

    /// Records the event done, retrying through a Redis outage while the claim's lease lasts
    /// (after it, another worker may run the event again: that is the bounded duplicate case).
    async fn complete_event(&self, key: &DedupeKey, claimed_at: Instant) -> Result<(), QueueError> {
        let mut tries = 0u32;
        loop {
            match self.dedupe.complete(key).await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    tries += 1;
                    WorkerStats::bump(&self.stats.redis_errors);
                    if claimed_at.elapsed() >= self.config.lease {
                        return Err(err.into());
                    }
                    tracing::warn!(target: "passage_connect::queue", %key, error = %err, "recording done failed; retrying");
                    tokio::time::sleep(self.backoff(tries)).await;
                }
            }
        }
    }

    async fn ack(&self, stream: &str, id: &str) -> Result<EntryEnd, QueueError> {
        let cmd = ::redis::cmd("XACK")
            .arg(stream)
            .arg(&self.config.group)
            .arg(id)
            .clone();
        let _: i64 = self.call("XACK", cmd).await?;
        Ok(EntryEnd::Finished)
    }

    /// Copies the entry to the dead-letter stream with the error, then acknowledges it.
    async fn dead_letter(
        &self,
        stream: &str,
        entry: &StreamId,
        error: &str,
        attempts: u32,
    ) -> Result<EntryEnd, QueueError> {
        let mut cmd = ::redis::cmd("XADD");
        // Bounded: the oldest dead letters go first once the cap is reached.
        cmd.arg(self.queue.dead_letter_stream())
            .arg("MAXLEN")
            .arg("=")
            .arg(self.config.dead_letter_cap)
            .arg("*");
        for (name, value) in &entry.map {
            if [
                field::ERROR,
                field::ATTEMPTS,
                field::SOURCE_STREAM,
                field::SOURCE_ID,
                field::DEAD_AT,
            ]
            .contains(&name.as_str())
            {
                continue;
            }
            cmd.arg(name)
                .arg(super::value_bytes(value).unwrap_or_default());
        }
        cmd.arg(field::ERROR)
            .arg(error)
            .arg(field::ATTEMPTS)
            .arg(attempts)
            .arg(field::SOURCE_STREAM)
            .arg(stream)
            .arg(field::SOURCE_ID)
            .arg(&entry.id)
            .arg(field::DEAD_AT)
            .arg(unix_millis());
        let _: String = self.call("XADD dead-letter", cmd).await?;
        self.ack(stream, &entry.id).await?;
        WorkerStats::bump(&self.stats.dead_lettered);
        tracing::warn!(target: "passage_connect::queue", metric = "dead_lettered", stream, id = %entry.id, attempts, error, "entry dead-lettered");
        Ok(EntryEnd::Finished)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        let base = self.config.backoff.saturating_mul(factor);
        let jitter = base.mul_f64(rand::random::<f64>() * 0.2);
        (base + jitter).min(self.config.max_backoff)
    }

    async fn call<T: ::redis::FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: ::redis::Cmd,
    ) -> Result<T, QueueError> {
        let mut conn = self.conn.clone();
        bounded(self.queue.timeout(), operation, async move {
            cmd.query_async(&mut conn).await
        })
        .await
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Awaits every future, concurrently on this task (no spawn: they borrow the worker).
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, future) in outputs.iter_mut().zip(set.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => *slot = Some(out),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
