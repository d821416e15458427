//! Trimming: `XACK` leaves an entry (its body included) in the stream, so without trimming a
//! partition stream grows forever. The owner of a partition trims it now and then to the entries
//! that are younger than the retention *or* still needed by some consumer group: not yet read
//! (after the group's last-delivered id) or read and not acknowledged (pending).

use ::redis::streams::{StreamInfoGroupsReply, StreamPendingReply};

use super::entry_id::EntryId;
use super::{unix_millis, QueueError, Worker};

impl Worker {
    /// Trims `partition`'s stream: removes entries older than the retention that every consumer
    /// group has read and acknowledged. Returns how many entries were removed.
    pub(super) async fn trim(&self, partition: u16) -> Result<u64, QueueError> {
        let stream = self.queue.stream(partition);
        let retention_ms = u64::try_from(self.config.retention.as_millis()).unwrap_or(u64::MAX);
        let mut bound = EntryId(unix_millis().saturating_sub(retention_ms), 0);
        let groups: StreamInfoGroupsReply = self
            .call(
                "XINFO GROUPS",
                ::redis::cmd("XINFO").arg("GROUPS").arg(&stream).clone(),
            )
            .await?;
        for group in &groups.groups {
            // Entries after the last-delivered id were never read by this group: keep them.
            // An id we cannot read makes the whole trim wait (never guess in the unsafe way).
            let Some(delivered) = EntryId::parse(&group.last_delivered_id) else {
                return Ok(0);
            };
            bound = bound.min(EntryId(delivered.0, delivered.1.saturating_add(1)));
            if group.pending > 0 {
                let reply: StreamPendingReply = self
                    .call(
                        "XPENDING",
                        ::redis::cmd("XPENDING")
                            .arg(&stream)
                            .arg(&group.name)
                            .clone(),
                    )
                    .await?;
                if let StreamPendingReply::Data(data) = reply {
                    let Some(oldest) = EntryId::parse(&data.start_id) else {
                        return Ok(0);
                    };
                    bound = bound.min(oldest);
                }
            }
        }
        if groups.groups.is_empty() {
            // No group has read anything yet: nothing is known to be acknowledged.
            return Ok(0);
        }
        let removed: u64 = self
            .call(
                "XTRIM",
                ::redis::cmd("XTRIM")
                    .arg(&stream)
                    .arg("MINID")
                    .arg(bound.to_string())
                    .clone(),
            )
            .await?;
        if removed > 0 {
            tracing::debug!(target: "passage_connect::queue", metric = "trimmed", stream = %stream, removed, below = %bound, "stream trimmed");
        }
        Ok(removed)
    }
}
