//! Decoding bytes into a generated type: one plain parse, and only when it fails a walk of the
//! raw bytes to serde_json's error position (`locate`), so a failure names where the data did not
//! fit at no cost per type.

use std::fmt;

mod locate;

pub(crate) use locate::{decode_key, display as display_path, strip_position, Segment};

/// Data that does not fit its operation's generated type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeError {
    /// Integration id.
    pub integration: String,
    /// Resource.
    pub resource: String,
    /// Action.
    pub action: String,
    /// JSON path of the failure, e.g. `billing[0].amountDue`; `$` for the root.
    pub path: String,
    /// What did not fit.
    pub message: String,
    /// The whole raw JSON, kept so nothing is lost.
    pub raw: String,
}

impl DecodeError {
    /// The error of operation `integration`/`resource`/`action` for `failure` (the path and
    /// message [`decode`] returns) in `data`, the raw JSON (kept, lossily as UTF-8).
    pub fn new(
        integration: &str,
        resource: &str,
        action: &str,
        failure: (String, String),
        data: &[u8],
    ) -> Self {
        let (path, message) = failure;
        DecodeError {
            integration: integration.to_owned(),
            resource: resource.to_owned(),
            action: action.to_owned(),
            path,
            message,
            raw: String::from_utf8_lossy(data).into_owned(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}: at `{}`: {}",
            self.integration, self.resource, self.action, self.path, self.message
        )
    }
}

impl std::error::Error for DecodeError {}

/// How a union variant's error carries the path inside the variant: ``at `kind`: message``.
pub(crate) const INNER_PATH_PREFIX: &str = "at `";
/// The end of the path in [`INNER_PATH_PREFIX`]'s form.
pub(crate) const INNER_PATH_SUFFIX: &str = "`: ";

/// Deserializes `T` from bytes, returning the JSON path (`$` for the root) and the message on
/// failure.
///
/// One plain parse. On failure the path is found by a non-generic walk of the raw bytes to the
/// error's position (at most one more plain parse of a copy with one byte changed settles an
/// ambiguous position; see `locate`), so each generated type costs its `Deserialize` impl and
/// nothing more. The path is the one `serde_path_to_error` names for the same failure.
pub fn decode<T: serde::de::DeserializeOwned>(data: &[u8]) -> Result<T, (String, String)> {
    serde_json::from_slice::<T>(data).map_err(|err| {
        let err = first_break(data, err);
        let still_fails = |changed: &[u8]| {
            serde_json::from_slice::<T>(changed)
                .err()
                .map(|err| err.to_string())
        };
        let path = locate::failure_path(data, &err, &still_fails);
        splice_path(path, err.to_string())
    })
}

/// For data that is not JSON at all, where it first breaks as a plain parse finds it; else
/// `err`. A union's value is skipped over whole before it is decoded (`read_union`), and
/// serde_json's skipping names some breaks less precisely than its parsing (a trailing comma
/// in an object is "key must be a string") or not at all (a number out of range). An error a
/// typed decode raises in valid JSON (a tuple with an item too many: "trailing characters")
/// stays as it is.
fn first_break(data: &[u8], err: serde_json::Error) -> serde_json::Error {
    let malformed = |err: &serde_json::Error| {
        matches!(
            err.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        )
    };
    if !malformed(&err) {
        return err;
    }
    match serde_json::from_slice::<serde_json::Value>(data) {
        Err(parsed) if malformed(&parsed) => parsed,
        _ => err,
    }
}

/// A union variant's error carries the path inside the variant (``at `kind`: ...``); joined to
/// the union's own path, it names the whole path.
fn splice_path(outer: String, message: String) -> (String, String) {
    let Some(rest) = message.strip_prefix(INNER_PATH_PREFIX) else {
        return (outer, message);
    };
    let Some((inner, text)) = rest.split_once(INNER_PATH_SUFFIX) else {
        return (outer, message);
    };
    let path = match (outer.as_str(), inner.starts_with('[')) {
        ("$", _) => inner.to_owned(),
        (_, true) => format!("{outer}{inner}"),
        _ => format!("{outer}.{inner}"),
    };
    splice_path(path, text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Bill {
        billing: Vec<Line>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Line {
        #[serde(rename = "amountDue")]
        amount_due: u32,
    }

    #[test]
    fn a_failure_names_the_json_path_and_the_message() {
        let err =
            decode::<Bill>(br#"{"billing":[{"amountDue":1},{"amountDue":"x"}]}"#).unwrap_err();
        assert_eq!(err.0, "billing[1].amountDue");
        assert!(err.1.starts_with("invalid type: string \"x\""), "{}", err.1);
    }

    #[test]
    fn a_failure_at_the_root_is_dollar() {
        let err = decode::<Bill>(b"[]").unwrap_err();
        assert_eq!(err.0, "$");
        let err = decode::<Bill>(br#"{"billing":[]} x"#).unwrap_err();
        assert_eq!(err.0, "$");
        assert!(err.1.contains("trailing characters"), "{}", err.1);
    }

    #[test]
    fn data_that_fits_decodes() {
        let bill = decode::<Bill>(br#"{"billing":[{"amountDue":3}]}"#).unwrap();
        assert_eq!(bill.billing[0].amount_due, 3);
    }

    #[test]
    fn a_union_variants_inner_path_is_spliced_onto_the_outer_one() {
        let (path, message) = splice_path("items[2]".into(), "at `value.x`: bad".into());
        assert_eq!(
            (path.as_str(), message.as_str()),
            ("items[2].value.x", "bad")
        );
        let (path, _) = splice_path("items".into(), "at `[0]`: at `a`: bad".into());
        assert_eq!(path, "items[0].a");
        let (path, _) = splice_path("$".into(), "at `a`: bad".into());
        assert_eq!(path, "a");
        let (path, message) = splice_path("a".into(), "plain".into());
        assert_eq!((path.as_str(), message.as_str()), ("a", "plain"));
        let err = decode::<BTreeMap<String, u8>>(br#"{"k":"v"}"#).unwrap_err();
        assert_eq!(err.0, "k");
    }

    #[test]
    fn the_error_keeps_the_raw_json_and_displays_the_operation_and_path() {
        let err = DecodeError::new(
            "tmobile",
            "paymentMethod",
            "read",
            ("a.b".into(), "bad".into()),
            b"{\"a\":{}}",
        );
        assert_eq!(err.raw, "{\"a\":{}}");
        assert_eq!(err.to_string(), "tmobile paymentMethod/read: at `a.b`: bad");
    }
}
