//! Decode time of passage-generated's types against their peers, side by side in one process, on
//! two ~5 MB results: DoorDash `orderHistory`/`read` and T-Mobile `mobileBillingStatement`/`read`.
//!
//! Decoders, each on the same bytes: (a) `serde_json::from_slice` into the generated type (the
//! per-integration alias), (b) `passage_generated::decode_result` (what users call), (c)
//! `serde_json::Value`, (d) typify 0.8's types and (e) quicktype's types of the same schemas
//! (committed fixtures, `peers/README.md`). 21 rounds; in each, every decoder decodes each payload
//! [`DECODES_PER_ROUND`] times, the decoders taking turns decode by decode in an order that
//! rotates from round to round. A decoder's round time is the fastest of its decodes (the one
//! least disturbed by other processes on a shared machine), divided by (a)'s in that same round,
//! so a load change hits both sides of a ratio. Prints the median ratio (min–max over the rounds)
//! and the absolute times as markdown tables.
//!
//! Run with `cargo bench -p passage-tests --bench decode_peers`. Reports, asserts nothing timed:
//! it only refuses (panics) to time a decoder that does not decode the payload to the same data.
//! `cargo test -p passage-tests --bench decode_peers` builds and checks the payloads, times nothing.

use std::fmt::Display;
use std::hint::black_box;
use std::time::{Duration, Instant};

use passage_generated::OperationResult;
use passage_samples::{json_diff, sample_with, SampleOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

// The peers' types, exactly as their tools wrote them (see peers/README.md). `#[rustfmt::skip]`
// keeps them unedited; typify's own file allows the clippy lints its style trips.
#[rustfmt::skip]
#[path = "peers/quicktype_billing.rs"]
mod quicktype_billing;
#[rustfmt::skip]
#[path = "peers/quicktype_doordash.rs"]
mod quicktype_doordash;
#[rustfmt::skip]
#[path = "peers/typify_billing.rs"]
mod typify_billing;
// typify emits its `error::ConversionError` even when no type of the schema converts (this one
// has no constrained string): unused here.
#[allow(dead_code)]
#[rustfmt::skip]
#[path = "peers/typify_doordash.rs"]
mod typify_doordash;

/// Rounds; each gives one ratio per decoder and payload. Odd, so the median is one round's.
const ROUNDS: usize = 21;
/// Decodes of one payload by one decoder in a round; the round's time is the fastest.
const DECODES_PER_ROUND: usize = 5;
/// Each payload grows until its JSON is at least this long.
const PAYLOAD_BYTES: usize = 5_000_000;

/// The columns, in table order; (a) is the reference of every ratio.
const COLUMNS: [&str; 5] = [
    "direct `from_slice::<generated T>`",
    "`decode_result` (what users call)",
    "`serde_json::Value`",
    "typify 0.8 types",
    "quicktype 26 types",
];

/// What a decoder made of the payload, for the check before timing.
struct Decoded {
    /// Entries of the payload's list (orders, billing statements).
    entries: usize,
    /// The decoded value serialized again.
    json: Value,
}

/// One way to decode a payload.
struct Decoder {
    /// Decodes once and returns the time of the decode alone (the value is dropped after the
    /// clock stopped).
    time: fn(&[u8]) -> Duration,
    /// Decodes once and reports what it decoded.
    check: fn(&[u8]) -> Result<Decoded, String>,
    /// How its re-serialized value may differ from the payload.
    fidelity: Fidelity,
}

/// How a decoder's re-serialized value may legitimately differ from the payload: the differences
/// its types imply (peers/README.md). Applied to both sides before comparing.
#[derive(Clone, Copy)]
struct Fidelity {
    /// A `null` member is the same as an absent one.
    null_is_absent: bool,
    /// Members with these names are the same absent as empty (`[]`, `{}`).
    empty_is_absent: &'static [&'static str],
    /// Members with these names are the same absent as with this integer (a schema default).
    default_is_absent: &'static [(&'static str, i64)],
    /// String members with these names compare case-insensitively (UUIDs).
    lowercase: &'static [&'static str],
    /// String members with these names compare as instants (RFC 3339 date-times).
    date_times: &'static [&'static str],
}

