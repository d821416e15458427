//! Result structs keep unknown fields in `extra` without serde's `flatten` (the generated
//! `open_struct!` `Deserialize`), and decode exactly as serde's derive with the flattened map
//! did: the same values, the same errors at the same JSON paths and input positions.
//!
//! Two parts: the behaviour points one by one through `decode_result` (what users call), and a
//! differential test against a reference copy of the types as they were generated before
//! (serde's derive, `#[serde(flatten, deserialize_with = "unique_map")] extra`), over every
//! mutation of a sample (each key duplicated, dropped, mistyped; unknown keys once and twice;
//! objects replaced by arrays and scalars), read three ways (with path tracking, plain, and from
//! a `serde_json::Value`).

use passage_generated::types::doordash_order_history_read_result::OrderFulfillment;
use passage_generated::{decode_result, doordash, DecodeError, OperationResult};
use serde::Serialize;
use serde_json::{json, Map, Value};

fn doordash(text: &str) -> Result<doordash::OrderHistoryReadResult, Box<DecodeError>> {
    match decode_result("doordash", "orderHistory", "read", text.as_bytes()).map_err(Box::new)? {
        OperationResult::DoordashOrderHistoryRead(result) => Ok(*result),
        other => panic!("decoded as another operation: {other:?}"),
    }
}

fn error(text: &str) -> (String, String) {
    let err = doordash(text).expect_err("must not decode");
    (err.path, err.message)
}

fn pair(path: &str, message: &str) -> (String, String) {
    (path.to_owned(), message.to_owned())
}

const ORDER: &str = r#"{"id":"3f1c2e4a-9b7d-4c1e-8a2f-6d5b4c3a2e1f","store":"Joe's","placedAt":"2025-01-15T12:00:00Z","total":12.5,"items":[{"name":"Soup","price":12.5}],"fulfillment":{"kind":"pickup","readyAt":"2025-01-15T12:30:00Z"}}"#;

