//! Making a realistic instance hold together: values are generated field by field, so without
//! this pass one account could mix CAD, EUR and USD, and one billing period could run from
//! 09/03/2024 to 11/02/2026 with its due date before its end. After generation,
//! [`cohere`] gives the whole document one currency (the first one generated) and rewrites each
//! list of statements as consecutive monthly periods, newest first, each due three weeks after it
//! ends, every date in the shape the generator chose for that field. The caller keeps the result
//! only if the schema still accepts it.

use serde_json::{Map, Value};

/// Field names that hold an ISO 4217 currency code.
const CURRENCY_FIELDS: &[&str] = &["currency", "currencyCode", "currency_code"];
const START_FIELDS: &[&str] = &["periodStart", "period_start", "startDate", "start_date"];
const END_FIELDS: &[&str] = &["periodEnd", "period_end", "endDate", "end_date"];
const DUE_FIELDS: &[&str] = &["dueDate", "due_date", "paymentDueDate"];
/// Days from a period's end to its due date.
const DUE_AFTER_DAYS: i64 = 21;

/// Rewrites `value` in place as described in the module docs; returns whether it changed.
pub(crate) fn cohere(value: &mut Value) -> bool {
    let mut changed = false;
    if let Some(currency) = first_currency(value) {
        changed |= set_currency(value, &currency);
    }
    changed |= periods(value);
    changed
}

fn first_currency(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => CURRENCY_FIELDS
            .iter()
            .find_map(|f| map.get(*f).and_then(Value::as_str).map(str::to_owned))
            .or_else(|| map.values().find_map(first_currency)),
        Value::Array(items) => items.iter().find_map(first_currency),
        _ => None,
    }
}

fn set_currency(value: &mut Value, currency: &str) -> bool {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if CURRENCY_FIELDS.contains(&key.as_str()) && field.is_string() {
                    if field.as_str() != Some(currency) {
                        *field = Value::String(currency.to_owned());
                        changed = true;
                    }
                } else {
                    changed |= set_currency(field, currency);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= set_currency(item, currency);
            }
        }
        _ => {}
    }
    changed
}

/// Every array of objects with a period start becomes consecutive monthly periods.
fn periods(value: &mut Value) -> bool {
    let mut changed = false;
    match value {
        Value::Array(items) => {
            if items.iter().any(|i| {
                i.as_object()
                    .is_some_and(|m| field(m, START_FIELDS).is_some())
            }) {
                changed |= monthly(items);
            }
            for item in items {
                changed |= periods(item);
            }
        }
        Value::Object(map) => {
            for field in map.values_mut() {
                changed |= periods(field);
            }
        }
        _ => {}
    }
    changed
}

fn field<'m>(map: &'m Map<String, Value>, names: &[&str]) -> Option<(&'m str, &'m str)> {
    names.iter().find_map(|name| {
        map.get_key_value(*name)
            .and_then(|(k, v)| Some((k.as_str(), v.as_str()?)))
    })
}

