//! Reconciliation (cargo feature `redis-streams`): a webhook Passage dropped (three attempts in
//! about 6 s while no receiver answered) is never a lost result. A [`Reconciler`] pass lists the
//! links, and for each `complete`/`failed` link whose event no worker has done or is doing, queues
//! the event it should have received, synthesized from `GET /v1/links/{id}`.
//!
//! # One pass
//!
//! 1. Read the watermark `<name>:reconcile:watermark` (Unix ms; first run: now − lookback).
//! 2. List the links ([`Links::list_pages`](crate::client::Links::list_pages)) and keep those in
//!    a terminal webhook status (`complete` → `link.complete`, `failed` → `link.failed`) whose
//!    `updatedAt` is at or after the watermark and at least the grace period old (younger ones
//!    may still get their real webhook; a later pass sees them).
//! 3. Skip the event if the dedupe store (`<name>:dedupe:`, the workers' store) holds its key
//!    `(linkId, event, updatedAt)` as *done* or *processing*, or if an earlier pass already queued
//!    it (a marker `<name>:reconciled:<key>`, `SET NX PX`, so the same link is not queued on every
//!    pass before workers catch up).
//! 4. Otherwise `GET /v1/links/{id}` for its `result`/`error` and queue the documented webhook body
//!    (`timestamp` = `updatedAt`) on the link's partition with `source` = `reconciled`
//!    ([`WebhookQueue::enqueue_reconciled`]).
//! 5. After a pass without errors, move the watermark to pass start − grace − safety margin.
//!
//! # Assumptions about undocumented behaviour
//!
//! * The webhook's `timestamp` equals the link's `updatedAt` at the transition (the emulator
//!   does so; Passage documents both as Unix ms of the event). Then a reconciled event and a late
//!   real webhook have the same [`DedupeKey`]: whichever a worker handles second is skipped as
//!   done. If Passage's timestamps differ from `updatedAt`, a late real webhook is handled a
//!   second time (at least once still holds).
//! * A link that moved on since the listing (`failed`, then claimed again) is skipped: its
//!   earlier event's `error` is gone from the API. The next transition is reconciled instead.
//! * The listing's order is undocumented: every page is read unless
//!   [`ListingOrder::UpdatedNewestFirst`] is configured, which stops once a whole page is older
//!   than the watermark (an optimisation only; wrong if the API does not sort that way).
//!
//! # Windows
//!
//! The lookback of a first run (default 50 min) stays below the dedupe store's *done* TTL (1 h):
//! an event handled within the window still has its done record, so it is never run again
//! because its record expired. Keep `lookback + grace + safety margin` below the TTL if you
//! change either. A pass that had errors leaves the watermark where it was, so nothing it missed
//! is skipped by the next pass.

use std::time::Duration;

use futures::TryStreamExt as _;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{bounded, unix_millis, QueueConfig, QueueError, WebhookQueue};
use crate::client::{Client, Link, ListFilter};
use crate::dedupe::{DedupeKey, DedupeState, RedisDedupeStore};
use crate::link::{LinkFailure, LinkStatus};

/// Default grace period: a link is reconciled only once its `updatedAt` is this old, past
/// Passage's delivery schedule (attempts at 0, 1 and 5 s).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// Default lookback of the first pass (no watermark yet): 50 minutes, below the dedupe store's
/// one-hour *done* TTL.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(50 * 60);
/// Default safety margin subtracted when the watermark advances: covers the skew between this
/// host's clock and Passage's `updatedAt`, and links listed just after a page was read.
pub const DEFAULT_SAFETY_MARGIN: Duration = Duration::from_secs(60);
/// Default lifetime of the "already queued" marker of a reconciled event.
pub const DEFAULT_MARKER_TTL: Duration = Duration::from_secs(10 * 60);

/// What the reconciler may assume about the order of `GET /v1/links` (undocumented).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ListingOrder {
    /// No order is assumed: every page is read. The default.
    #[default]
    Unknown,
    /// Links come most recently updated first: paging stops once a whole page is older than
    /// the watermark. Only set this if the API is known to sort so.
    UpdatedNewestFirst,
}

/// Settings of a [`Reconciler`], with `with_*` builders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerConfig {
    grace: Duration,
    lookback: Duration,
    safety_margin: Duration,
    marker_ttl: Duration,
    page_size: Option<u32>,
    order: ListingOrder,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        Self {
            grace: DEFAULT_GRACE,
            lookback: DEFAULT_LOOKBACK,
            safety_margin: DEFAULT_SAFETY_MARGIN,
            marker_ttl: DEFAULT_MARKER_TTL,
            page_size: None,
            order: ListingOrder::Unknown,
        }
    }
}

