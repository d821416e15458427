//! The webhook signing key ring: the current key signs, every key ever used stays fetchable by id
//! through `POST /webhook_verification_key/get`, so receivers can verify webhooks sent before a
//! rotation.

use passage_connect::webhook::signing::{sign_webhook, SignedWebhookHeaders, WebhookSigningKey};

/// One signing key with its id (`wsk_<created ms>`) and creation time (Unix ms).
pub(crate) struct KeyEntry {
    pub(crate) kid: String,
    pub(crate) key: WebhookSigningKey,
    pub(crate) created_at: u64,
}

/// All keys, oldest first; the last one is current.
pub(crate) struct KeyRing {
    entries: Vec<KeyEntry>,
}

impl KeyRing {
    /// A ring holding `key` (or a fresh one) created at `now`.
    pub(crate) fn new(key: Option<WebhookSigningKey>, now: u64) -> Self {
        let key = key.unwrap_or_else(WebhookSigningKey::generate);
        KeyRing {
            entries: vec![KeyEntry {
                kid: format!("wsk_{now}"),
                key,
                created_at: now,
            }],
        }
    }

    fn current(&self) -> &KeyEntry {
        // `new` puts one entry in and nothing removes entries.
        &self.entries[self.entries.len() - 1]
    }

    /// The current key id.
    pub(crate) fn current_kid(&self) -> &str {
        &self.current().kid
    }

    /// The current public key, PEM SPKI.
    pub(crate) fn current_public_pem(&self) -> String {
        self.current().key.public_key_pem()
    }

    /// Adds a fresh key and makes it current; ids stay unique even within one millisecond.
    pub(crate) fn rotate(&mut self, now: u64) -> String {
        let created_at = now.max(self.current().created_at + 1);
        let kid = format!("wsk_{created_at}");
        self.entries.push(KeyEntry {
            kid: kid.clone(),
            key: WebhookSigningKey::generate(),
            created_at,
        });
        kid
    }

    /// A key by id.
    pub(crate) fn get(&self, kid: &str) -> Option<&KeyEntry> {
        self.entries.iter().find(|entry| entry.kid == kid)
    }

    /// Signs `body` with the current key; returns the kid used and the headers.
    pub(crate) fn sign(&self, body: &[u8], iat_unix_secs: u64) -> (String, SignedWebhookHeaders) {
        let current = self.current();
        let headers = sign_webhook(&current.key, &current.kid, body, iat_unix_secs);
        (current.kid.clone(), headers)
    }
}