/// Newest first: the first item's start anchors the list, each next item is a month earlier.
fn monthly(items: &mut [Value]) -> bool {
    let Some(anchor) = items.iter().find_map(|item| {
        let map = item.as_object()?;
        let (_, text) = field(map, START_FIELDS)?;
        Date::parse(text)
    }) else {
        return false;
    };
    // Statements start on one day of the month; keep it valid in every month.
    let day = anchor.day.min(28);
    let mut changed = false;
    for (back, item) in items.iter_mut().enumerate() {
        let Some(map) = item.as_object_mut() else {
            continue;
        };
        let months_back = i64::try_from(back).unwrap_or(i64::MAX);
        let start = Date::from_month_index(anchor.month_index() - months_back, day);
        let end = Date::from_days(Date::from_month_index(start.month_index() + 1, day).days() - 1);
        let due = Date::from_days(end.days() + DUE_AFTER_DAYS);
        for (names, date) in [(START_FIELDS, start), (END_FIELDS, end), (DUE_FIELDS, due)] {
            let Some((key, old)) = field(map, names).map(|(k, v)| (k.to_owned(), v.to_owned()))
            else {
                continue;
            };
            if let Some(shape) = Shape::of(&old) {
                let new = shape.render(date);
                if new != old {
                    map.insert(key, Value::String(new));
                    changed = true;
                }
            }
        }
    }
    changed
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Date {
    year: i64,
    month: i64,
    day: i64,
}

impl Date {
    fn parse(text: &str) -> Option<Date> {
        let shape = Shape::of(text)?;
        let digits = |s: &str| s.parse::<i64>().ok();
        let (year, month, day) = match shape {
            Shape::Us => {
                let mut parts = text.split('/');
                let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
                (digits(y)?, digits(m)?, digits(d)?)
            }
            Shape::Iso | Shape::IsoDateTime(_) => {
                let date = &text[..10];
                (
                    digits(&date[..4])?,
                    digits(&date[5..7])?,
                    digits(&date[8..10])?,
                )
            }
        };
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(Date { year, month, day })
    }

    fn month_index(self) -> i64 {
        self.year * 12 + (self.month - 1)
    }

    fn from_month_index(index: i64, day: i64) -> Date {
        Date {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) + 1,
            day,
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    fn days(self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (self.month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + self.day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`days`](Self::days) (`civil_from_days`).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }
}

/// The shapes of dates rewritten; anything else is left as generated.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// `MM/DD/YYYY`
    Us,
    /// `YYYY-MM-DD`
    Iso,
    /// `YYYY-MM-DDT...`: the time part is kept.
    IsoDateTime(String),
}

impl Shape {
    fn of(text: &str) -> Option<Shape> {
        let b = text.as_bytes();
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let all = |range: std::ops::Range<usize>| range.into_iter().all(digit);
        if b.len() == 10 && b[2] == b'/' && b[5] == b'/' && all(0..2) && all(3..5) && all(6..10) {
            return Some(Shape::Us);
        }
        if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && all(0..4) && all(5..7) && all(8..10) {
            return Some(match b.get(10) {
                None => Shape::Iso,
                Some(b'T') => Shape::IsoDateTime(text[10..].to_owned()),
                Some(_) => return None,
            });
        }
        None
    }

    fn render(&self, date: Date) -> String {
        let Date { year, month, day } = date;
        match self {
            Shape::Us => format!("{month:02}/{day:02}/{year:04}"),
            Shape::Iso => format!("{year:04}-{month:02}-{day:02}"),
            Shape::IsoDateTime(time) => format!("{year:04}-{month:02}-{day:02}{time}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn days_round_trip_over_leap_years() {
        for days in -800_000..800_000i64 {
            if days % 997 != 0 {
                continue;
            }
            assert_eq!(Date::from_days(days).days(), days);
        }
        assert_eq!(
            Date::from_days(
                Date {
                    year: 2024,
                    month: 2,
                    day: 28
                }
                .days()
                    + 1
            ),
            Date {
                year: 2024,
                month: 2,
                day: 29
            }
        );
    }

    #[test]
    fn one_currency_monthly_periods_due_after_the_end() {
        let mut value = json!({"billing": [
            {"periodStart": "09/03/2024", "periodEnd": "11/02/2026", "dueDate": "01/01/2024", "currency": "CAD"},
            {"periodStart": "01/20/2025", "periodEnd": "2025-03-01", "currency": "EUR"},
            {"periodStart": "05/05/2025", "currency": "USD"}
        ]});
        assert!(cohere(&mut value));
        assert_eq!(
            value,
            json!({"billing": [
                {"periodStart": "09/03/2024", "periodEnd": "10/02/2024", "dueDate": "10/23/2024", "currency": "CAD"},
                {"periodStart": "08/03/2024", "periodEnd": "2024-09-02", "currency": "CAD"},
                {"periodStart": "07/03/2024", "currency": "CAD"}
            ]})
        );
        // Already coherent: unchanged.
        assert!(!cohere(&mut value));
    }

    #[test]
    fn unknown_shapes_are_left_alone() {
        let mut value = json!([{"periodStart": "March 3", "dueDate": "soon"}]);
        assert!(!cohere(&mut value));
        assert_eq!(
            Shape::of("2025-01-31T10:00:00Z"),
            Some(Shape::IsoDateTime("T10:00:00Z".into()))
        );
        assert_eq!(Shape::of("13/45/20x5"), None);
    }
}
