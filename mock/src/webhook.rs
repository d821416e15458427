//! Signed webhook delivery: the documented `link.complete` / `link.failed` body, POSTed to the
//! link's `webhookUrl` immediately and then after each configured retry delay until the receiver
//! answers 2xx; every attempt is logged. One link's events are delivered in the order they
//! happened ([`DeliveryOrder`]) unless a [`WebhookFault::Reorder`](crate::fault::WebhookFault)
//! fault is active.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use serde::Serialize;
use serde_json::{json, Value};

use crate::state::Shared;
use crate::store::now_ms;

/// Which webhook event a link produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Complete,
    Failed,
}

/// The webhook body in the documented field order (serde keeps struct field order).
#[derive(Serialize)]
struct WebhookBody<'a> {
    event: &'static str,
    #[serde(rename = "linkId")]
    link_id: &'a str,
    status: &'static str,
    /// Only `link.complete` carries `result`.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    error: &'a Value,
    timestamp: u64,
}

/// The exact bytes of a webhook body.
pub(crate) fn webhook_body(
    event: Event,
    link_id: &str,
    result: Option<&Value>,
    error: Option<&Value>,
    timestamp: u64,
) -> String {
    let null = Value::Null;
    let body = match event {
        Event::Complete => WebhookBody {
            event: "link.complete",
            link_id,
            status: "complete",
            result: Some(result.unwrap_or(&null)),
            error: &null,
            timestamp,
        },
        Event::Failed => WebhookBody {
            event: "link.failed",
            link_id,
            status: "failed",
            result: None,
            error: error.unwrap_or(&null),
            timestamp,
        },
    };
    // Serializing borrowed JSON values and strings cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

/// What one delivery attempt got back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No HTTP answer: connection refused, timeout, ... (the error text).
    Error(String),
}

/// One logged webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The link the event is about.
    pub link_id: String,
    /// `link.complete` or `link.failed`.
    pub event: String,
    /// Where it was POSTed (the link's `webhookUrl`).
    pub url: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The exact body sent (the same bytes on every attempt).
    pub body: String,
    /// The request headers sent, in order (`content-type`, `x-passage-signature`, `x-passage-timestamp`).
    pub headers: Vec<(String, String)>,
    /// The key id that signed this attempt.
    pub key_id: String,
    /// The receiver's status, or the transport error.
    pub outcome: DeliveryOutcome,
    /// When the attempt was sent, Unix ms.
    pub sent_at: u64,
}

impl WebhookDelivery {
    /// Whether the receiver accepted this attempt (answered 2xx).
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, DeliveryOutcome::Status(s) if (200..300).contains(&s))
    }

    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The control API's JSON form (`GET /sandbox/webhooks`).
    pub fn to_json(&self) -> Value {
        let (status, error) = match &self.outcome {
            DeliveryOutcome::Status(s) => (json!(s), Value::Null),
            DeliveryOutcome::Error(e) => (Value::Null, json!(e)),
        };
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({
            "linkId": self.link_id,
            "event": self.event,
            "url": self.url,
            "attempt": self.attempt,
            "body": self.body,
            "headers": headers,
            "keyId": self.key_id,
            "status": status,
            "error": error,
            "sentAt": self.sent_at,
        })
    }
}

/// Each link's latest delivery, which the link's next delivery waits for: so `link.failed` then
/// `link.complete` of one link reach the receiver in that order even when the first delivery is
/// slow or retried. Only links with a delivery in flight have an entry.
#[derive(Debug, Default)]
pub(crate) struct DeliveryOrder {
    last_id: u64,
    /// Link id → (the tail delivery's id, a receiver that resolves when it ends).
    tails: HashMap<String, (u64, oneshot::Receiver<()>)>,
}

/// A delivery's place in its link's order: what it waits for, and what it releases when it ends.
#[derive(Debug)]
pub(crate) struct DeliveryTurn {
    /// `None` for an unordered delivery (reorder fault).
    id: Option<u64>,
    after: Option<oneshot::Receiver<()>>,
    done: Option<oneshot::Sender<()>>,
}

impl DeliveryOrder {
    /// Appends a delivery to `link_id`'s order. Call in the order the events happened (under the
    /// store lock that made the transition).
    pub(crate) fn next_turn(&mut self, link_id: &str) -> DeliveryTurn {
        self.last_id += 1;
        let id = self.last_id;
        let (done, ended) = oneshot::channel();
        let after = self
            .tails
            .insert(link_id.to_string(), (id, ended))
            .map(|(_, previous)| previous);
        DeliveryTurn {
            id: Some(id),
            after,
            done: Some(done),
        }
    }

    /// Forgets `link_id`'s entry if delivery `id` is still its tail (nothing waits for it).
    fn ended(&mut self, link_id: &str, id: u64) {
        if self.tails.get(link_id).is_some_and(|(tail, _)| *tail == id) {
            self.tails.remove(link_id);
        }
    }

    /// Links with a delivery in flight (tests: the map does not grow without bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.tails.len()
    }
}

impl DeliveryTurn {
    /// A delivery outside any order: starts at once (the reorder fault).
    pub(crate) fn unordered() -> Self {
        Self {
            id: None,
            after: None,
            done: None,
        }
    }

    /// Waits until the link's previous delivery ended (delivered, dropped after its last
    /// attempt, or cancelled: a dropped sender counts as ended).
    async fn wait(&mut self) {
        if let Some(previous) = self.after.take() {
            let _ = previous.await;
        }
    }