/// Exact: the payload back, member for member (numbers by value).
const EXACT: Fidelity = Fidelity {
    null_is_absent: false,
    empty_is_absent: &[],
    default_is_absent: &[],
    lowercase: &[],
    date_times: &[],
};

/// quicktype writes an absent `Option` as `null`.
const QUICKTYPE: Fidelity = Fidelity {
    null_is_absent: true,
    ..EXACT
};

/// typify: one `Option` for optional nullable fields, empty collections skipped, `quantity`
/// defaulted, `uuid::Uuid` and `chrono::DateTime<Utc>` for the formatted strings.
const TYPIFY: Fidelity = Fidelity {
    null_is_absent: true,
    empty_is_absent: &["modifiers", "fees"],
    default_is_absent: &[("quantity", 1)],
    lowercase: &["id"],
    date_times: &["placedAt", "readyAt", "deliveredAt"],
};

/// One benchmarked result: its bytes and the five decoders of its type.
struct Payload {
    name: &'static str,
    value: Value,
    bytes: Vec<u8>,
    /// Entries of its list.
    entries: usize,
    decoders: [Decoder; 5],
}

/// Times one decode of `bytes`; drops the value after the clock stopped.
fn timed<T, E: Display>(bytes: &[u8], decode: impl Fn(&[u8]) -> Result<T, E>) -> Duration {
    let start = Instant::now();
    let out = decode(black_box(bytes));
    let elapsed = start.elapsed();
    match out {
        Ok(value) => drop(black_box(value)),
        // The check before timing decoded these bytes: a failure now is a broken benchmark.
        Err(err) => panic!("a decode that passed the check failed while timed: {err}"),
    }
    elapsed
}

/// `serde_json::from_slice` into `T`, timed.
fn time_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Duration {
    timed(bytes, |b| serde_json::from_slice::<T>(b))
}

/// `serde_json::from_slice` into `T`, then its entries and its JSON again.
fn check_from_slice<T: DeserializeOwned + Serialize>(
    bytes: &[u8],
    entries: fn(&T) -> usize,
) -> Result<Decoded, String> {
    let value: T = serde_json::from_slice(bytes).map_err(|err| err.to_string())?;
    Ok(Decoded {
        entries: entries(&value),
        json: serde_json::to_value(&value).map_err(|err| err.to_string())?,
    })
}

/// `decode_result` of a result as users call it, then its entries and its JSON again.
fn check_decode_result(
    (integration, resource, action): (&str, &str, &str),
    bytes: &[u8],
    entries: fn(&OperationResult) -> Option<usize>,
) -> Result<Decoded, String> {
    let decoded = passage_generated::decode_result(integration, resource, action, bytes)
        .map_err(|err| err.to_string())?;
    let entries = entries(&decoded).ok_or_else(|| {
        format!(
            "decoded as another variant: {:?}",
            std::mem::discriminant(&decoded)
        )
    })?;
    Ok(Decoded {
        entries,
        json: serde_json::to_value(&decoded).map_err(|err| err.to_string())?,
    })
}

const DOORDASH: (&str, &str, &str) = ("doordash", "orderHistory", "read");
const BILLING: (&str, &str, &str) = ("tmobile", "mobileBillingStatement", "read");

