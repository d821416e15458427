//! Partition leases: which worker processes which partition, the fair share among live
//! workers (a registry in a sorted set), and the heartbeat that keeps a lease (and the event's
//! dedupe claim) alive while a handler runs, with the fencing rule that goes with it.
//!
//! # Why a heartbeat and a fence
//!
//! A lease is renewed between batches by [`Worker::maintain`]; a handler can take longer than
//! the lease. While an entry is processed, [`Worker::heartbeat`] renews the partition lease, the
//! event's claim and the worker's registration every third of the lease. It resolves (and the
//! caller drops the handler's future, which kills a child process spawned with
//! `kill_on_drop`) when Redis says the lease is someone else's, or when no renewal could be
//! confirmed for two thirds of the lease: another worker can take the partition over only a
//! full lease after the last renewal Redis applied, which came after the instant this worker
//! measures from, so the handler is gone before the new owner can start the event. Before
//! acknowledging, [`Worker::still_owner`] renews once more and the entry is acknowledged only if
//! that succeeded (the fencing check): an owner that lost its lease leaves the entry pending
//! for the new owner, which finds the event *done* and only acknowledges it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{bounded, millis, unix_millis, QueueError, Worker};

/// `KEYS[1]` owner key; `ARGV` consumer, lease ms. Renews the lease if still ours.
pub(super) const RENEW_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";
/// `KEYS[1]` owner key; `ARGV[1]` consumer. Drops the lease if still ours.
pub(super) const RELEASE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";
/// `KEYS[1]` an event's dedupe record; `ARGV` claim token, lease ms. Extends the claim if it is
/// still this one (the record format of `RedisDedupeStore`: `p:<token>` while processing).
pub(super) const RENEW_CLAIM_LUA: &str = r"
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// The dedupe claim an entry holds while its handler runs: its Redis key and token.
pub(super) struct HeldClaim {
    pub(super) redis_key: String,
    pub(super) token: String,
}

impl Worker {
    /// Heartbeat, then keep this worker's fair share of partitions: renew held leases, hand back
    /// extras, take free ones. With N live workers and P partitions each holds between
    /// floor(P/N) and ceil(P/N): a worker above the floor hands one back while another live
    /// worker is below it.
    pub(super) async fn maintain(
        &self,
        owned: &mut BTreeSet<u16>,
        needs_claim: &mut BTreeSet<u16>,
    ) -> Result<(), QueueError> {
        let now = unix_millis();
        let lease_ms = millis(self.config.lease);
        let workers_key = self.queue.key("workers");
        let mut pipe = ::redis::pipe();
        pipe.cmd("ZADD")
            .arg(&workers_key)
            .arg(now + lease_ms)
            .arg(&self.config.consumer)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&workers_key)
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("ZRANGE")
            .arg(&workers_key)
            .arg(0)
            .arg(-1)
            .cmd("MGET");
        for partition in 0..self.queue.partitions() {
            pipe.arg(self.owner_key(partition));
        }
        let mut conn = self.conn.clone();
        let (live, owners): (Vec<String>, Vec<Option<String>>) =
            bounded(self.queue.timeout(), "heartbeat", async {
                pipe.query_async(&mut conn).await
            })
            .await?;
        let partitions = usize::from(self.queue.partitions());
        let workers = live.len().max(1);
        let share = partitions.div_ceil(workers);
        let floor = partitions / workers;
        let starved = live.iter().any(|worker| {
            worker != &self.config.consumer
                && owners.iter().flatten().filter(|o| *o == worker).count() < floor
        });

