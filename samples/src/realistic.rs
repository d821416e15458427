//! Values a person would believe, for [`SampleOptions::realistic`](crate::SampleOptions::realistic):
//! chosen by the property's name and the string `format` (ISO 4217 currencies, real calendar dates
//! in the shape a pattern asks for, amounts in cents, names, addresses), never assembled from
//! random syllables (which can spell offensive words). Each candidate is only a proposal: the
//! generator keeps the first one the schema accepts and otherwise falls back to its ordinary
//! generation.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Number, Value};

use crate::text::days_in_month;

/// Neutral words for strings nothing else describes. Whole words only, so no combination of
/// them spells something a person would not want in a demo.
pub(crate) const NEUTRAL_WORDS: &[&str] = &[
    "alpha", "amber", "birch", "cedar", "coral", "delta", "ember", "harbor", "island", "juniper",
    "maple", "meadow", "orchard", "spruce", "quartz", "river", "summit", "valley", "willow",
];

// Two-decimal currencies only: the amounts are written in cents.
const CURRENCIES: &[&str] = &["USD", "USD", "USD", "EUR", "GBP", "CAD", "AUD"];
const FULL_NAMES: &[&str] = &[
    "Jane Doe",
    "John Smith",
    "Maria Garcia",
    "Sam Lee",
    "Alex Kim",
];
const FIRST_NAMES: &[&str] = &["Jane", "John", "Maria", "Sam", "Alex"];
const LAST_NAMES: &[&str] = &["Doe", "Smith", "Garcia", "Lee", "Kim"];
const BRANDS: &[&str] = &["Visa", "Mastercard", "American Express", "Discover"];
const NICKNAMES: &[&str] = &["Personal card", "Work card", "Family plan card"];
const STREETS: &[&str] = &["123 Main St", "450 Market St", "77 Elm Ave", "9 Harbor Rd"];
const UNITS: &[&str] = &["Apt 4B", "Suite 200", "Unit 12"];
const CITIES: &[&str] = &["New York", "San Francisco", "Chicago", "Austin", "Seattle"];
const STATES: &[&str] = &["NY", "CA", "IL", "TX", "WA"];
const ZIPS: &[&str] = &["10001", "94105", "60614", "78701", "98101"];
const COUNTRIES: &[&str] = &["US", "USA", "United States"];
const EMAILS: &[&str] = &[
    "jane.doe@example.com",
    "john.smith@example.org",
    "sam.lee@example.net",
];
const PHONES: &[&str] = &["+12125550134", "(415) 555-0199", "312-555-0147"];
const TITLES: &[&str] = &[
    "The Old Man and the Sea",
    "A Brief History of Time",
    "Pride and Prejudice",
    "The Little Prince",
];
const SOURCES: &[&str] = &["Apple Books", "Kindle", "Web"];
const DESCRIPTIONS: &[&str] = &["Monthly plan", "Device payment", "Service charge"];

