//! The path a failed decode names comes from a non-generic walk of the raw bytes
//! (`generated-support/src/decode/locate.rs`), not from a second, path-tracking decode that
//! would be generic per type. This test holds it to the path-tracking decode it replaced
//! (`serde_path_to_error`, kept here as the reference): for every result type of the pinned
//! catalog, sample documents are broken in many ways (each value replaced by one of every JSON
//! kind, each key removed or duplicated, bytes removed or inserted, compact and pretty) and the
//! two must name the same path and the same message for every document that does not decode.

use passage_generated::{decode_result, OperationInfo};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// What `decode` returned before: the path `serde_path_to_error` names, and serde_json's message,
/// a union's inner path spliced on as `decode` does.
///
/// Data that is not JSON at all (a plain parse into `serde_json::Value` breaks too) is named as
/// a path-tracking decode into `Value` names it: the innermost container where it first breaks,
/// with a plain parse's message. The typed decode would name the same place, but for the unions,
/// which take their value as raw text in one step (`read_union`: serde_json skips over it before
/// any visitor sees it), so a tracking decoder sees no path inside them.
fn reference<T: DeserializeOwned>(data: &[u8]) -> Option<(String, String)> {
    let err = serde_json::from_slice::<T>(data).err()?;
    let malformed = |category| category != serde_json::error::Category::Data;
    let not_json = serde_json::from_slice::<Value>(data)
        .err()
        .is_some_and(|parsed| malformed(parsed.classify()));
    if malformed(err.classify()) && not_json {
        return Some(tracked::<Value>(data));
    }
    Some(tracked::<T>(data))
}

/// The path `serde_path_to_error` names decoding `T` from `data` (which must fail), and the
/// message.
fn tracked<T: DeserializeOwned>(data: &[u8]) -> (String, String) {
    let mut de = serde_json::Deserializer::from_slice(data);
    let result = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let path = if path.is_empty() || path == "." {
            "$".to_owned()
        } else {
            path
        };
        splice(path, err.into_inner().to_string())
    });
    match result {
        Err(failure) => failure,
        Ok(_) => (
            "$".to_owned(),
            de.end().err().map(|e| e.to_string()).unwrap_or_default(),
        ),
    }
}

fn splice(outer: String, message: String) -> (String, String) {
    let Some(rest) = message.strip_prefix("at `") else {
        return (outer, message);
    };
    let Some((inner, text)) = rest.split_once("`: ") else {
        return (outer, message);
    };
    let path = match (outer.as_str(), inner.starts_with('[')) {
        ("$", _) => inner.to_owned(),
        (_, true) => format!("{outer}{inner}"),
        _ => format!("{outer}.{inner}"),
    };
    splice(path, text.to_owned())
}

/// Every JSON pointer in `value`, the root first.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Broken versions of `doc`: each value replaced by each JSON kind, each key removed and
/// duplicated, as compact and pretty JSON; and byte-level cuts and insertions of the compact form.
fn broken(doc: &Value) -> Vec<Vec<u8>> {
    let replacements = [
        json!(null),
        json!(true),
        json!(7),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!([]),
        json!([1]),
        json!({}),
        json!({"kind": 1}),
    ];
    let mut at = Vec::new();
    pointers(doc, String::new(), &mut at);
    let mut out = Vec::new();
    let mut emit = |value: &Value, pretty: bool| {
        out.push(if pretty {
            serde_json::to_vec_pretty(value).unwrap()
        } else {
            serde_json::to_vec(value).unwrap()
        });
    };
    for (n, pointer) in at.iter().enumerate() {
        let pretty = n % 2 == 1;
        for replacement in &replacements {
            let mut copy = doc.clone();
            *copy.pointer_mut(pointer).unwrap() = replacement.clone();
            emit(&copy, pretty);
        }
        if let Some((parent, key)) = pointer.rsplit_once('/') {
            let mut copy = doc.clone();
            if let Some(Value::Object(map)) = copy.pointer_mut(parent) {
                map.remove(&key.replace("~1", "/").replace("~0", "~"));
                emit(&copy, !pretty);
            }
        }
    }
    // A duplicated key cannot be built as a `Value`: write it into the bytes after each `{"`.
    let compact = serde_json::to_vec(doc).unwrap();
    for i in 0..compact.len() {
        if compact[i] == b'{' && compact.get(i + 1) == Some(&b'"') {
            let key_end = i + 2 + compact[i + 2..].iter().position(|&b| b == b'"').unwrap();
            let key = &compact[i + 1..=key_end];
            let mut copy = compact[..=i].to_vec();
            copy.extend_from_slice(key);
            copy.extend_from_slice(b":null,");
            copy.extend_from_slice(&compact[i + 1..]);
            out.push(copy);
        }
    }
    for i in (0..compact.len()).step_by(3) {
        let mut cut = compact.clone();
        cut.remove(i);
        out.push(cut);
        for byte in [b',', b'"', b'}', b' '] {
            let mut inserted = compact.clone();
            inserted.insert(i, byte);
            out.push(inserted);
        }
    }
    out.push(compact[..compact.len() / 2].to_vec());
    out
}