        for partition in owned.clone() {
            if !self.renew_partition(partition).await? {
                tracing::warn!(target: "passage_connect::queue", partition, "partition lease lost");
                owned.remove(&partition);
                needs_claim.remove(&partition);
            }
        }
        let keep = if starved { floor.max(1) } else { share };
        while owned.len() > keep.min(share) {
            let Some(extra) = owned.pop_last() else { break };
            needs_claim.remove(&extra);
            self.release_partition(extra).await?;
        }
        if owned.len() < keep {
            // Start at a consumer-dependent offset so workers do not all race for partition 0.
            let start = super::super::partition_of(&self.config.consumer, self.queue.partitions());
            for step in 0..self.queue.partitions() {
                if owned.len() >= keep {
                    break;
                }
                let partition = (start + step) % self.queue.partitions();
                if owned.contains(&partition) {
                    continue;
                }
                let cmd = ::redis::cmd("SET")
                    .arg(self.owner_key(partition))
                    .arg(&self.config.consumer)
                    .arg("NX")
                    .arg("PX")
                    .arg(lease_ms)
                    .clone();
                let sent = Instant::now();
                let taken: Option<String> = self.call("SET NX lease", cmd).await?;
                if taken.is_some() {
                    self.confirmed(partition, Some(sent));
                    tracing::info!(target: "passage_connect::queue", partition, consumer = %self.config.consumer, "partition taken");
                    owned.insert(partition);
                    needs_claim.insert(partition);
                }
            }
        }
        Ok(())
    }

    pub(super) async fn release_partition(&self, partition: u16) -> Result<(), QueueError> {
        self.confirmed(partition, None);
        let mut invocation = self.release.key(self.owner_key(partition));
        invocation.arg(&self.config.consumer);
        let mut conn = self.conn.clone();
        let _: i64 = bounded(self.queue.timeout(), "release lease", async {
            invocation.invoke_async(&mut conn).await
        })
        .await?;
        Ok(())
    }

    pub(super) fn owner_key(&self, partition: u16) -> String {
        self.queue.key(&format!("owner:{partition}"))
    }

    /// Renews `partition`'s lease if this worker still holds it; `Ok(false)` when another
    /// worker holds it (or nobody). A success is remembered from the instant before the call.
    pub(super) async fn renew_partition(&self, partition: u16) -> Result<bool, QueueError> {
        let mut invocation = self.renew.key(self.owner_key(partition));
        invocation
            .arg(&self.config.consumer)
            .arg(millis(self.config.lease));
        let mut conn = self.conn.clone();
        let sent = Instant::now();
        let renewed: i64 = bounded(self.queue.timeout(), "renew lease", async {
            invocation.invoke_async(&mut conn).await
        })
        .await?;
        let held = renewed != 0;
        self.confirmed(partition, held.then_some(sent));
        Ok(held)
    }

    /// The fencing check before an entry of `partition` is acknowledged (or the next one
    /// started): renews the lease when its last confirmation is older than a third of the lease.
    pub(super) async fn still_owner(&self, partition: u16) -> Result<bool, QueueError> {
        let fresh = self
            .confirmations()
            .get(&partition)
            .is_some_and(|at| at.elapsed() < self.config.lease / 3);
        if fresh {
            return Ok(true);
        }
        self.renew_partition(partition).await
    }

    /// Keeps `partition`'s lease, the entry's dedupe claim and this worker's registration alive
    /// while a handler runs. Resolves only when the lease is lost (see the module docs); never
    /// resolves while it holds.
    pub(super) async fn heartbeat(&self, partition: u16, claim: Option<&HeldClaim>) {
        let every = self.config.lease / 3;
        // Past this without a confirmed renewal, another worker may be about to take over.
        let give_up = self.config.lease.mul_f64(2.0 / 3.0);
        loop {
            let last = self
                .confirmations()
                .get(&partition)
                .copied()
                .unwrap_or_else(Instant::now);
            let due = if last.elapsed() >= every {
                Duration::from_millis(100).min(every)
            } else {
                every - last.elapsed()
            };
            tokio::time::sleep(due).await;
            match self.renew_partition(partition).await {
                Ok(true) => {
                    if let Some(claim) = claim {
                        let _ = self.renew_claim(claim).await;
                    }
                    let _ = self.register().await;
                }
                Ok(false) => {
                    tracing::warn!(target: "passage_connect::queue", partition, "partition lease lost while a handler ran; stopping it");
                    return;
                }
                Err(err) => {
                    self.note_error(&err);
                    if last.elapsed() >= give_up {
                        tracing::warn!(target: "passage_connect::queue", partition, error = %err, "lease renewal failed for two thirds of the lease; stopping the handler");
                        self.confirmed(partition, None);
                        return;
                    }
                }
            }
        }
    }

    async fn renew_claim(&self, claim: &HeldClaim) -> Result<bool, QueueError> {
        let mut invocation = self.renew_claim.key(&claim.redis_key);
        invocation.arg(&claim.token).arg(millis(self.config.lease));
        let mut conn = self.conn.clone();
        let renewed: i64 = bounded(self.queue.timeout(), "renew claim", async {
            invocation.invoke_async(&mut conn).await
        })
        .await?;
        Ok(renewed != 0)
    }

    /// Refreshes this worker's entry in the registry of live workers.
    async fn register(&self) -> Result<(), QueueError> {
        let cmd = ::redis::cmd("ZADD")
            .arg(self.queue.key("workers"))
            .arg(unix_millis() + millis(self.config.lease))
            .arg(&self.config.consumer)
            .clone();
        let _: i64 = self.call("ZADD workers", cmd).await?;
        Ok(())
    }

    /// Leaves the registry of live workers, so that the others count one worker less at once
    /// (a stopped worker would otherwise hold a share until its registration ran out).
    pub(super) async fn leave_registry(&self) -> Result<(), QueueError> {
        let cmd = ::redis::cmd("ZREM")
            .arg(self.queue.key("workers"))
            .arg(&self.config.consumer)
            .clone();
        let _: i64 = self.call("ZREM workers", cmd).await?;
        Ok(())
    }

    fn confirmations(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u16, Instant>> {
        self.confirmed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records when `partition`'s lease was last confirmed (`None`: not held).
    fn confirmed(&self, partition: u16, at: Option<Instant>) {
        let mut map = self.confirmations();
        match at {
            Some(at) => {
                map.insert(partition, at);
            }
            None => {
                map.remove(&partition);
            }
        }
    }
}