// `decode_result`'s closure hands the generated crate's `DecodeError` through as it is.
#[allow(clippy::result_large_err)]
fn doordash_decoders() -> [Decoder; 5] {
    type Generated = passage_generated::doordash::OrderHistoryReadResult;
    [
        Decoder {
            time: time_from_slice::<Generated>,
            check: |b| check_from_slice::<Generated>(b, |v| v.orders.len()),
            fidelity: EXACT,
        },
        Decoder {
            time: |b| {
                timed(b, |b| {
                    passage_generated::decode_result(DOORDASH.0, DOORDASH.1, DOORDASH.2, b)
                })
            },
            check: |b| {
                check_decode_result(DOORDASH, b, |r| match r {
                    OperationResult::DoordashOrderHistoryRead(v) => Some(v.orders.len()),
                    _ => None,
                })
            },
            fidelity: EXACT,
        },
        Decoder {
            time: time_from_slice::<Value>,
            check: |b| check_from_slice::<Value>(b, |v| list_len(v, "orders")),
            fidelity: EXACT,
        },
        Decoder {
            time: time_from_slice::<typify_doordash::DoorDashOrderHistory>,
            check: |b| {
                check_from_slice::<typify_doordash::DoorDashOrderHistory>(b, |v| v.orders.len())
            },
            fidelity: TYPIFY,
        },
        Decoder {
            time: time_from_slice::<quicktype_doordash::DoorDashOrderHistory>,
            check: |b| {
                check_from_slice::<quicktype_doordash::DoorDashOrderHistory>(b, |v| v.orders.len())
            },
            fidelity: QUICKTYPE,
        },
    ]
}

// `decode_result`'s closure hands the generated crate's `DecodeError` through as it is.
#[allow(clippy::result_large_err)]
fn billing_decoders() -> [Decoder; 5] {
    type Generated = passage_generated::tmobile::MobileBillingStatementReadResult;
    [
        Decoder {
            time: time_from_slice::<Generated>,
            check: |b| check_from_slice::<Generated>(b, |v| v.billing.len()),
            fidelity: EXACT,
        },
        Decoder {
            time: |b| {
                timed(b, |b| {
                    passage_generated::decode_result(BILLING.0, BILLING.1, BILLING.2, b)
                })
            },
            check: |b| {
                check_decode_result(BILLING, b, |r| match r {
                    OperationResult::TmobileMobileBillingStatementRead(v) => Some(v.billing.len()),
                    _ => None,
                })
            },
            fidelity: EXACT,
        },
        Decoder {
            time: time_from_slice::<Value>,
            check: |b| check_from_slice::<Value>(b, |v| list_len(v, "billing")),
            fidelity: EXACT,
        },
        Decoder {
            time: time_from_slice::<typify_billing::MobileBillingStatements>,
            check: |b| {
                check_from_slice::<typify_billing::MobileBillingStatements>(b, |v| v.billing.len())
            },
            fidelity: TYPIFY,
        },
        Decoder {
            time: time_from_slice::<quicktype_billing::MobileBillingStatement>,
            check: |b| {
                check_from_slice::<quicktype_billing::MobileBillingStatement>(b, |v| {
                    v.billing.len()
                })
            },
            fidelity: QUICKTYPE,
        },
    ]
}

/// Length of the array member `key` of `value` (0 when there is none: the check then fails).
fn list_len(value: &Value, key: &str) -> usize {
    value[key].as_array().map_or(0, Vec::len)
}

/// A result of `(integration, resource, action)` of at least [`PAYLOAD_BYTES`], valid against its
/// schema: the entries of the list `list` of `passage_samples` instances (seeds 0, 1, 2, ...,
/// at most `max_items` entries each) concatenated into the envelope of the first instance, with
/// `count` (when given) set to their number. Deterministic: the same bytes on every run.
fn build_payload(
    catalog: &passage_catalog::Catalog,
    (integration, resource, action): (&str, &str, &str),
    list: &str,
    count: Option<&str>,
    max_items: usize,
) -> (Value, usize) {
    let schema = catalog
        .operation(integration, resource, action)
        .and_then(|op| op.spec.result.clone())
        .unwrap_or_else(|| panic!("no {integration} {resource}/{action} result in the catalog"));
    let options = SampleOptions {
        max_items,
        ..SampleOptions::default()
    };
    let sample = |seed| {
        sample_with(&schema, seed, &options)
            .unwrap_or_else(|err| panic!("sample of {integration} {resource}/{action}: {err}"))
    };
    let mut envelope = sample(0);
    let mut entries = Vec::new();
    // Bytes of the entries and of the commas between them.
    let mut length = 0;
    let mut seed = 0;
    while length < PAYLOAD_BYTES {
        let Value::Array(more) = sample(seed)[list].take() else {
            panic!("{integration} {resource}/{action}: no `{list}` array in the sample");
        };
        for entry in more {
            length += serde_json::to_vec(&entry).expect("JSON").len() + 1;
            entries.push(entry);
        }
        seed += 1;
    }
    let n = entries.len();
    envelope[list] = Value::Array(entries);
    if let Some(count) = count {
        envelope[count] = n.into();
    }
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    if let Some(error) = validator.iter_errors(&envelope).next() {
        panic!(
            "the {integration} {resource}/{action} payload is not valid against its schema: \
             {error} at {}",
            error.instance_path()
        );
    }
    (envelope, n)
}