#[test]
fn a_declared_field_sent_twice_is_refused() {
    assert_eq!(
        error(r#"{"orderCount":1,"orders":[],"orderCount":2}"#),
        pair("$", "duplicate field `orderCount` at line 1 column 40")
    );
    // Nested: at once, before the rest of the object is read.
    let text = format!(
        r#"{{"orderCount":1,"orders":[{}]}}"#,
        ORDER.replace(
            r#""price":12.5}"#,
            r#""price":12.5,"name":"Tea","price":"x"}"#
        )
    );
    assert_eq!(
        error(&text),
        pair(
            "orders[0].items[0]",
            "duplicate field `name` at line 1 column 177"
        )
    );
}

#[test]
fn an_unknown_key_sent_twice_is_refused_once_the_object_is_read() {
    assert_eq!(
        error(r#"{"orderCount":1,"x":1,"orders":[],"x":[2]}"#),
        pair("$", "duplicate field `x` at line 1 column 42")
    );
    // The values after the duplicate are still read: an error there comes first ...
    assert_eq!(
        error(r#"{"x":1,"x":2,"orderCount":"1","orders":[]}"#),
        pair(
            "orderCount",
            "invalid type: string \"1\", expected an integer (i64) at line 1 column 29"
        )
    );
    // ... and so does a missing field.
    assert_eq!(
        error(r#"{"x":1,"x":2,"orders":[]}"#),
        pair("$", "missing field `orderCount` at line 1 column 25")
    );
}

#[test]
fn a_missing_field_is_named_and_an_absent_option_is_none() {
    assert_eq!(
        error(r#"{"orders":[]}"#),
        pair("$", "missing field `orderCount` at line 1 column 13")
    );
    let text = format!(
        r#"{{"orderCount":1,"orders":[{}]}}"#,
        ORDER.replace(
            r#"{"name":"Soup","price":12.5}"#,
            r#"{"modifiers":[{"price":1}],"name":"Soup","price":12.5}"#
        )
    );
    assert_eq!(
        error(&text),
        pair(
            "orders[0].items[0].modifiers[0]",
            "missing field `name` at line 1 column 168"
        )
    );
    // A required nullable field (read with `deserialize_with`) is missing, not `None`; inside
    // a union variant the path goes on inside the variant.
    let text = format!(
        r#"{{"orderCount":1,"orders":[{}]}}"#,
        ORDER.replace(
            r#"{"kind":"pickup","readyAt":"2025-01-15T12:30:00Z"}"#,
            r#"{"kind":"delivery","address":"1 Main St"}"#
        )
    );
    assert_eq!(
        error(&text),
        pair(
            "orders[0].fulfillment",
            "missing field `deliveredAt` at line 1 column 229"
        )
    );

    let decoded = doordash(&format!(r#"{{"orderCount":1.0,"orders":[{ORDER}]}}"#)).unwrap();
    assert_eq!(decoded.order_count, 1);
    let order = &decoded.orders[0];
    assert_eq!(order.courier_note, None);
    assert_eq!(order.fees, None);
    assert_eq!(order.items[0].modifiers, None);
    assert_eq!(order.items[0].quantity, None);
    let with_null = doordash(&format!(
        r#"{{"orderCount":1,"orders":[{}]}}"#,
        ORDER.replace(r#""total":12.5"#, r#""total":12.5,"courierNote":null"#)
    ))
    .unwrap();
    assert_eq!(with_null.orders[0].courier_note, Some(None));
}

#[test]
fn unknown_fields_are_kept_as_sent() {
    let text = format!(
        r#"{{"zeta":1,"orderCount":1,"alpha":{{"b":[1,2.5,"x"]}},"orders":[{}],"mid":null}}"#,
        ORDER.replace(
            r#""readyAt":"2025-01-15T12:30:00Z"}"#,
            r#""readyAt":"2025-01-15T12:30:00Z","bay":7}"#
        )
    );
    let decoded = doordash(&text).unwrap();
    // In the order of the map type, as inserted in the order sent.
    let mut expected = Map::new();
    expected.insert("zeta".into(), json!(1));
    expected.insert("alpha".into(), json!({"b": [1, 2.5, "x"]}));
    expected.insert("mid".into(), Value::Null);
    assert_eq!(decoded.extra, expected);
    assert_eq!(
        decoded.extra.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    match &decoded.orders[0].fulfillment {
        OrderFulfillment::Pickup { extra, .. } => assert_eq!(extra["bay"], json!(7)),
        other => panic!("{other:?}"),
    }
    // Written back: declared fields, then the unknown ones.
    let written = serde_json::to_string(&decoded).unwrap();
    assert!(
        written.starts_with(r#"{"orderCount":1,"orders":[{"#),
        "{written}"
    );
    let unknown = serde_json::to_string(&decoded.extra).unwrap();
    assert!(
        written.ends_with(&format!("}}],{}", &unknown[1..])),
        "{written}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&written).unwrap(),
        serde_json::from_str::<Value>(&text).unwrap()
    );
}

#[test]
fn an_error_inside_a_nested_struct_names_its_path() {
    let text = format!(
        r#"{{"orderCount":1,"orders":[{ORDER},{}]}}"#,
        ORDER.replace(r#""price":12.5}"#, r#""price":"12.5"}"#)
    );
    assert_eq!(
        error(&text),
        pair(
            "orders[1].items[0].price",
            "invalid type: string \"12.5\", expected f64 at line 1 column 385"
        )
    );
    // Only objects: a flattened struct never took the array form.
    assert_eq!(
        error(r#"{"orderCount":1,"orders":[["x"]]}"#),
        pair(
            "orders[0]",
            "invalid type: sequence, expected struct Order at line 1 column 26"
        )
    );
    assert_eq!(
        error(r#"[1,[]]"#),
        pair(
            "$",
            "invalid type: sequence, expected struct OrderHistoryReadResult at line 1 column 0"
        )
    );
}

// --- the differential test ----------------------------------------------------------------------

/// The types as serde's derive read them before (`extra` flattened).
#[path = "support/flatten_reference.rs"]
mod old;

/// JSON that can say a key twice.
#[derive(Clone)]
enum Json {
    Scalar(Value),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn from_value(value: &Value) -> Json {
        match value {
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Json::from_value(v)))
                    .collect(),
            ),
            other => Json::Scalar(other.clone()),
        }
    }

    fn render(&self, out: &mut String) {
        match self {
            Json::Scalar(value) => out.push_str(&value.to_string()),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    value.render(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }

    /// Paths (as indexes) of every object that is a struct (not under `fulfillment`, a union,
    /// or `fees`, a plain map).
    fn struct_paths(&self, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        match self {
            Json::Object(fields) => {
                out.push(at.clone());
                for (i, (key, value)) in fields.iter().enumerate() {
                    if key != "fulfillment" && key != "fees" {
                        at.push(i);
                        value.struct_paths(at, out);
                        at.pop();
                    }
                }
            }
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    at.push(i);
                    item.struct_paths(at, out);
                    at.pop();
                }
            }
            Json::Scalar(_) => {}
        }
    }

    fn at_mut(&mut self, path: &[usize]) -> &mut Json {
        match (path.split_first(), self) {
            (None, this) => this,
            (Some((&i, rest)), Json::Object(fields)) => fields[i].1.at_mut(rest),
            (Some((&i, rest)), Json::Array(items)) => items[i].at_mut(rest),
            (Some(_), Json::Scalar(_)) => unreachable!("paths come from struct_paths"),
        }
    }
}

/// The fields of one object, to edit.
type Fields = Vec<(String, Json)>;

/// Every mutation of `sample`'s struct objects.
fn mutations(sample: &Json) -> Vec<String> {
    let mut paths = Vec::new();
    sample.struct_paths(&mut Vec::new(), &mut paths);
    let mut out = vec![sample.text()];
    let odd_values = [
        json!(null),
        json!("s"),
        json!(-1.5),
        json!(2.0),
        json!([]),
        json!({}),
    ];
    for path in &paths {
        let mut edit = |change: &dyn Fn(&mut Fields)| {
            let mut copy = sample.clone();
            if let Json::Object(fields) = copy.at_mut(path) {
                change(fields);
            }
            out.push(copy.text());
        };
        let Json::Object(fields) = sample.clone().at_mut(path).clone() else {
            unreachable!()
        };
        for i in 0..fields.len() {
            let (key, value) = fields[i].clone();
            edit(&|f| {
                f.remove(i);
            });
            edit(&|f| f.push((key.clone(), value.clone())));
            edit(&|f| f.insert(0, (key.clone(), Json::Scalar(json!(null)))));
            for odd in &odd_values {
                edit(&|f| f[i].1 = Json::Scalar(odd.clone()));
            }
        }
        edit(&|f| f.push(("new".into(), Json::Scalar(json!({"a": 1})))));
        edit(&|f| {
            f.insert(0, ("new".into(), Json::Scalar(json!(1))));
            f.push(("new".into(), Json::Scalar(json!(2))));
        });
        edit(&|f| {
            f.insert(0, ("new".into(), Json::Scalar(json!(1))));
            f.push(("new".into(), Json::Scalar(json!(2))));
            f.remove(1);
        });
        for replacement in [
            json!([]),
            json!(["x", 1]),
            json!(null),
            json!("x"),
            json!(3),
        ] {
            let mut copy = sample.clone();
            *copy.at_mut(path) = Json::Scalar(replacement);
            out.push(copy.text());
        }
    }
    out
}

/// The outcome of one way of reading: the value written back as JSON, or path and message.
fn outcome<T: serde::de::DeserializeOwned + Serialize>(text: &str) -> [Result<Value, String>; 3] {
    let tracked = {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize::<_, T>(&mut de)
            .map_err(|e| format!("{} | {}", e.path(), e.inner()))
            .and_then(|v| de.end().map(|()| v).map_err(|e| e.to_string()))
            .map(|v| serde_json::to_value(v).unwrap())
    };
    let plain = serde_json::from_str::<T>(text)
        .map(|v| serde_json::to_value(v).unwrap())
        .map_err(|e| e.to_string());
    let from_value = match serde_json::from_str::<Value>(text) {
        Ok(value) => serde_json::from_value::<T>(value)
            .map(|v| serde_json::to_value(v).unwrap())
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("not a Value: {e}")),
    };
    [tracked, plain, from_value]
}

#[test]
fn every_mutation_decodes_as_serde_derive_with_a_flattened_map_did() {
    let sample = json!({
        "orderCount": 2,
        "orders": [
            {
                "id": "3f1c2e4a-9b7d-4c1e-8a2f-6d5b4c3a2e1f",
                "store": "Joe's",
                "placedAt": "2025-01-15T12:00:00Z",
                "total": 12.5,
                "courierNote": "ring",
                "fees": {"service": 1.5},
                "items": [
                    {"name": "Soup", "price": 12.5, "quantity": 2,
                     "modifiers": [{"name": "Bread", "price": 0.0, "extraNote": "warm"}]}
                ],
                "fulfillment": {"kind": "pickup", "readyAt": "2025-01-15T12:30:00Z"},
                "tip": 2
            }
        ],
        "nextPage": null
    });
    let cases = mutations(&Json::from_value(&sample));
    let mut oks = 0;
    let mut errs = 0;
    for text in &cases {
        let new = outcome::<doordash::OrderHistoryReadResult>(text);
        let old = outcome::<old::OrderHistoryReadResult>(text);
        assert_eq!(new, old, "decoding {text}");
        oks += new.iter().filter(|o| o.is_ok()).count();
        errs += new.iter().filter(|o| o.is_err()).count();
    }
    // Exact counts: a change in the mutations (or in which of them decode) shows up here.
    assert_eq!(cases.len(), 204);
    assert_eq!((oks, errs), (202, 410));
}
