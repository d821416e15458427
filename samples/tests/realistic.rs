//! `SampleOptions::realistic()` (what the emulator serves): still valid against every catalog
//! schema and deterministic by seed, and values a person would believe: ISO 4217 currencies, real
//! calendar dates in the shape the pattern asks for, plausible amounts, non-empty lists, the
//! schema's `examples`/`default` first, and no free text built from random syllables.

mod common;

use passage_catalog::Catalog;
use passage_samples::{sample_with, SampleOptions};
use serde_json::{json, Value};

const SEEDS: u64 = 100;

fn catalog() -> Catalog {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../catalog/providers.json");
    Catalog::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn result_schema(integration: &str, resource: &str, action: &str) -> Value {
    catalog()
        .operations()
        .find(|op| op.integration == integration && op.resource == resource && op.action == action)
        .and_then(|op| op.spec.result.clone())
        .expect("the operation has a result schema")
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// `MM/DD/YYYY` that names a day of the calendar, in a plausible year.
fn is_us_date(text: &str) -> bool {
    let parts: Vec<u32> = text.split('/').filter_map(|p| p.parse().ok()).collect();
    matches!(parts.as_slice(), [m, d, y] if (1..=12).contains(m)
        && (1..=days_in_month(*y, *m)).contains(d)
        && (2000..=2030).contains(y))
}

/// What the plain generator's free text looks like: lowercase consonant-vowel syllables.
fn looks_like_syllables(text: &str) -> bool {
    let word = |w: &str| {
        let b = w.as_bytes();
        !b.is_empty()
            && b.len().is_multiple_of(2)
            && b.chunks(2)
                .all(|pair| b"bdfghjklmnprstvwyz".contains(&pair[0]) && b"aeiou".contains(&pair[1]))
    };
    !text.is_empty() && text.split([' ', '-']).all(word)
}

#[test]
fn every_catalog_schema_gets_valid_deterministic_realistic_samples() {
    let options = SampleOptions::realistic();
    let mut checked = 0;
    for op in catalog().operations() {
        for schema in [&op.spec.arguments, &op.spec.result].into_iter().flatten() {
            let validator = common::validator(schema);
            for seed in 0..common::seeds(SEEDS) {
                let value = sample_with(schema, seed, &options).unwrap();
                let errors = common::errors(&validator, &value);
                assert!(
                    errors.is_empty(),
                    "{} seed {seed}: {errors:?}\n{value}",
                    op.integration
                );
                assert_eq!(value, sample_with(schema, seed, &options).unwrap());
                for text in common::strings(&value) {
                    assert!(
                        !looks_like_syllables(text),
                        "{}/{} seed {seed}: random-syllable text {text:?}",
                        op.integration,
                        op.resource
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn billing_statements_look_real() {
    let schema = result_schema("tmobile", "mobileBillingStatement", "read");
    let currencies = ["USD", "EUR", "GBP", "CAD", "AUD", "JPY"];
    for seed in 0..SEEDS {
        let value = sample_with(&schema, seed, &SampleOptions::realistic()).unwrap();
        let billing = value["billing"].as_array().unwrap();
        assert!(!billing.is_empty(), "seed {seed}: {value}");
        for statement in billing {
            let currency = statement["currency"].as_str().unwrap();
            assert!(currencies.contains(&currency), "seed {seed}: {currency}");
            let amount = statement["amountDue"].as_f64().unwrap();
            assert!((1.0..=1_000.0).contains(&amount), "seed {seed}: {amount}");
            assert!(
                ((amount * 100.0).round() - amount * 100.0).abs() < 1e-6,
                "seed {seed}: {amount} is not whole cents"
            );
            for field in ["periodStart", "periodEnd", "dueDate"] {
                if let Some(date) = statement.get(field) {
                    let date = date.as_str().unwrap();
                    assert!(is_us_date(date), "seed {seed}: {field} = {date}");
                }
            }
        }
    }
}

#[test]
fn payment_methods_look_real() {
    let schema = result_schema("tmobile", "paymentMethod", "read");
    for seed in 0..SEEDS {
        let value = sample_with(&schema, seed, &SampleOptions::realistic()).unwrap();
        let methods = value["paymentMethods"].as_array().unwrap();
        assert!(!methods.is_empty(), "seed {seed}: {value}");
        for method in methods {
            let last4 = method["last4"].as_str().unwrap();
            assert!(
                last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()),
                "{last4}"
            );
            if let Some(brand) = method.get("brand") {
                assert!(
                    ["Visa", "Mastercard", "American Express", "Discover"]
                        .contains(&brand.as_str().unwrap()),
                    "{brand}"
                );
            }
        }
    }
}

#[test]
fn examples_and_defaults_come_first() {
    let schema = json!({
        "type": "object",
        "required": ["plan", "region", "code"],
        "properties": {
            "plan": {"type": "string", "examples": ["Unlimited 5G", 42, "Essentials"]},
            "region": {"type": "string", "default": "us-east"},
            "code": {"type": "string", "examples": ["nope"], "pattern": "^[0-9]+$", "default": "007"}
        }
    });
    for seed in 0..20 {
        let value = sample_with(&schema, seed, &SampleOptions::realistic()).unwrap();
        assert!(
            ["Unlimited 5G", "Essentials"].contains(&value["plan"].as_str().unwrap()),
            "{value}"
        );
        assert_eq!(value["region"], "us-east");
        // An example the schema's own keywords refuse is skipped for the valid default.
        assert_eq!(value["code"], "007");
    }
}

#[test]
fn the_plain_generator_is_unchanged_by_default() {
    // Property tests rely on its edge cases: realistic is opt-in.
    assert!(!SampleOptions::default().realistic);
    assert!(SampleOptions::realistic().realistic);
}

/// `MM/DD/YYYY` or `YYYY-MM-DD[T...]` as days since 1970-01-01, for ordering checks.
fn day_number(text: &str) -> Option<i64> {
    let (y, m, d) = if is_us_date(text) {
        let p: Vec<i64> = text.split('/').filter_map(|p| p.parse().ok()).collect();
        (p[2], p[0], p[1])
    } else if text.len() >= 10 && text.as_bytes()[4] == b'-' {
        (
            text[..4].parse().ok()?,
            text[5..7].parse().ok()?,
            text[8..10].parse().ok()?,
        )
    } else {
        return None;
    };
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    Some(era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468)
}

/// Every carrier's statements, over many seeds: one currency per account, periods a month long
/// and consecutive (newest first), each due after it ends, amounts in cents.
#[test]
fn realistic_statements_are_coherent_over_many_seeds() {
    let options = SampleOptions::realistic();
    let mut checked = 0;
    for carrier in ["tmobile", "att", "verizon"] {
        let schema = result_schema(carrier, "mobileBillingStatement", "read");
        for seed in 0..200 {
            let value = sample_with(&schema, seed, &options).unwrap();
            let statements = value["billing"].as_array().expect("billing");
            let currencies: std::collections::BTreeSet<&str> = statements
                .iter()
                .filter_map(|s| s["currency"].as_str())
                .collect();
            assert!(
                currencies.len() <= 1,
                "{carrier} seed {seed}: one currency per account, got {currencies:?}"
            );
            let mut previous_start = None;
            for s in statements {
                let start = s["periodStart"].as_str().and_then(day_number);
                let end = s["periodEnd"].as_str().and_then(day_number);
                let due = s["dueDate"].as_str().and_then(day_number);
                if let (Some(start), Some(end)) = (start, end) {
                    let days = end - start + 1;
                    assert!(
                        (28..=31).contains(&days),
                        "{carrier} seed {seed}: a period of {days} days: {s}"
                    );
                    if let Some(due) = due {
                        assert!(due > end, "{carrier} seed {seed}: due before the end: {s}");
                    }
                }
                if let (Some(start), Some(newer)) = (start, previous_start) {
                    assert!(
                        (28..=31).contains(&(newer - start)),
                        "{carrier} seed {seed}: periods not consecutive months: {statements:?}"
                    );
                }
                previous_start = start.or(previous_start);
                if let Some(amount) = s["amountDue"].as_f64() {
                    let cents = amount * 100.0;
                    assert!(
                        (cents - cents.round()).abs() < 1e-6,
                        "{carrier} seed {seed}: {amount} is not in cents"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 600, "statements checked: {checked}");
}