/// The property a schema pointer describes: the token after its last `properties`
/// (`#/properties/billing/items/properties/dueDate` → `dueDate`), if any.
pub(crate) fn field_name(ptr: &str) -> Option<String> {
    let tokens: Vec<&str> = ptr.split('/').collect();
    let at = tokens.iter().rposition(|t| *t == "properties")?;
    tokens
        .get(at + 1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
}

fn pick(rng: &mut ChaCha8Rng, list: &[&str]) -> Vec<String> {
    // Every entry, starting at a random one: the first the schema accepts wins.
    let start = rng.gen_range(0..list.len());
    (0..list.len())
        .map(|i| list[(start + i) % list.len()].to_string())
        .collect()
}

fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn alnum(rng: &mut ChaCha8Rng, n: usize) -> String {
    const CHARS: &[u8] = b"0123456789abcdef";
    (0..n)
        .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
        .collect()
}

/// A real calendar date (2024..=2026) rendered in every common shape, for `format`s and for
/// patterns such as `^\d{2}/\d{2}/\d{4}$`: `MM/DD/YYYY`, ISO `YYYY-MM-DD`, `MM/YY`, ...
fn dates(rng: &mut ChaCha8Rng) -> Vec<String> {
    let year: u32 = rng.gen_range(2024..=2026);
    let month: u32 = rng.gen_range(1..=12);
    let day: u32 = rng.gen_range(1..=days_in_month(year, month));
    let (hour, minute, second) = (
        rng.gen_range(8..20u32),
        rng.gen_range(0..60u32),
        rng.gen_range(0..60u32),
    );
    let yy = year % 100;
    vec![
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"),
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{month:02}/{day:02}/{year:04}"),
        format!("{day:02}/{month:02}/{year:04}"),
        format!("{month:02}/{yy:02}"),
        format!("{month:02}/{day:02}/{yy:02}"),
        format!("{month:02}-{day:02}-{year:04}"),
        format!("{year:04}/{month:02}/{day:02}"),
        format!("{month}/{day}/{year}"),
        format!("{hour:02}:{minute:02}:{second:02}Z"),
    ]
}

/// A property name in lowercase words: `periodStart` → `period start`, `billing_zip` →
/// `billing zip`, `last4` → `last4`. Matching whole words keeps `vendorId` from looking like an
/// end date.
struct Name {
    words: Vec<String>,
    joined: String,
}

impl Name {
    fn new(name: Option<&str>) -> Self {
        let mut words: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut previous_lower = false;
        for c in name.unwrap_or_default().chars() {
            if !c.is_alphanumeric() {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                previous_lower = false;
                continue;
            }
            if c.is_uppercase() && previous_lower && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
            current.extend(c.to_lowercase());
        }
        if !current.is_empty() {
            words.push(current);
        }
        let joined = words.concat();
        Self { words, joined }
    }

    /// Whether one of the words is among `words`, or the whole name is one of them
    /// (`nameOnCard` is `nameoncard`).
    fn has(&self, words: &[&str]) -> bool {
        words
            .iter()
            .any(|w| self.joined == *w || self.words.iter().any(|x| x == w))
    }

    fn last(&self) -> &str {
        self.words.last().map(String::as_str).unwrap_or_default()
    }
}

/// Strings to try, best first, for a property called `name` with this `format`.
pub(crate) fn strings(
    rng: &mut ChaCha8Rng,
    name: Option<&str>,
    format: Option<&str>,
    has_pattern: bool,
) -> Vec<String> {
    let name = Name::new(name);
    let mut out = Vec::new();
    match format {
        Some("date-time") => out.push(dates(rng)[0].clone()),
        Some("date") => out.push(dates(rng)[1].clone()),
        Some("time") => out.push(dates(rng)[9].clone()),
        Some("email") => out.extend(pick(rng, EMAILS)),
        Some("uri" | "url") => out.push(format!("https://example.com/{}", alnum(rng, 8))),
        Some("uuid") => out.push(format!(
            "{}-{}-4{}-a{}-{}",
            alnum(rng, 8),
            alnum(rng, 4),
            alnum(rng, 3),
            alnum(rng, 3),
            alnum(rng, 12)
        )),
        _ => {}
    }
    let lists: &[(&[&str], &[&str])] = &[
        (&["currency"], CURRENCIES),
        (&["email"], EMAILS),
        (&["zip", "postal", "zipcode", "postalcode"], ZIPS),
        (&["firstname", "givenname"], FIRST_NAMES),
        (&["lastname", "surname", "familyname"], LAST_NAMES),
        (
            &["nameoncard", "fullname", "holder", "cardholder", "name"],
            FULL_NAMES,
        ),
        (&["brand", "network"], BRANDS),
        (&["nickname"], NICKNAMES),
        (&["line1", "street", "address", "addressline1"], STREETS),
        (&["line2", "unit", "apartment", "addressline2"], UNITS),
        (&["city", "town"], CITIES),
        (&["state", "region", "province"], STATES),
        (&["country"], COUNTRIES),
        (&["phone", "mobile"], PHONES),
        (&["title"], TITLES),
        (&["source", "app", "platform"], SOURCES),
        (&["description", "memo", "note", "label"], DESCRIPTIONS),
    ];
    for (words, list) in lists {
        if name.has(words) {
            out.extend(pick(rng, list));
        }
    }
    if name.has(&["last4", "lastfour"]) {
        out.push(digits(rng, 4));
    }
    if name.has(&["cvv", "cvc"]) {
        out.push(digits(rng, 3));
    }
    if name.has(&["cardnumber"]) {
        out.push("4111111111111111".to_string());
    }
    if name.has(&["url", "uri", "link", "website"]) {
        out.push(format!("https://example.com/{}", alnum(rng, 8)));
    }
    // Dates in the shape the name suggests first: a card's expiry is `MM/YY`, a `...At` is a
    // timestamp, other dates the API's `MM/DD/YYYY`; a pattern then picks among the rest.
    let rendered = dates(rng);
    if name.has(&["expiration", "expiry", "exp", "expires"]) {
        out.push(rendered[4].clone());
    }
    if name.has(&["at", "time", "timestamp"]) {
        out.push(rendered[0].clone());
    }
    if name.has(&[
        "date", "period", "start", "end", "due", "since", "until", "day",
    ]) {
        out.push(rendered[2].clone());
        out.push(rendered[1].clone());
    }
    if name.last() == "id" || name.has(&["uuid"]) {
        let prefix: String = name
            .words
            .iter()
            .rev()
            .nth(1)
            .map(|w| w.chars().take(4).collect())
            .unwrap_or_else(|| "id".to_string());
        out.push(format!("{prefix}_{}", alnum(rng, 12)));
    }
    if has_pattern {
        // A pattern shaped like a date (`^\d{2}/\d{2}/\d{4}$`) gets a real date, whatever the name.
        out.extend(rendered);
    } else if out.is_empty() && format.is_none() {
        out.push(neutral_phrase(rng));
    }
    out
}

/// Objects to try for a property called `name`: a postal address for `...address`.
pub(crate) fn objects(rng: &mut ChaCha8Rng, name: Option<&str>) -> Vec<Value> {
    let name = Name::new(name);
    if !name.has(&["address", "billingaddress", "shippingaddress"]) {
        return Vec::new();
    }
    let at = rng.gen_range(0..STREETS.len());
    let city = rng.gen_range(0..CITIES.len());
    let street = STREETS[at];
    vec![
        serde_json::json!({"line1": street, "city": CITIES[city], "state": STATES[city],
                           "postalCode": ZIPS[city], "country": "US"}),
        serde_json::json!({"line1": street, "city": CITIES[city], "state": STATES[city],
                           "country": "US"}),
        serde_json::json!({"line1": street, "city": CITIES[city], "state": STATES[city]}),
    ]
}

/// One or two neutral words, capitalized: `Maple harbor`.
pub(crate) fn neutral_phrase(rng: &mut ChaCha8Rng) -> String {
    let count = rng.gen_range(1..=2);
    let words: Vec<&str> = NEUTRAL_WORDS.choose_multiple(rng, count).copied().collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// A string of `min..=max` characters made of neutral words only (the fallback for free text
/// with length limits nothing else met).
pub(crate) fn neutral_text(rng: &mut ChaCha8Rng, min: usize, max: usize) -> String {
    let target = min.max(1).min(max).max(min);
    let mut text = String::new();
    while text.chars().count() < target {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(NEUTRAL_WORDS[rng.gen_range(0..NEUTRAL_WORDS.len())]);
    }
    let cut = max.min(text.chars().count().max(min));
    let mut out: String = text.chars().take(cut).collect();
    // A word cut mid-way may end in a space: pad instead of ending in whitespace.
    while out.ends_with(' ') {
        out.pop();
        out.push('a');
    }
    out
}

/// Numbers to try, best first, for a property called `name`.
pub(crate) fn numbers(rng: &mut ChaCha8Rng, name: Option<&str>, integer: bool) -> Vec<Value> {
    let name = Name::new(name);
    let mut out = Vec::new();
    let money = name.has(&[
        "amount", "price", "total", "balance", "due", "cost", "fee", "tax", "tip", "charge",
        "paid", "subtotal",
    ]);
    if money && !integer {
        let cents: u64 = rng.gen_range(500..=30_000);
        // Whole cents: 85.4, 120.99.
        if let Some(n) = Number::from_f64((cents as f64) / 100.0) {
            out.push(Value::Number(n));
        }
    }
    if money && integer {
        out.push(Value::from(rng.gen_range(5..=300u64)));
    }
    if name.has(&["order", "index", "position", "rank"]) {
        out.push(Value::from(rng.gen_range(0..=3u64)));
    }
    if name.has(&["count", "quantity", "qty", "limit", "number", "items"]) {
        out.push(Value::from(rng.gen_range(1..=12u64)));
    }
    if name.has(&["duration", "seconds", "length"]) {
        out.push(Value::from(rng.gen_range(60..=7_200u64)));
    }
    if name.has(&["year"]) {
        out.push(Value::from(rng.gen_range(2024..=2026u64)));
    }
    if name.has(&["percent", "rate"]) {
        out.push(Value::from(rng.gen_range(1..=100u64)));
    }
    // Anything else: a small positive number.
    if integer {
        out.push(Value::from(rng.gen_range(1..=100u64)));
    } else if let Some(n) = Number::from_f64(f64::from(rng.gen_range(100..=10_000u32)) / 100.0) {
        out.push(Value::Number(n));
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn field_names_come_from_the_last_property() {
        assert_eq!(
            field_name("/properties/billing/items/properties/dueDate").as_deref(),
            Some("dueDate")
        );
        assert_eq!(field_name("/properties/a~1b").as_deref(), Some("a/b"));
        assert_eq!(field_name("/items"), None);
    }

    #[test]
    fn names_match_by_whole_words() {
        let vendor = Name::new(Some("vendorId"));
        assert_eq!(vendor.words, ["vendor", "id"]);
        assert!(!vendor.has(&["end"]));
        assert!(Name::new(Some("periodEnd")).has(&["end"]));
        assert!(Name::new(Some("nameOnCard")).has(&["nameoncard"]));
        assert!(Name::new(Some("billing_zip")).has(&["zip"]));
        assert_eq!(Name::new(Some("last4")).words, ["last4"]);
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            let us = &dates(&mut rng)[2]; // MM/DD/YYYY
            let parts: Vec<u32> = us.split('/').map(|p| p.parse().unwrap()).collect();
            assert!((1..=12).contains(&parts[0]), "{us}");
            assert!(
                (1..=days_in_month(parts[2], parts[0])).contains(&parts[1]),
                "{us}"
            );
            assert!((2024..=2026).contains(&parts[2]), "{us}");
        }
    }

    #[test]
    fn neutral_text_uses_whole_listed_words_within_limits() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (min, max) in [(0, 5), (1, 1), (3, 40), (30, 30), (0, usize::MAX)] {
            let text = neutral_text(&mut rng, min, max);
            let n = text.chars().count();
            assert!(n >= min && n <= max, "{min}..={max}: {text:?}");
        }
        for _ in 0..50 {
            let phrase = neutral_phrase(&mut rng).to_lowercase();
            for word in phrase.split(' ') {
                assert!(NEUTRAL_WORDS.contains(&word), "{phrase}");
            }
        }
    }
}
