//! Reading HTTP response bodies under a size cap, and keeping bounded excerpts of them in errors.
//!
//! Every body the SDK reads (API answers, webhook verification keys) goes through
//! [`read_capped`]: it streams the body chunk by chunk and stops as soon as the cap is passed, so a
//! hostile or broken server answering gigabytes costs at most the cap in memory, never the whole
//! answer. Error values keep [`excerpt`]s, never a second copy of a large body.

use bytes::{Bytes, BytesMut};

/// The default cap on an API answer's body: 32 MiB.
///
/// The API documents no maximum. The largest results seen (order histories, statements with many
/// periods) are a few MB; 32 MiB leaves a wide margin while bounding what a broken or hostile
/// server can make the client hold. Raise it with
/// [`ClientBuilder::max_body_bytes`](super::ClientBuilder::max_body_bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How many bytes of a body an error value keeps (the first 8 KiB, cut on a UTF-8 boundary).
pub const ERROR_EXCERPT_BYTES: usize = 8 * 1024;

/// Why a capped read stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The body is longer than the cap (by its `Content-Length`, or once the bytes read passed it).
    TooLarge,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// Reads `response`'s body, refusing it once it exceeds `limit` bytes.
///
/// A `Content-Length` over the cap is refused before reading anything; otherwise chunks are read
/// as they arrive and the read stops at the first chunk that takes the total past the cap (the
/// connection is then dropped, not drained).
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, ReadError> {
    let declared = response.content_length();
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    // Preallocate what the server declared (already checked against the cap), never more.
    let capacity = declared.map_or(0, |len| len as usize).min(limit);
    let mut body = BytesMut::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// `body` with credentials blanked out, for error values: a server (or a proxy in front of it)
/// may echo the request's `Authorization: Bearer psg_...` in an error body, and an error is
/// printed, logged and shown to users. The token after a case-insensitive `Bearer` and anything
/// that looks like a Passage key (`psg_` followed by key characters) become `[redacted]`. Borrowed
/// unchanged when there is nothing to blank out (the common case).
pub(crate) fn redact_credentials(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    fn token_char(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
    }
    const MARK: &[u8] = b"[redacted]";
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < body.len() {
        // Where a secret starts at `i`, if it does: after `Bearer` and blanks, or after `psg_`.
        let secret_start = if body.len() - i >= 6 && body[i..i + 6].eq_ignore_ascii_case(b"bearer")
        {
            let mut j = i + 6;
            while j < body.len() && (body[j] == b' ' || body[j] == b'\t') {
                j += 1;
            }
            (j > i + 6).then_some(j)
        } else if body[i..].starts_with(b"psg_") {
            Some(i + 4)
        } else {
            None
        };
        let Some(start) = secret_start else {
            i += 1;
            continue;
        };
        let mut end = start;
        while end < body.len() && token_char(body[end]) {
            end += 1;
        }
        if end == start || body[start..end] == *MARK {
            i = end.max(i + 1);
            continue;
        }
        let buf = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
        buf.extend_from_slice(&body[copied..start]);
        buf.extend_from_slice(MARK);
        copied = end;
        i = end;
    }
    match out {
        None => std::borrow::Cow::Borrowed(body),
        Some(mut buf) => {
            buf.extend_from_slice(&body[copied..]);
            std::borrow::Cow::Owned(buf)
        }
    }
}

/// The first [`ERROR_EXCERPT_BYTES`] of `body` as (lossy) UTF-8, with a note of the full length
/// when it was cut.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let body = &*redact_credentials(body);
    if body.len() <= ERROR_EXCERPT_BYTES {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut end = ERROR_EXCERPT_BYTES;
    // Back up to a character boundary so the excerpt does not end in a replacement character.
    while end > ERROR_EXCERPT_BYTES - 4 && (body[end] & 0b1100_0000) == 0b1000_0000 {
        end -= 1;
    }
    format!(
        "{}... [truncated: {} of {} bytes shown]",
        String::from_utf8_lossy(&body[..end]),
        end,
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_echoed_in_a_body_are_redacted() {
        let body = br#"{"error":"bad header","echo":"Authorization: Bearer psg_live_SECRET123","key":"psg_other.Secret"}"#;
        let text = String::from_utf8(redact_credentials(body).into_owned()).unwrap();
        assert!(!text.contains("SECRET123"), "{text}");
        assert!(!text.contains("other.Secret"), "{text}");
        assert!(text.contains("Bearer [redacted]"), "{text}");
        assert!(text.contains("psg_[redacted]"), "{text}");
        // BEARER in any case, tabs; nothing to redact is borrowed as is.
        let text = redact_credentials(b"BEARER\tabc.def x").into_owned();
        assert_eq!(text, b"BEARER\t[redacted] x");
        assert!(matches!(
            redact_credentials(b"{\"error\":\"Link not found\"}"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            redact_credentials(b"bearer"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn excerpts_are_bounded_and_say_so() {
        assert_eq!(excerpt(b"{\"error\":\"x\"}"), "{\"error\":\"x\"}");
        let big = vec![b'a'; 1_000_000];
        let text = excerpt(&big);
        assert!(text.len() < ERROR_EXCERPT_BYTES + 100, "{}", text.len());
        assert!(
            text.ends_with(&format!(
                "... [truncated: {ERROR_EXCERPT_BYTES} of 1000000 bytes shown]"
            )),
            "{}",
            &text[text.len() - 80..]
        );
        // A multi-byte character straddling the cut is not split.
        let mut accents = vec![b'a'; ERROR_EXCERPT_BYTES - 1];
        accents.extend("é".repeat(10).as_bytes());
        let text = excerpt(&accents);
        assert!(!text.contains('\u{FFFD}'), "split a character");
        assert!(text.contains(&format!("[truncated: {} of", ERROR_EXCERPT_BYTES - 1)));
    }
}
