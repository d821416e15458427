//! Answers written by the layer itself: raw HTTP/1.1 JSON replies for a connection hyper never
//! sees (over capacity, a malformed first head), JSON responses for the limits it enforces
//! around a handler (`408`, `413`), and the lingering close that lets the peer read them.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a closing connection is drained after its last answer (see [`close_lingering`]).
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// `{"error": message}` as a string (escaped by serde_json).
fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// A whole HTTP/1.1 response with a JSON error body and `connection: close`.
pub(crate) fn raw_json_reply(status: StatusCode, message: &str, retry_after: bool) -> Vec<u8> {
    let body = error_json(message);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    );
    if retry_after {
        head.push_str("retry-after: 1\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// A JSON error response that also closes its connection (`connection: close` makes hyper
/// close after writing it).
pub(crate) fn closing_json_response(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        error_json(message),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Writes `reply` (if any), then closes `stream` lingering: our side is shut down and what the
/// peer still sends is read and dropped for at most [`LINGER`]. Why: closing a socket with
/// unread data makes the kernel send a reset, which can destroy the answer before the peer
/// reads it (a peer still sending its request body, for instance).
pub(crate) async fn close_lingering(mut stream: TcpStream, reply: Option<&[u8]>) {
    let _ = tokio::time::timeout(LINGER, async {
        if let Some(reply) = reply {
            stream.write_all(reply).await?;
        }
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_replies_are_well_formed_json_answers() {
        let bytes = raw_json_reply(StatusCode::SERVICE_UNAVAILABLE, "busy \"now\"", true);
        let text = String::from_utf8(bytes).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("retry-after: 1"), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error"], "busy \"now\"");
    }
}