impl ReconcilerConfig {
    /// The defaults ([`DEFAULT_GRACE`], [`DEFAULT_LOOKBACK`], [`DEFAULT_SAFETY_MARGIN`],
    /// [`DEFAULT_MARKER_TTL`], the server's page size, [`ListingOrder::Unknown`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// How old a link's `updatedAt` must be before its event is reconciled.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How far back the first pass looks (keep it below the dedupe store's done TTL).
    pub fn with_lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// How far behind the pass start (minus grace) the watermark stays.
    pub fn with_safety_margin(mut self, margin: Duration) -> Self {
        self.safety_margin = margin;
        self
    }

    /// How long a queued event's marker keeps later passes from queueing it again (at least 1 ms).
    pub fn with_marker_ttl(mut self, ttl: Duration) -> Self {
        self.marker_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// Asks for pages of this many links (`?limit=`, undocumented upstream).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// What to assume about the listing's order.
    pub fn with_listing_order(mut self, order: ListingOrder) -> Self {
        self.order = order;
        self
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Links listed.
    pub listed: u64,
    /// Links in a terminal webhook status inside the window (old enough, not before the
    /// watermark).
    pub terminal: u64,
    /// Of those, events already done or processing, or queued by an earlier pass.
    pub already_handled: u64,
    /// Events queued by this pass.
    pub enqueued: u64,
    /// Failures (listing, lookups, Redis writes); the watermark did not move if non-zero.
    pub errors: u64,
    /// The watermark after the pass, Unix ms (where the next pass starts looking).
    pub watermark: u64,
    /// The last failure's message, if any (never contains the API key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl ReconcileReport {
    fn failed(&mut self, what: &str, link_id: &str, error: &dyn std::fmt::Display) {
        self.errors += 1;
        let message = format!("{what}: {error}");
        tracing::warn!(target: "passage_connect::queue", metric = "reconcile_error", link_id, error = %message, "reconcile step failed");
        self.last_error = Some(message);
    }
}

/// Finds terminal links whose webhook was never queued and queues their events. See the
/// [module docs](self).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use passage_connect::client::Client;
/// use passage_connect::queue::{QueueConfig, Reconciler, ReconcilerConfig};
/// let client = Client::from_env()?;
/// let reconciler =
///     Reconciler::connect("redis://127.0.0.1:6379/", QueueConfig::new(), client, ReconcilerConfig::new()).await?;
/// let report = reconciler.run_once().await?;
/// println!("{} events queued", report.enqueued);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Reconciler {
    queue: WebhookQueue,
    dedupe: RedisDedupeStore,
    client: Client,
    config: ReconcilerConfig,
}

/// The webhook body in the documented field order (serde keeps struct field order).
#[derive(Serialize)]
struct SynthesizedBody<'a> {
    event: &'static str,
    #[serde(rename = "linkId")]
    link_id: &'a str,
    status: &'static str,
    /// Only `link.complete` carries `result`.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    error: Option<&'a LinkFailure>,
    timestamp: u64,
}

/// The webhook event a link in `status` produced, if any.
fn event_of(status: &LinkStatus) -> Option<&'static str> {
    match status {
        LinkStatus::Complete => Some("link.complete"),
        LinkStatus::Failed => Some("link.failed"),
        _ => None,
    }
}

