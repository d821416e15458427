//! The emulator's shared state (links, keys, faults, delivery log) and the link operations used
//! alike by the Rust handle, the control API and the sandbox page.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::error::MockError;
use crate::fault::{
    Fault, FaultKind, FaultQueue, FaultRoute, WebhookFault, WebhookFaultEntry, WebhookFaultQueue,
};
use crate::keys::KeyRing;
use crate::samples::sample_result;
use crate::store::{now_ms, Link, Status, Store, StoreLimits, TransitionError};
use crate::validation::Registry;
use crate::webhook::{
    spawn_delivery, webhook_body, DeliveryOrder, DeliveryTurn, Event, WebhookDelivery,
};

/// The `error.code` used when a failure is simulated without one.
pub(crate) const DEFAULT_FAILURE_CODE: &str = "AUTOMATION_ERROR";
/// The `error.message` used when a failure is simulated without one.
pub(crate) const DEFAULT_FAILURE_MESSAGE: &str = "Simulated automation failure (passage-mock)";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind: keep serving rather than cascade.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Everything the handlers share.
pub(crate) struct Shared {
    /// SHA-256 of each accepted API key: compared in constant time, never stored in clear.
    api_key_digests: Vec<[u8; 32]>,
    /// The catalog, serialized once: `GET /v1/providers` answers these bytes.
    pub(crate) catalog_json: axum::body::Bytes,
    pub(crate) registry: Registry,
    pub(crate) seed: u64,
    pub(crate) retry_delays: Vec<Duration>,
    /// Base of `appClipUrl` and `websocketUrl`, without a trailing slash.
    pub(crate) public_url: String,
    store: Mutex<Store>,
    keys: Mutex<KeyRing>,
    faults: Mutex<FaultQueue>,
    webhook_faults: Mutex<WebhookFaultQueue>,
    /// Per-link order of webhook deliveries. Locked after `store` when both are held.
    delivery_order: Mutex<DeliveryOrder>,
    deliveries: Mutex<DeliveryLog>,
    pub(crate) http: reqwest::Client,
    shutdown: watch::Receiver<bool>,
}

/// Parts of [`Shared`] decided by the server at start.
pub(crate) struct SharedParts {
    pub(crate) api_keys: Vec<String>,
    pub(crate) catalog_json: Vec<u8>,
    pub(crate) registry: Registry,
    pub(crate) seed: u64,
    pub(crate) retry_delays: Vec<Duration>,
    pub(crate) public_url: String,
    pub(crate) keys: KeyRing,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) store_limits: StoreLimits,
    pub(crate) log_limits: LogLimits,
}

/// How much of the webhook delivery log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogLimits {
    /// Attempts kept (the oldest are dropped first).
    pub(crate) max_entries: usize,
    /// Bytes of each attempt's body kept (longer bodies are cut, and marked so).
    pub(crate) max_body_bytes: usize,
}

/// One logged attempt, its body possibly cut to [`LogLimits::max_body_bytes`].
#[derive(Debug, Clone)]
pub(crate) struct LoggedDelivery {
    pub(crate) delivery: WebhookDelivery,
    /// The length of the body that was sent (`delivery.body` may be shorter).
    pub(crate) body_bytes: usize,
}

impl LoggedDelivery {
    fn new(mut delivery: WebhookDelivery, max_body_bytes: usize) -> Self {
        let body_bytes = delivery.body.len();
        if body_bytes > max_body_bytes {
            let mut end = max_body_bytes;
            while !delivery.body.is_char_boundary(end) {
                end -= 1;
            }
            delivery.body.truncate(end);
            delivery.body.shrink_to_fit();
        }
        Self {
            delivery,
            body_bytes,
        }
    }

    /// The control API's JSON form: the delivery's, plus `bodyBytes` and `bodyTruncated`.
    pub(crate) fn to_json(&self) -> Value {
        let mut value = self.delivery.to_json();
        if let Some(map) = value.as_object_mut() {
            map.insert("bodyBytes".into(), json!(self.body_bytes));
            map.insert(
                "bodyTruncated".into(),
                json!(self.body_bytes > self.delivery.body.len()),
            );
        }
        value
    }
}

