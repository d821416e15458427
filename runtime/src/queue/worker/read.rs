//! Reading a partition's entries: new ones through the consumer group (`XREADGROUP`), pending
//! ones claimed (`XAUTOCLAIM`) from other consumers or stranded in this one's pending list, in an
//! order that keeps each link's events in the order they were queued.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use ::redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingReply, StreamReadReply};

use super::entry_id::EntryId;
use super::{bounded, millis, QueueError, Worker};

impl Worker {
    /// Keeps per-link order when entries of a partition older than the ones just read are
    /// pending: another consumer's (a previous owner that read them after this worker's
    /// takeover claim, just before noticing its lease was gone, then failed) or this worker's own
    /// (delivered to a blocking read it had given up on: its client-side timeout fired while
    /// Redis, slow after a restart, still held the read, and the reply was thrown away). Then the
    /// partition's whole pending list is claimed (`XAUTOCLAIM`, in id order, the new entries
    /// included) and handled in that order. If that cannot be checked, the partition's new
    /// entries wait in this worker's pending list for the next round's claim.
    pub(super) async fn oldest_first(
        &self,
        mut batches: BTreeMap<u16, Vec<StreamId>>,
        needs_claim: &mut BTreeSet<u16>,
    ) -> BTreeMap<u16, Vec<StreamId>> {
        for (partition, entries) in batches.clone() {
            let Some(first) = entries.first() else {
                continue;
            };
            let claimed = match self.oldest_pending(partition).await {
                Ok(Some(oldest)) if !is_before(&oldest, &first.id) => continue,
                Ok(None) => continue,
                Ok(Some(_)) => self.claim_pending(partition).await,
                Err(err) => Err(err),
            };
            match claimed {
                Ok(entries) => {
                    batches.insert(partition, entries);
                }
                Err(err) => {
                    self.note_error(&err);
                    batches.remove(&partition);
                    needs_claim.insert(partition);
                }
            }
        }
        batches
    }

    /// The id of `partition`'s oldest pending entry (any consumer's), `None` when none is.
    async fn oldest_pending(&self, partition: u16) -> Result<Option<String>, QueueError> {
        let cmd = ::redis::cmd("XPENDING")
            .arg(self.queue.stream(partition))
            .arg(&self.config.group)
            .clone();
        let reply: StreamPendingReply = self.call("XPENDING", cmd).await?;
        Ok(match reply {
            StreamPendingReply::Empty => None,
            StreamPendingReply::Data(data) if data.count == 0 => None,
            StreamPendingReply::Data(data) => Some(data.start_id),
        })
    }

    /// Whether any entry of `partition` is pending. Asked between batches, when none should be
    /// (see [`oldest_first`](Self::oldest_first) for how one still can).
    pub(super) async fn has_pending(&self, partition: u16) -> Result<bool, QueueError> {
        Ok(self.oldest_pending(partition).await?.is_some())
    }

    pub(super) async fn create_groups(&self) -> Result<(), QueueError> {
        for partition in 0..self.queue.partitions() {
            let cmd = ::redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(self.queue.stream(partition))
                .arg(&self.config.group)
                .arg("0")
                .arg("MKSTREAM")
                .clone();
            match self.call::<()>("XGROUP CREATE", cmd).await {
                Ok(()) => {}
                Err(QueueError::Redis { source, .. }) if source.code() == Some("BUSYGROUP") => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Every entry pending in `partition`'s group (any consumer's: this worker owns the
    /// partition now), moved to this consumer, in id order.
    pub(super) async fn claim_pending(&self, partition: u16) -> Result<Vec<StreamId>, QueueError> {
        let stream = self.queue.stream(partition);
        let mut start = "0-0".to_owned();
        let mut entries = Vec::new();
        loop {
            let cmd = ::redis::cmd("XAUTOCLAIM")
                .arg(&stream)
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg(0)
                .arg(&start)
                .arg("COUNT")
                .arg(self.config.batch)
                .clone();
            let reply: StreamAutoClaimReply = self.call("XAUTOCLAIM", cmd).await?;
            entries.extend(reply.claimed);
            if reply.next_stream_id == "0-0" || reply.next_stream_id.is_empty() {
                break;
            }
            start = reply.next_stream_id;
        }
        if !entries.is_empty() {
            self.stats
                .reclaimed
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            tracing::info!(target: "passage_connect::queue", metric = "reclaimed", partition, count = entries.len(), "pending entries claimed");
        }
        Ok(entries)
    }

    pub(super) async fn read_new(
        &self,
        owned: &BTreeSet<u16>,
    ) -> Result<BTreeMap<u16, Vec<StreamId>>, QueueError> {
        let mut cmd = ::redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg("COUNT")
            .arg(self.config.batch)
            .arg("BLOCK")
            .arg(millis(self.config.block))
            .arg("STREAMS");
        for partition in owned {
            cmd.arg(self.queue.stream(*partition));
        }
        for _ in owned {
            cmd.arg(">");
        }
        let mut conn = self.reader.clone();
        let reply: Result<Option<StreamReadReply>, QueueError> = bounded(
            self.queue.timeout() + self.config.block,
            "XREADGROUP",
            async { cmd.query_async(&mut conn).await },
        )
        .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(QueueError::Redis { source, .. }) if source.code() == Some("NOGROUP") => {
                // Redis lost its data (restarted without persistence): recreate the groups.
                self.create_groups().await?;
                None
            }
            Err(err) => return Err(err),
        };
        let mut batches = BTreeMap::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            let partition = owned
                .iter()
                .copied()
                .find(|p| self.queue.stream(*p) == key.key);
            if let Some(partition) = partition {
                batches.insert(partition, key.ids);
            }
        }
        Ok(batches)
    }
}

/// Whether entry `a` comes before entry `b`; an id that does not parse counts as before (the
/// claim that follows is the safe side: it keeps order, at the cost of one `XAUTOCLAIM`).
fn is_before(a: &str, b: &str) -> bool {
    match (EntryId::parse(a), EntryId::parse(b)) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::is_before;

    #[test]
    fn an_older_pending_entry_is_before_the_first_one_read() {
        assert!(is_before("9-5", "10-0"));
        assert!(
            !is_before("10-0", "10-0"),
            "the first entry read is pending itself"
        );
        assert!(!is_before("10-1", "10-0"));
        assert!(is_before("garbage", "10-0"));
    }
}