/// The body Passage would have sent for `link` (fetched with `GET /v1/links/{id}`).
fn synthesize(link: &Link, event: &'static str, timestamp: u64) -> Result<Vec<u8>, String> {
    let null = RawValue::from_string("null".to_owned()).map_err(|e| e.to_string())?;
    let body = if event == "link.complete" {
        SynthesizedBody {
            event,
            link_id: &link.id,
            status: "complete",
            result: Some(link.result.as_deref().unwrap_or(&null)),
            error: None,
            timestamp,
        }
    } else {
        SynthesizedBody {
            event,
            link_id: &link.id,
            status: "failed",
            result: None,
            error: link.error.as_ref(),
            timestamp,
        }
    };
    serde_json::to_vec(&body).map_err(|e| e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Reconciler {
    /// Connects to Redis at `url` for the queue `queue` (the receivers' and workers' `--stream`
    /// and `--partitions`), listing and looking links up with `client`.
    pub async fn connect(
        url: &str,
        queue: QueueConfig,
        client: Client,
        config: ReconcilerConfig,
    ) -> Result<Self, QueueError> {
        let queue = WebhookQueue::connect(url, queue).await?;
        let dedupe = RedisDedupeStore::from_manager(queue.conn.clone())
            .with_prefix(queue.config.key("dedupe:"))
            .with_timeout(queue.config.timeout());
        Ok(Self {
            queue,
            dedupe,
            client,
            config,
        })
    }

    /// The queue it writes to.
    pub fn queue(&self) -> &WebhookQueue {
        &self.queue
    }

    /// The Redis key of the watermark: `<name>:reconcile:watermark`.
    pub fn watermark_key(&self) -> String {
        self.queue.config.key("reconcile:watermark")
    }

    /// The Redis key of the marker of a queued event: `<name>:reconciled:<storage key>`.
    pub fn marker_key(&self, key: &DedupeKey) -> String {
        self.queue
            .config
            .key(&format!("reconciled:{}", key.to_storage_key()))
    }

    /// The stored watermark (Unix ms), `None` before the first successful pass.
    pub async fn watermark(&self) -> Result<Option<u64>, QueueError> {
        let cmd = ::redis::cmd("GET").arg(self.watermark_key()).clone();
        let stored: Option<String> = self.queue.call("GET", cmd).await?;
        Ok(stored.and_then(|text| text.trim().parse().ok()))
    }

    /// One pass (see the [module docs](self)). Failures of single links and of the listing are
    /// counted in the report (the watermark then stays); `Err` only when the watermark cannot be
    /// read or written.
    pub async fn run_once(&self) -> Result<ReconcileReport, QueueError> {
        let started = unix_millis();
        let stored = self.watermark().await?;
        let watermark =
            stored.unwrap_or_else(|| started.saturating_sub(millis(self.config.lookback)));
        let cutoff = started.saturating_sub(millis(self.config.grace));
        let mut report = ReconcileReport {
            watermark,
            ..ReconcileReport::default()
        };
        let mut filter = ListFilter::new();
        if let Some(size) = self.config.page_size {
            filter = filter.page_size(size);
        }
        let mut pages = self.client.links().list_pages(&filter);
        loop {
            let page = match pages.try_next().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(err) => {
                    report.failed("listing links", "", &err);
                    break;
                }
            };
            report.listed += page.links.len() as u64;
            for link in &page.links {
                self.consider(link, watermark, cutoff, &mut report).await;
            }
            let all_older = !page.links.is_empty()
                && page.links.iter().all(|link| {
                    link.updated_at
                        .and_then(|at| u64::try_from(at).ok())
                        .is_some_and(|at| at < watermark)
                });
            if self.config.order == ListingOrder::UpdatedNewestFirst && all_older {
                break;
            }
        }
        if report.errors == 0 {
            let next = started
                .saturating_sub(millis(self.config.grace))
                .saturating_sub(millis(self.config.safety_margin))
                .max(watermark);
            let cmd = ::redis::cmd("SET")
                .arg(self.watermark_key())
                .arg(next)
                .clone();
            let _: () = self.queue.call("SET", cmd).await?;
            report.watermark = next;
        }
        tracing::info!(
            target: "passage_connect::queue",
            metric = "reconciled_pass",
            listed = report.listed,
            terminal = report.terminal,
            already_handled = report.already_handled,
            enqueued = report.enqueued,
            errors = report.errors,
            watermark = report.watermark,
            "reconcile pass finished"
        );
        Ok(report)
    }

    /// Decides about one listed link, queueing its event if it was never handled.
    async fn consider(
        &self,
        link: &Link,
        watermark: u64,
        cutoff: u64,
        report: &mut ReconcileReport,
    ) {
        let Some(event) = event_of(&link.status) else {
            return;
        };
        // A link without `updatedAt` has no event timestamp: no key could match its webhook.
        let Some(updated_at) = link.updated_at.and_then(|at| u64::try_from(at).ok()) else {
            return;
        };
        if updated_at < watermark || updated_at > cutoff {
            return;
        }
        report.terminal += 1;
        let key = DedupeKey::new(link.id.as_str(), event, updated_at);
        match self.dedupe.state(&key).await {
            Ok(DedupeState::Absent) => {}
            Ok(_) => {
                report.already_handled += 1;
                return;
            }
            Err(err) => return report.failed("reading the dedupe store", &link.id, &err),
        }
        let marker = self.marker_key(&key);
        let set = ::redis::cmd("SET")
            .arg(&marker)
            .arg(unix_millis())
            .arg("NX")
            .arg("PX")
            .arg(millis(self.config.marker_ttl).max(1))
            .clone();
        match self.queue.call::<Option<String>>("SET NX", set).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                report.already_handled += 1;
                return;
            }
            Err(err) => return report.failed("setting the reconcile marker", &link.id, &err),
        }
        match self.enqueue(link, event, updated_at).await {
            Ok(Some(id)) => {
                report.enqueued += 1;
                tracing::info!(
                    target: "passage_connect::queue",
                    metric = "reconciled",
                    link_id = %link.id,
                    event,
                    timestamp = updated_at,
                    id = %id,
                    "event queued from the API (its webhook was never queued)"
                );
            }
            Ok(None) => self.drop_marker(&marker).await,
            Err(message) => {
                self.drop_marker(&marker).await;
                report.failed("queueing", &link.id, &message);
            }
        }
    }

    /// Fetches the link and queues its event; `Ok(None)` when the link moved on since listing.
    async fn enqueue(
        &self,
        listed: &Link,
        event: &'static str,
        updated_at: u64,
    ) -> Result<Option<String>, String> {
        let link = self
            .client
            .links()
            .get(&listed.id)
            .await
            .map_err(|e| format!("GET /v1/links/{}: {e}", listed.id))?;
        let same = link.status == listed.status
            && link.updated_at.and_then(|at| u64::try_from(at).ok()) == Some(updated_at);
        if !same {
            tracing::debug!(target: "passage_connect::queue", link_id = %listed.id, "link changed since listing; left to the next pass");
            return Ok(None);
        }
        let body = synthesize(&link, event, updated_at)?;
        self.queue
            .enqueue_reconciled(&body, &link.id, event)
            .await
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Best effort: without it the marker only delays the next try by its TTL.
    async fn drop_marker(&self, marker: &str) {
        let cmd = ::redis::cmd("DEL").arg(marker).clone();
        let _ = bounded(self.queue.config.timeout(), "DEL", async {
            let mut conn = self.queue.conn.clone();
            cmd.query_async::<i64>(&mut conn).await
        })
        .await;
    }

    /// Runs a pass every `every` until `shutdown` completes; a pass's error is logged and the
    /// next pass runs on schedule.
    pub async fn run(&self, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            if let Err(err) = self.run_once().await {
                tracing::warn!(target: "passage_connect::queue", metric = "reconcile_error", error = %err, "reconcile pass failed");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = &mut shutdown => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesized_bodies_have_the_documented_shape() {
        let complete: Link = serde_json::from_str(
            r#"{"id":"link_1","status":"complete","result":{"billing":[]},"updatedAt":17}"#,
        )
        .unwrap();
        let body = synthesize(&complete, "link.complete", 17).unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"event":"link.complete","linkId":"link_1","status":"complete","result":{"billing":[]},"error":null,"timestamp":17}"#
        );
        let failed: Link = serde_json::from_str(
            r#"{"id":"link_2","status":"failed","error":{"code":"AUTOMATION_ERROR","message":"x"},"updatedAt":18}"#,
        )
        .unwrap();
        let body = synthesize(&failed, "link.failed", 18).unwrap();
        let event = crate::webhook::WebhookEvent::parse(&body).unwrap();
        assert_eq!(
            DedupeKey::from_event(&event),
            Some(DedupeKey::new("link_2", "link.failed", 18))
        );
        assert!(!std::str::from_utf8(&body).unwrap().contains("result"));
        let no_result: Link =
            serde_json::from_str(r#"{"id":"l","status":"complete","updatedAt":1}"#).unwrap();
        let body = synthesize(&no_result, "link.complete", 1).unwrap();
        assert!(std::str::from_utf8(&body)
            .unwrap()
            .contains(r#""result":null"#));
    }

    #[test]
    fn only_complete_and_failed_have_events() {
        assert_eq!(event_of(&LinkStatus::Complete), Some("link.complete"));
        assert_eq!(event_of(&LinkStatus::Failed), Some("link.failed"));
        assert_eq!(event_of(&LinkStatus::Expired), None);
        assert_eq!(event_of(&LinkStatus::Other("x".into())), None);
    }
}
