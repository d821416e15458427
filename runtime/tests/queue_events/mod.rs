//! Signed webhook bodies for the queue tests (`queue_redis`, `queue_lease`): a signer whose
//! verifier knows its key, and the documented `link.failed` / `link.complete` bodies.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_connect::webhook::{StaticKeys, VerifiedWebhook, WebhookVerifier};

pub struct Signer {
    key: WebhookSigningKey,
    verifier: WebhookVerifier,
}

impl Signer {
    pub fn new() -> Self {
        let key = WebhookSigningKey::generate();
        let keys = StaticKeys::from_pem("wsk_test", &key.public_key_pem()).unwrap();
        Self {
            key,
            verifier: WebhookVerifier::new(keys),
        }
    }

    pub async fn verified(&self, body: &str) -> VerifiedWebhook {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let headers = sign_webhook(&self.key, "wsk_test", body.as_bytes(), now).to_header_map();
        self.verifier
            .verify(&headers, body.as_bytes())
            .await
            .unwrap()
    }
}

pub fn failed_body(link: &str, ts: u64) -> String {
    format!(
        r#"{{"event":"link.failed","linkId":"{link}","status":"failed","error":{{"code":"AUTOMATION_ERROR","message":"x"}},"timestamp":{ts}}}"#
    )
}

pub fn complete_body(link: &str, ts: u64) -> String {
    format!(
        r#"{{"event":"link.complete","linkId":"{link}","status":"complete","result":{{"ok":true}},"error":null,"timestamp":{ts}}}"#
    )
}
