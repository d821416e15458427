//! Fuzz target `decode`: arbitrary bytes into `passage_generated::decode_result` (every operation
//! the generated crate knows, plus one it does not) and into
//! `passage_connect::link::decode_link_result_slice` (single- and multi-operation links).
//!
//! Input layout: byte 0 picks the mode (bits 0-1: 0 and 3 `decode_result`, 1 a single-operation
//! link, 2 a two-operation link), the operation (bits 2-6, an index into `passage_generated::operations()`, one past
//! the end meaning an unknown operation) and, for mode 2, whether the second operation is the
//! same as the first (bit 7 clear) or the next one; the rest is the JSON text.
//! Must never panic; a result that decodes must serialize and decode again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passage_connect::link::{decode_link_result_slice, OperationRef};
use passage_generated::{decode_result, operations, OperationInfo};

/// The registry, in `operations()` order (built once).
fn registry() -> &'static [&'static OperationInfo] {
    static REGISTRY: std::sync::OnceLock<Vec<&'static OperationInfo>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| operations().collect())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    // Index `registry().len()` stands for an operation the generated crate does not know.
    let count = registry().len() + 1;
    let pick = |n: usize| -> (&'static str, &'static str, &'static str) {
        match registry().get(n % count) {
            Some(op) => (op.integration, op.resource, op.action),
            None => ("tmobile", "notAResource", "read"),
        }
    };
    let index = usize::from((selector >> 2) & 0x1f);
    let first = pick(index);
    match selector & 0b11 {
        0 | 3 => decode_one(first, json),
        1 => {
            let ops = [OperationRef::new(first.1, first.2)];
            let _ = decode_link_result_slice(first.0, &ops, json);
        }
        _ => {
            // A link may hold the same operation twice.
            let second = pick(index + usize::from(selector >> 7));
            let ops = [
                OperationRef::new(first.1, first.2),
                OperationRef::new(second.1, second.2),
            ];
            if let Ok(results) = decode_link_result_slice(first.0, &ops, json) {
                assert_eq!(results.len(), 2, "one entry per link operation");
                let _ = results.into_strict();
            }
        }
    }
});

fn decode_one((integration, resource, action): (&str, &str, &str), json: &[u8]) {
    match decode_result(integration, resource, action, json) {
        Ok(result) => {
            // Serializing writes the inner data only; decoding it again must give the same value.
            let text = serde_json::to_vec(&result).expect("a decoded result serializes");
            let again = decode_result(integration, resource, action, &text).unwrap_or_else(|e| {
                panic!(
                    "re-decoding serialized output failed: {e}\n{}",
                    String::from_utf8_lossy(&text)
                )
            });
            assert_eq!(result, again, "round trip changed the value");
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}