    /// Releases the link's next delivery and forgets the link if this was its last.
    fn finish(mut self, order: &std::sync::Mutex<DeliveryOrder>, link_id: &str) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        if let Some(id) = self.id {
            order
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .ended(link_id, id);
        }
    }
}

/// Starts delivering `body` to `url` in the background (attempts, retries, log), after the
/// link's earlier deliveries ended (`turn`).
pub(crate) fn spawn_delivery(
    shared: Arc<Shared>,
    mut turn: DeliveryTurn,
    link_id: String,
    event: Event,
    url: String,
    body: String,
) {
    let mut shutdown = shared.shutdown_signal();
    tokio::spawn(async move {
        tokio::select! {
            _ = async {
                turn.wait().await;
                deliver(&shared, &link_id, event, &url, &body).await;
            } => {}
            _ = crate::serve::stopped(&mut shutdown) => {}
        }
        turn.finish(shared.delivery_order(), &link_id);
    });
}

async fn deliver(shared: &Shared, link_id: &str, event: Event, url: &str, body: &str) {
    let event_name = match event {
        Event::Complete => "link.complete",
        Event::Failed => "link.failed",
    };
    let delays: Vec<Duration> = shared.retry_delays.clone();
    let attempts = 1 + delays.len();
    for attempt in 1..=attempts {
        if attempt > 1 {
            tokio::time::sleep(delays[attempt - 2]).await;
        }
        let (key_id, signed) = shared.keys().sign(body.as_bytes(), now_ms() / 1000);
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("x-passage-signature".to_string(), signed.signature),
            ("x-passage-timestamp".to_string(), signed.timestamp),
        ];
        let mut request = shared.http.post(url).body(body.to_string());
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        let sent_at = now_ms();
        let outcome = match request.send().await {
            Ok(response) => DeliveryOutcome::Status(response.status().as_u16()),
            Err(err) => DeliveryOutcome::Error(error_chain(&err)),
        };
        let delivery = WebhookDelivery {
            link_id: link_id.to_string(),
            event: event_name.to_string(),
            url: url.to_string(),
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            body: body.to_string(),
            headers,
            key_id,
            outcome,
            sent_at,
        };
        let done = delivery.succeeded();
        log_attempt(&delivery, attempts, delays.get(attempt - 1).copied());
        shared.record_delivery(delivery);
        if done {
            return;
        }
    }
}

/// One info line per attempt, like the Stripe CLI prints each delivery: link, event, URL, the
/// receiver's status (or transport error), attempt `n/N`, and when the next retry goes (or that
/// the event is dropped). Without it a receiver that refuses every delivery fails silently.
fn log_attempt(delivery: &WebhookDelivery, attempts: usize, next_retry: Option<Duration>) {
    let status = match &delivery.outcome {
        DeliveryOutcome::Status(code) => code.to_string(),
        DeliveryOutcome::Error(error) => format!("error: {error}"),
    };
    let attempt = format!("{}/{attempts}", delivery.attempt);
    if delivery.succeeded() {
        tracing::info!(
            link_id = %delivery.link_id,
            event = %delivery.event,
            url = %delivery.url,
            %status,
            %attempt,
            "webhook delivered"
        );
        return;
    }
    let next_retry = match next_retry {
        Some(delay) => format!("in {} s", delay.as_secs_f64()),
        None => "none: dropped after the last attempt (poll GET /v1/links/{id})".to_string(),
    };
    tracing::info!(
        link_id = %delivery.link_id,
        event = %delivery.event,
        url = %delivery.url,
        %status,
        %attempt,
        %next_retry,
        "webhook delivery failed"
    );
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_of_one_link_run_in_order_and_entries_are_forgotten() {
        let order = std::sync::Mutex::new(DeliveryOrder::default());
        let mut first = order.lock().unwrap().next_turn("link_a");
        let mut second = order.lock().unwrap().next_turn("link_a");
        let mut other = order.lock().unwrap().next_turn("link_b");
        // Another link's first delivery and this link's first start at once.
        first.wait().await;
        other.wait().await;
        // The second waits for the first to end.
        let waiting = tokio::time::timeout(Duration::from_millis(50), second.wait()).await;
        assert!(
            waiting.is_err(),
            "the second delivery started before the first ended"
        );
        first.finish(&order, "link_a");
        tokio::time::timeout(Duration::from_secs(5), second.wait())
            .await
            .expect("the second delivery starts once the first ended");
        assert_eq!(order.lock().unwrap().len(), 2);
        second.finish(&order, "link_a");
        other.finish(&order, "link_b");
        assert_eq!(order.lock().unwrap().len(), 0);
        // A cancelled predecessor (sender dropped) releases the next one too.
        let dropped = order.lock().unwrap().next_turn("link_c");
        let mut next = order.lock().unwrap().next_turn("link_c");
        drop(dropped);
        tokio::time::timeout(Duration::from_secs(5), next.wait())
            .await
            .expect("a dropped predecessor counts as ended");
    }

    #[test]
    fn bodies_follow_the_documented_shape() {
        let result = json!({"billing": []});
        let complete = webhook_body(Event::Complete, "link_1", Some(&result), None, 17);
        assert_eq!(
            complete,
            r#"{"event":"link.complete","linkId":"link_1","status":"complete","result":{"billing":[]},"error":null,"timestamp":17}"#
        );
        let error = json!({"code": "AUTOMATION_ERROR", "message": "x"});
        let failed = webhook_body(Event::Failed, "link_1", None, Some(&error), 18);
        let parsed: Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(parsed["event"], "link.failed");
        assert_eq!(parsed["error"]["code"], "AUTOMATION_ERROR");
        assert!(parsed.get("result").is_none());
    }
}
