//! The first request head of a connection, read and checked (httparse) before hyper sees it, so
//! that a malformed one is answered with a JSON body: hyper answers these itself, with an empty
//! body. Only the first request of each connection is checked here; on a keep-alive
//! connection later heads are parsed by hyper alone (same statuses, empty bodies), because
//! finding where the next head starts would mean parsing every body too.

use std::time::Instant;

use bytes::BytesMut;
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Headers accepted in one request (hyper's default; more is answered `431`).
pub(crate) const MAX_HEADERS: usize = 100;

/// The longest request target hyper accepts (longer is `414`).
const MAX_TARGET_BYTES: usize = u16::MAX as usize - 1;

/// What the first head read gave.
#[derive(Debug)]
pub(crate) enum FirstHead {
    /// A well-formed head, and every byte read so far (the head and maybe more) for hyper.
    Ready(BytesMut),
    /// The peer closed, or sent no whole head in time: close without an answer.
    Closed,
    /// A malformed head: answer this status and message, then close.
    Refused(StatusCode, String),
}

/// Reads from `stream` until a whole head is in, it is refused, or `deadline` passes.
pub(crate) async fn read_first_head(
    stream: &mut TcpStream,
    max_head_bytes: usize,
    deadline: Instant,
) -> FirstHead {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        buf.reserve(4096);
        match tokio::time::timeout_at(deadline.into(), stream.read_buf(&mut buf)).await {
            Err(_) | Ok(Err(_)) | Ok(Ok(0)) => return FirstHead::Closed,
            Ok(Ok(_)) => {}
        }
        match check_head(&buf, max_head_bytes) {
            HeadCheck::Partial => continue,
            HeadCheck::Complete => return FirstHead::Ready(buf),
            HeadCheck::Refused(status, message) => return FirstHead::Refused(status, message),
        }
    }
}

/// The verdict on the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeadCheck {
    /// No whole head yet, and nothing wrong so far.
    Partial,
    /// A whole head that hyper will accept.
    Complete,
    /// Refused with this status and message.
    Refused(StatusCode, String),
}

/// Parses `bytes` as the start of a request and checks what hyper would refuse.
pub(crate) fn check_head(bytes: &[u8], max_head_bytes: usize) -> HeadCheck {
    let too_large = || {
        HeadCheck::Refused(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("request head larger than {max_head_bytes} bytes"),
        )
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Partial) if bytes.len() >= max_head_bytes => too_large(),
        Ok(httparse::Status::Partial) => HeadCheck::Partial,
        Ok(httparse::Status::Complete(len)) if len > max_head_bytes => too_large(),
        Ok(httparse::Status::Complete(_)) => match check_parsed(&request) {
            Ok(()) => HeadCheck::Complete,
            Err((status, message)) => HeadCheck::Refused(status, message),
        },
        Err(httparse::Error::TooManyHeaders) => HeadCheck::Refused(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("more than {MAX_HEADERS} request headers"),
        ),
        Err(err) => HeadCheck::Refused(
            StatusCode::BAD_REQUEST,
            format!("malformed request head: {err}"),
        ),
    }
}

/// What hyper checks beyond httparse: method, target, header names and values, and the body
/// framing (`Content-Length`, `Transfer-Encoding`).
fn check_parsed(request: &httparse::Request<'_, '_>) -> Result<(), (StatusCode, String)> {
    let bad = |message: String| Err((StatusCode::BAD_REQUEST, message));
    let method = request.method.unwrap_or_default();
    if Method::from_bytes(method.as_bytes()).is_err() {
        return bad("malformed request head: invalid method".into());
    }
    let target = request.path.unwrap_or_default();
    if target.len() > MAX_TARGET_BYTES {
        return Err((
            StatusCode::URI_TOO_LONG,
            format!("request target longer than {MAX_TARGET_BYTES} bytes"),
        ));
    }
    if Uri::try_from(target).is_err() {
        return bad("malformed request head: invalid request target".into());
    }
    let mut content_length: Option<&[u8]> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    for h in request.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes());
        if name.is_err() || HeaderValue::from_bytes(h.value).is_err() {
            return bad("malformed request head: invalid header".into());
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            if !valid_content_length(h.value, content_length) {
                return bad("invalid Content-Length header".into());
            }
            content_length = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Several headers form one list; only the last coding matters below.
            transfer_encoding = Some(h.value);
        }
    }
    if let Some(codings) = transfer_encoding {
        // HTTP/1.0 has no chunked framing; a body framed two ways is a smuggling attempt; a
        // last coding other than `chunked` leaves the body's end unknown.
        if request.version == Some(0) || content_length.is_some() {
            return bad(
                "Transfer-Encoding is not allowed with HTTP/1.0 or with Content-Length".into(),
            );
        }
        let last = codings.rsplit(|b| *b == b',').next().unwrap_or_default();
        if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            return bad("Transfer-Encoding must end with chunked".into());
        }
    }
    Ok(())
}

/// A `Content-Length` value: digits (a comma-separated list of the same number is tolerated, as
/// hyper does), equal to an earlier one if any.
fn valid_content_length(value: &[u8], earlier: Option<&[u8]>) -> bool {
    let mut number: Option<u64> = earlier.and_then(parse_list);
    for part in value.split(|b| *b == b',') {
        let Some(n) = parse_digits(part.trim_ascii()) else {
            return false;
        };
        match number {
            Some(m) if m != n => return false,
            _ => number = Some(n),
        }
    }
    true
}

fn parse_list(value: &[u8]) -> Option<u64> {
    value
        .split(|b| *b == b',')
        .next()
        .and_then(|part| parse_digits(part.trim_ascii()))
}

fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(head: &str) -> HeadCheck {
        check_head(head.as_bytes(), 64 * 1024)
    }

    fn status(head: &str) -> Option<u16> {
        match check(head) {
            HeadCheck::Refused(status, _) => Some(status.as_u16()),
            _ => None,
        }
    }

    #[test]
    fn good_heads_pass_and_partial_ones_wait() {
        assert_eq!(
            check("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            HeadCheck::Complete
        );
        assert_eq!(
            check("POST /x HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello"),
            HeadCheck::Complete
        );
        assert_eq!(
            check("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            HeadCheck::Complete
        );
        assert_eq!(check("GET / HTTP/1.1\r\nHost: a\r\n"), HeadCheck::Partial);
        assert_eq!(check("\r\nGET / HTTP/1.1\r\n\r\n"), HeadCheck::Complete);
    }

    #[test]
    fn malformed_heads_are_refused_with_the_status_hyper_would_use() {
        assert_eq!(status("GARBAGE\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/9.9\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"), Some(400));
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Some(400)
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: y\r\n")).collect();
        assert_eq!(status(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Some(431));
        let long = format!("GET / HTTP/1.1\r\nx: {}\r\n", "y".repeat(70_000));
        assert_eq!(status(&long), Some(431), "a partial head past the limit");
    }
}