/// The bounded delivery log, oldest first.
#[derive(Debug)]
pub(crate) struct DeliveryLog {
    limits: LogLimits,
    entries: std::collections::VecDeque<LoggedDelivery>,
    /// Attempts dropped from the front so far.
    pub(crate) dropped: u64,
}

impl Shared {
    pub(crate) fn new(parts: SharedParts) -> Result<Shared, MockError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| MockError::Config {
                field: "webhook_retry_delays",
                message: format!("cannot build the webhook HTTP client: {err}"),
            })?;
        Ok(Shared {
            api_key_digests: parts
                .api_keys
                .iter()
                .map(|key| Sha256::digest(key.as_bytes()).into())
                .collect(),
            catalog_json: axum::body::Bytes::from(parts.catalog_json),
            registry: parts.registry,
            seed: parts.seed,
            retry_delays: parts.retry_delays,
            public_url: parts.public_url,
            store: Mutex::new(Store::with_limits(parts.store_limits)),
            keys: Mutex::new(parts.keys),
            faults: Mutex::new(FaultQueue::default()),
            webhook_faults: Mutex::new(WebhookFaultQueue::default()),
            delivery_order: Mutex::new(DeliveryOrder::default()),
            deliveries: Mutex::new(DeliveryLog {
                limits: parts.log_limits,
                entries: std::collections::VecDeque::new(),
                dropped: 0,
            }),
            http,
            shutdown: parts.shutdown,
        })
    }

    /// Whether `key` is one of the accepted API keys; every key is compared, in constant time.
    pub(crate) fn accepts_api_key(&self, key: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = subtle::Choice::from(0);
        for accepted in &self.api_key_digests {
            found |= accepted.ct_eq(&digest);
        }
        found.into()
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub(crate) fn keys(&self) -> MutexGuard<'_, KeyRing> {
        lock(&self.keys)
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    pub(crate) fn add_fault(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
        lock(&self.webhook_faults).clear();
    }

    pub(crate) fn add_webhook_fault(&self, fault: WebhookFaultEntry) {
        lock(&self.webhook_faults).push(fault);
    }

    pub(crate) fn delivery_order(&self) -> &Mutex<DeliveryOrder> {
        &self.delivery_order
    }

    /// The place of a new delivery of `link_id`: after the link's earlier deliveries, or
    /// unordered while a reorder fault is active. Called with the store lock held, so turns
    /// follow the order of the transitions.
    fn delivery_turn(&self, link_id: &str) -> DeliveryTurn {
        match lock(&self.webhook_faults).take() {
            Some(WebhookFault::Reorder) => DeliveryTurn::unordered(),
            None => lock(&self.delivery_order).next_turn(link_id),
        }
    }

    pub(crate) fn take_fault(&self, route: FaultRoute) -> Option<FaultKind> {
        lock(&self.faults).take(route)
    }

    pub(crate) fn record_delivery(&self, delivery: WebhookDelivery) {
        let mut log = lock(&self.deliveries);
        let entry = LoggedDelivery::new(delivery, log.limits.max_body_bytes);
        log.entries.push_back(entry);
        while log.entries.len() > log.limits.max_entries {
            log.entries.pop_front();
            log.dropped += 1;
        }
    }

    /// The logged attempts, oldest first (bodies possibly cut, see [`LogLimits`]).
    pub(crate) fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.deliveries)
            .entries
            .iter()
            .map(|e| e.delivery.clone())
            .collect()
    }

    /// The log as the control API shows it: entries, and how many were dropped.
    pub(crate) fn delivery_log_json(&self) -> Value {
        let log = lock(&self.deliveries);
        let entries: Vec<Value> = log.entries.iter().map(LoggedDelivery::to_json).collect();
        json!({ "deliveries": entries, "dropped": log.dropped })
    }

    /// `ws(s)://host/sessions/{sessionId}/ws` for a claim answer. The emulator does not serve it
    /// (the session WebSocket's messages are undocumented).
    pub(crate) fn websocket_url(&self, session_id: &str) -> String {
        let base = if let Some(rest) = self.public_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.public_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.public_url.clone()
        };
        format!("{base}/sessions/{session_id}/ws")
    }

    fn transition_error(link_id: &str, operation: &'static str, err: TransitionError) -> MockError {
        match err {
            TransitionError::NotFound => MockError::LinkNotFound {
                link_id: link_id.to_string(),
            },
            TransitionError::InvalidState(status) => MockError::InvalidState {
                link_id: link_id.to_string(),
                status: status.as_str().to_string(),
                operation,
            },
        }
    }

    /// Completes a link with `result` (verbatim) or generated sample data, then sends `link.complete`.
    pub(crate) fn complete_link(
        self: &Arc<Self>,
        link_id: &str,
        result: Option<Value>,
    ) -> Result<Link, MockError> {
        let snapshot = {
            let store = self.store();
            let link = store
                .get(link_id)
                .cloned()
                .ok_or_else(|| MockError::LinkNotFound {
                    link_id: link_id.to_string(),
                })?;
            let status = link.status_at(now_ms());
            if matches!(status, Status::Complete | Status::Expired) {
                return Err(Self::transition_error(
                    link_id,
                    "complete",
                    TransitionError::InvalidState(status),
                ));
            }
            link
        };
        let result = match result {
            Some(result) => result,
            None => sample_result(&self.registry, self.seed, &snapshot)?,
        };
        let now = now_ms();
        let stored = serde_json::value::to_raw_value(&result).map_err(|err| MockError::Sample {
            integration: snapshot.integration_id.clone(),
            resource: String::new(),
            action: String::new(),
            message: format!("the result cannot be serialized: {err}"),
        })?;
        let (link, turn) = {
            let mut store = self.store();
            let link = store
                .complete(link_id, Arc::from(stored), now)
                .map_err(|err| Self::transition_error(link_id, "complete", err))?;
            // Only a delivery takes a turn (and a reorder fault's use).
            let turn = link
                .webhook_url
                .is_some()
                .then(|| self.delivery_turn(&link.id));
            (link, turn)
        };
        if let (Some(url), Some(turn)) = (&link.webhook_url, turn) {
            let body = webhook_body(Event::Complete, &link.id, Some(&result), None, now);
            spawn_delivery(
                Arc::clone(self),
                turn,
                link.id.clone(),
                Event::Complete,
                url.clone(),
                body,
            );
        }
        Ok(link)
    }

    /// Fails a link with `{code, message}`, then sends `link.failed`.
    pub(crate) fn fail_link(
        self: &Arc<Self>,
        link_id: &str,
        code: &str,
        message: &str,
    ) -> Result<Link, MockError> {
        let now = now_ms();
        let error = json!({"code": code, "message": message});
        let (link, turn) = {
            let mut store = self.store();
            let link = store
                .fail(link_id, error, now)
                .map_err(|err| Self::transition_error(link_id, "fail", err))?;
            // Only a delivery takes a turn (and a reorder fault's use).
            let turn = link
                .webhook_url
                .is_some()
                .then(|| self.delivery_turn(&link.id));
            (link, turn)
        };
        if let (Some(url), Some(turn)) = (&link.webhook_url, turn) {
            let body = webhook_body(Event::Failed, &link.id, None, link.error.as_ref(), now);
            spawn_delivery(
                Arc::clone(self),
                turn,
                link.id.clone(),
                Event::Failed,
                url.clone(),
                body,
            );
        }
        Ok(link)
    }

    /// Expires a link now.
    pub(crate) fn expire_link(&self, link_id: &str) -> Result<Link, MockError> {
        self.store()
            .expire(link_id, now_ms())
            .map_err(|err| Self::transition_error(link_id, "expire", err))
    }
}
