//! Waiting on a webhook instead of a poll loop: a [`LinkNotifier`] is fed by whatever sees the
//! webhooks (the receiver, or a queue worker's handler) and
//! [`Links::wait_with_notifications`] fetches the link as soon as its notification arrives,
//! still polling with backoff in case the webhook never comes.

use std::fmt;
use std::time::Instant;

use tokio::sync::broadcast;

use super::links::Links;
use super::model::Link;
use super::wait::WaitOptions;
use crate::error::Error;
use crate::link::LinkStatus;
use crate::webhook::WebhookEvent;

/// An in-process channel of "a webhook for link X landed" notifications. Cheap to clone; clones
/// share the channel. Feed it from the receiver (after verifying) or from a queue worker's
/// handler; any number of waits listen at once.
///
/// ```
/// use passage_connect::client::LinkNotifier;
/// let notifier = LinkNotifier::new();
/// notifier.notify("link_abc123"); // nobody waits: dropped, never blocks
/// ```
#[derive(Clone)]
pub struct LinkNotifier {
    sender: broadcast::Sender<String>,
}

impl fmt::Debug for LinkNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkNotifier")
            .field("listeners", &self.sender.receiver_count())
            .finish()
    }
}

impl Default for LinkNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl LinkNotifier {
    /// A notifier keeping up to 1,024 unread notifications per listener (a listener that falls
    /// further behind re-checks its link at once, so nothing is missed).
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }

    /// Tells the waits on `link_id` that its webhook landed. Never blocks.
    pub fn notify(&self, link_id: &str) {
        // No listener is not an error: nobody is waiting on any link right now.
        let _ = self.sender.send(link_id.to_owned());
    }

    /// [`notify`](Self::notify) for a parsed event's link (an unknown event is ignored).
    pub fn notify_event(&self, event: &WebhookEvent) {
        if let Some(link) = event.link_event() {
            self.notify(&link.link_id);
        }
    }
}

impl Links<'_> {
    /// Like [`wait_with`](Self::wait_with), but a notification for `id` from `notifier` fetches
    /// the link at once instead of at the next poll. Polls keep their backoff, so the wait still
    /// ends if the webhook never arrives; the answer is the same `GET /v1/links/{id}` either way.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {
    /// use passage_connect::client::{LinkNotifier, WaitOptions};
    /// let notifier = LinkNotifier::new();
    /// // The webhook receiver calls `notifier.notify_event(&event)` after verifying.
    /// let link = client
    ///     .links()
    ///     .wait_with_notifications("link_abc123", &WaitOptions::default(), &notifier)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_with_notifications(
        &self,
        id: &str,
        options: &WaitOptions,
        notifier: &LinkNotifier,
    ) -> Result<Link, Error> {
        // Subscribe before the first GET, so a webhook landing in between is not missed.
        let mut notifications = notifier.sender.subscribe();
        let started = Instant::now();
        let mut last_status: Option<LinkStatus> = None;
        let waiting = async {
            let mut poll: u32 = 0;
            loop {
                poll = poll.saturating_add(1);
                match self
                    .get(id)
                    .options(options.get_request_options().clone())
                    .await
                {
                    Ok(link) => {
                        if let Some(hook) = options.poll_hook() {
                            hook(&link);
                        }
                        last_status = Some(link.status.clone());
                        if link.status.ends_wait() {
                            return Ok(link);
                        }
                    }
                    Err(err) if err.is_transient() => {
                        tracing::debug!(link_id = id, error = %err, "transient failure while waiting for a link; polling again");
                    }
                    Err(err) => return Err(err),
                }
                let pause = tokio::time::sleep(options.pause(poll));
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        () = &mut pause => break,
                        received = notifications.recv() => match received {
                            Ok(link_id) if link_id == id => break,
                            Ok(_other_link) => {}
                            // Fell behind: ours may be among the dropped ones; look now.
                            Err(broadcast::error::RecvError::Lagged(_)) => break,
                            // Every notifier is gone: polling alone from here.
                            Err(broadcast::error::RecvError::Closed) => {
                                (&mut pause).await;
                                break;
                            }
                        },
                    }
                }
            }
        };
        match tokio::time::timeout(options.get_timeout(), waiting).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(Error::Timeout {
                link_id: id.to_owned(),
                waited: started.elapsed(),
                last_status,
            }),
        }
    }
}