fn payloads() -> [Payload; 2] {
    let catalog =
        passage_catalog::Catalog::from_slice(include_bytes!("../../catalog/providers.json"))
            .expect("pinned catalog");
    let payload = |name, operation, list, count, max_items, decoders| {
        let (value, entries) = build_payload(&catalog, operation, list, count, max_items);
        Payload {
            name,
            bytes: serde_json::to_vec(&value).expect("JSON"),
            value,
            entries,
            decoders,
        }
    };
    [
        payload(
            "doordash orderHistory",
            DOORDASH,
            "orders",
            Some("orderCount"),
            8,
            doordash_decoders(),
        ),
        payload("billing", BILLING, "billing", None, 64, billing_decoders()),
    ]
}

/// `value` with the differences `fidelity` allows removed (see [`Fidelity`]).
fn normalize(value: &Value, fidelity: &Fidelity) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| normalize(v, fidelity)).collect()),
        Value::Object(members) => {
            let mut out = serde_json::Map::new();
            for (key, member) in members {
                let absent = (fidelity.null_is_absent && member.is_null())
                    || (fidelity.empty_is_absent.contains(&key.as_str())
                        && match member {
                            Value::Array(a) => a.is_empty(),
                            Value::Object(o) => o.is_empty(),
                            _ => false,
                        })
                    || fidelity
                        .default_is_absent
                        .iter()
                        .any(|(name, default)| name == key && member.as_i64() == Some(*default));
                if absent {
                    continue;
                }
                let member = match member.as_str() {
                    Some(text) if fidelity.lowercase.contains(&key.as_str()) => {
                        Value::String(text.to_lowercase())
                    }
                    Some(text) if fidelity.date_times.contains(&key.as_str()) => {
                        // An unparsable one stays as it is: the comparison then shows it.
                        match text.parse::<chrono::DateTime<chrono::Utc>>() {
                            Ok(instant) => Value::String(instant.to_rfc3339()),
                            Err(_) => member.clone(),
                        }
                    }
                    _ => normalize(member, fidelity),
                };
                out.insert(key.clone(), member);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Panics, naming the payload and the decoder, unless every decoder decodes `payload` to the
/// same data: as many entries, and its re-serialized value equal to the payload (after the
/// normalization its fidelity allows). The benchmark never times a failure path.
fn check(payload: &Payload) {
    for (decoder, column) in payload.decoders.iter().zip(COLUMNS) {
        let decoded = (decoder.check)(&payload.bytes).unwrap_or_else(|err| {
            panic!("{column} cannot decode the {} payload: {err}", payload.name)
        });
        assert_eq!(
            decoded.entries, payload.entries,
            "{column} decoded another number of entries of the {} payload",
            payload.name
        );
        let expected = normalize(&payload.value, &decoder.fidelity);
        let actual = normalize(&decoded.json, &decoder.fidelity);
        if let Some(diff) = json_diff(&expected, &actual) {
            panic!(
                "{column} decoded other data from the {} payload (payload != re-serialized): {diff}",
                payload.name
            );
        }
    }
}

/// `times[i] / reference[i]` round by round, as "median× (min–max)".
fn ratio_cell(times: &[f64], reference: &[f64]) -> String {
    let ratios = times.iter().zip(reference).map(|(t, r)| t / r).collect();
    let (median, min, max) = summary(ratios);
    format!("{median:.2}× ({min:.2}–{max:.2})")
}

/// Median, min and max.
fn summary(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and gets a quick check only.
    let timing = std::env::args().any(|arg| arg == "--bench");
    let started = Instant::now();
    let payloads = payloads();
    for payload in &payloads {
        check(payload);
        eprintln!(
            "{}: {} bytes, {} entries; every decoder decodes the same data",
            payload.name,
            payload.bytes.len(),
            payload.entries
        );
    }
    eprintln!(
        "payloads built and checked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !timing {
        return;
    }

    // Warm-up: one untimed decode each (lazy statics, allocator pools).
    for payload in &payloads {
        for decoder in &payload.decoders {
            (decoder.time)(&payload.bytes);
        }
    }
    // times[payload][decoder][round]: seconds of the round's fastest decode.
    let mut times = vec![vec![Vec::new(); 5]; payloads.len()];
    for round in 0..ROUNDS {
        // Payloads alternate, and so does which decoder goes first. The decoders take turns
        // decode by decode, so a change of load during the round reaches each of them alike.
        for p in (0..payloads.len()).map(|p| (p + round) % payloads.len()) {
            let payload = &payloads[p];
            let mut fastest = [Duration::MAX; 5];
            for _ in 0..DECODES_PER_ROUND {
                for d in (0..5).map(|d| (d + round) % 5) {
                    let elapsed = (payload.decoders[d].time)(&payload.bytes);
                    fastest[d] = fastest[d].min(elapsed);
                }
            }
            for (d, fastest) in fastest.iter().enumerate() {
                times[p][d].push(fastest.as_secs_f64());
            }
        }
    }

    println!(
        "\nDecode of ~5 MB results, {ROUNDS} rounds (decoders taking turns, the fastest of \
         {DECODES_PER_ROUND} decodes each); ratio to the direct `from_slice` of the same round, \
         median (min–max):\n"
    );
    println!("| 5 MB result | {} |", COLUMNS.join(" | "));
    println!("|---|{}", "---|".repeat(COLUMNS.len()));
    for (payload, times) in payloads.iter().zip(&times) {
        let cells: Vec<String> = (0..5)
            .map(|d| match d {
                0 => "1.00".to_string(),
                _ => ratio_cell(&times[d], &times[0]),
            })
            .collect();
        println!("| {} | {} |", payload.name, cells.join(" | "));
    }
    // Issue 14's goals for what users call: at most 1.05× quicktype's plain structs and 0.6× an
    // untyped `Value` parse. Printed, not asserted: a timed assertion fails on a busy machine.
    println!(
        "\n`decode_result` against the goals, per-round ratio, median (min–max):\n\n\
         | 5 MB result | `decode_result` / quicktype (goal ≤ 1.05) | \
         `decode_result` / `serde_json::Value` (goal ≤ 0.6) |\n|---|---|---|"
    );
    for (payload, times) in payloads.iter().zip(&times) {
        println!(
            "| {} | {} | {} |",
            payload.name,
            ratio_cell(&times[1], &times[4]),
            ratio_cell(&times[1], &times[2])
        );
    }
    println!("\nTime per decode (a round's fastest), ms, median (min–max) over the rounds:\n");
    println!("| 5 MB result | {} |", COLUMNS.join(" | "));
    println!("|---|{}", "---|".repeat(COLUMNS.len()));
    for (payload, times) in payloads.iter().zip(&times) {
        let cells: Vec<String> = times
            .iter()
            .map(|t| {
                let (median, min, max) = summary(t.iter().map(|s| s * 1e3).collect());
                format!("{median:.1} ({min:.1}–{max:.1})")
            })
            .collect();
        println!(
            "| {} ({:.2} MB, {} entries) | {} |",
            payload.name,
            payload.bytes.len() as f64 / 1e6,
            payload.entries,
            cells.join(" | ")
        );
    }
}