/// Checks `T`, the result type of `op`, on broken samples of its schema; returns the number of
/// documents compared.
fn compare<T: DeserializeOwned>(op: &OperationInfo, mismatches: &mut Vec<String>) -> usize {
    let schema: Value = serde_json::from_str(op.result_schema.unwrap()).unwrap();
    let mut compared = 0;
    for seed in 0..4 {
        let doc = passage_samples::sample(&schema, seed).unwrap();
        for data in broken(&doc) {
            let Some(expected) = reference::<T>(&data) else {
                continue;
            };
            compared += 1;
            let got = decode_result(op.integration, op.resource, op.action, &data)
                .err()
                .map(|err| (err.path, err.message));
            if got.as_ref() != Some(&expected) {
                mismatches.push(format!(
                    "{}/{}/{}: {}\n  reference: {expected:?}\n  got:       {got:?}",
                    op.integration,
                    op.resource,
                    op.action,
                    String::from_utf8_lossy(&data)
                ));
            }
        }
    }
    compared
}

#[test]
fn a_failure_names_the_path_and_message_a_path_tracking_decode_names() {
    let mut mismatches = Vec::new();
    let mut compared = 0;
    let mut types = 0;
    for op in passage_generated::operations() {
        types += 1;
        compared += match op.result_type {
            "apple_review::ReadHistoryReadResult" => compare::<
                passage_generated::apple_review::ReadHistoryReadResult,
            >(op, &mut mismatches),
            "att::MobileBillingStatementReadResult" => compare::<
                passage_generated::att::MobileBillingStatementReadResult,
            >(op, &mut mismatches),
            "att::PaymentMethodReadResult" => {
                compare::<passage_generated::att::PaymentMethodReadResult>(op, &mut mismatches)
            }
            "att::PaymentMethodWriteResult" => {
                compare::<passage_generated::att::PaymentMethodWriteResult>(op, &mut mismatches)
            }
            "doordash::OrderHistoryReadResult" => {
                compare::<passage_generated::doordash::OrderHistoryReadResult>(op, &mut mismatches)
            }
            "tmobile::MobileBillingStatementReadResult" => compare::<
                passage_generated::tmobile::MobileBillingStatementReadResult,
            >(op, &mut mismatches),
            "tmobile::PaymentMethodReadResult" => {
                compare::<passage_generated::tmobile::PaymentMethodReadResult>(op, &mut mismatches)
            }
            "tmobile::PaymentMethodWriteResult" => {
                compare::<passage_generated::tmobile::PaymentMethodWriteResult>(op, &mut mismatches)
            }
            "ubereats::OrderHistoryReadResult" => {
                compare::<passage_generated::ubereats::OrderHistoryReadResult>(op, &mut mismatches)
            }
            "verizon::MobileBillingStatementReadResult" => compare::<
                passage_generated::verizon::MobileBillingStatementReadResult,
            >(op, &mut mismatches),
            "verizon::PaymentMethodReadResult" => {
                compare::<passage_generated::verizon::PaymentMethodReadResult>(op, &mut mismatches)
            }
            "verizon::PaymentMethodWriteResult" => {
                compare::<passage_generated::verizon::PaymentMethodWriteResult>(op, &mut mismatches)
            }
            other => panic!("no reference for {other}: add it to this list"),
        };
    }
    assert_eq!(types, 12, "operations of the pinned catalog");
    // 19,015 on the pinned catalog (fixed seeds): fewer means the breakages stopped reaching
    // the decoder, and the comparison would prove little.
    assert!(
        compared >= 19_000,
        "only {compared} broken documents compared"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} broken documents named another path or message than the reference; \
         the first:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(8)].join("\n")
    );
}
