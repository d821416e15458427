//! A small validator for the keywords the generator supports, used to keep `oneOf` values in
//! exactly one branch, to filter `enum` values and `default`s, and to re-check `allOf` merges.
//!
//! It is deliberately lenient where it cannot decide (unknown keywords, unknown formats,
//! recursion past its depth limit count as satisfied); the test suite validates real output with
//! the `jsonschema` crate.

use serde_json::{Map, Value};

use crate::generator::Generator;
use crate::json_eq;
use crate::{numeric, text};

/// Recursion limit of the validator (through `$ref`, combinators and nested values).
const CHECK_DEPTH: usize = 48;

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value
                    .as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => true,
    }
}

impl Generator<'_> {
    /// Whether `value` satisfies `schema` (leniently, see the module docs).
    pub(crate) fn check(&mut self, schema: &Value, value: &Value) -> bool {
        self.check_at(schema, value, 0)
    }

    /// Whether `value` satisfies the schema object `map`, ignoring the keywords in `skip`.
    pub(crate) fn check_map(
        &mut self,
        map: &Map<String, Value>,
        value: &Value,
        skip: &[&str],
    ) -> bool {
        self.check_object_schema(map, value, 0, skip)
    }

    fn check_at(&mut self, schema: &Value, value: &Value, depth: usize) -> bool {
        match schema {
            Value::Bool(b) => *b,
            Value::Object(map) => self.check_object_schema(map, value, depth, &[]),
            _ => true,
        }
    }

    fn check_object_schema(
        &mut self,
        map: &Map<String, Value>,
        value: &Value,
        depth: usize,
        skip: &[&str],
    ) -> bool {
        if depth > CHECK_DEPTH {
            return true;
        }
        let depth = depth + 1;
        let get = |key: &str| {
            if skip.contains(&key) {
                None
            } else {
                map.get(key)
            }
        };
        if let Some(reference) = get("$ref").and_then(Value::as_str) {
            match self.resolve(reference, "") {
                Ok((target, _)) => {
                    if !self.check_at(target, value, depth) {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        match get("type") {
            Some(Value::String(name)) if !type_matches(name, value) => return false,
            Some(Value::Array(names))
                if !names
                    .iter()
                    .any(|n| n.as_str().is_some_and(|n| type_matches(n, value))) =>
            {
                return false
            }
            _ => {}
        }
        if let Some(Value::Array(values)) = get("enum") {
            if !values.iter().any(|v| json_eq(v, value)) {
                return false;
            }
        }
        if let Some(constant) = get("const") {
            if !json_eq(constant, value) {
                return false;
            }
        }
        if let Some(Value::Array(branches)) = get("allOf") {
            if !branches.iter().all(|b| self.check_at(b, value, depth)) {
                return false;
            }
        }
        if let Some(Value::Array(branches)) = get("anyOf") {
            if !branches.iter().any(|b| self.check_at(b, value, depth)) {
                return false;
            }
        }
        if let Some(Value::Array(branches)) = get("oneOf") {
            let matching = branches
                .iter()
                .filter(|b| self.check_at(b, value, depth))
                .count();
            if matching != 1 {
                return false;
            }
        }
        if let Some(not) = get("not") {
            if self.check_at(not, value, depth) {
                return false;
            }
        }
        match value {
            Value::Number(_) => numeric::check_bounds(map, value, skip),
            Value::String(s) => self.check_string(map, s, skip),
            Value::Array(items) => self.check_array(map, items, depth, skip),
            Value::Object(object) => self.check_object(map, object, depth, skip),
            _ => true,
        }
    }

    fn check_string(&mut self, map: &Map<String, Value>, s: &str, skip: &[&str]) -> bool {
        let len = s.chars().count();
        let get = |key: &str| {
            if skip.contains(&key) {
                None
            } else {
                map.get(key)
            }
        };
        if get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|min| (len as u64) < min)
        {
            return false;
        }
        if get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|max| (len as u64) > max)
        {
            return false;
        }
        if let Some(pattern) = get("pattern").and_then(Value::as_str) {
            if let Some(regex) = self.patterns.verifier(pattern) {
                if !regex.is_match(s) {
                    return false;
                }
            }
        }
        if let Some(format) = get("format").and_then(Value::as_str) {
            if text::format_ok(format, s) == Some(false) {
                return false;
            }
        }
        true
    }

    fn check_array(
        &mut self,
        map: &Map<String, Value>,
        items: &[Value],
        depth: usize,
        skip: &[&str],
    ) -> bool {
        let get = |key: &str| {
            if skip.contains(&key) {
                None
            } else {
                map.get(key)
            }
        };
        if get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|min| (items.len() as u64) < min)
        {
            return false;
        }
        if get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|max| (items.len() as u64) > max)
        {
            return false;
        }
        let (prefix, rest): (&[Value], Option<&Value>) = match (get("prefixItems"), get("items")) {
            (Some(Value::Array(prefix)), items) => (prefix, items),
            (None, Some(Value::Array(prefix))) => (prefix, get("additionalItems")),
            (_, items) => (&[], items),
        };
        for (index, item) in items.iter().enumerate() {
            let schema = match prefix.get(index) {
                Some(schema) => Some(schema),
                None => rest,
            };
            if let Some(schema) = schema {
                if !self.check_at(schema, item, depth) {
                    return false;
                }
            }
        }
        if get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, a) in items.iter().enumerate() {
                if items[i + 1..].iter().any(|b| json_eq(a, b)) {
                    return false;
                }
            }
        }
        true
    }

    fn check_object(
        &mut self,
        map: &Map<String, Value>,
        object: &Map<String, Value>,
        depth: usize,
        skip: &[&str],
    ) -> bool {
        let get = |key: &str| {
            if skip.contains(&key) {
                None
            } else {
                map.get(key)
            }
        };
        if let Some(Value::Array(required)) = get("required") {
            if !required
                .iter()
                .all(|name| name.as_str().is_some_and(|n| object.contains_key(n)))
            {
                return false;
            }
        }
        if get("minProperties")
            .and_then(Value::as_u64)
            .is_some_and(|min| (object.len() as u64) < min)
        {
            return false;
        }
        if get("maxProperties")
            .and_then(Value::as_u64)
            .is_some_and(|max| (object.len() as u64) > max)
        {
            return false;
        }
        let properties = get("properties").and_then(Value::as_object);
        let additional = get("additionalProperties");
        for (name, item) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(schema) => {
                    if !self.check_at(schema, item, depth) {
                        return false;
                    }
                }
                None => {
                    if let Some(schema) = additional {
                        if !self.check_at(schema, item, depth) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::SampleOptions;

    #[test]
    fn checks_the_supported_keywords() {
        let root = json!({"$defs": {"Tag": {"const": "a"}}, "oneOf": [
            {"type": "object", "properties": {"t": {"$ref": "#/$defs/Tag"}}, "required": ["t"], "additionalProperties": false},
            {"type": "integer", "minimum": 3}]});
        let options = SampleOptions::default();
        let mut generator = Generator::new(&root, 0, &options);
        assert!(generator.check(&root, &json!({"t": "a"})));
        assert!(generator.check(&root, &json!(3)));
        assert!(generator.check(&root, &json!(3.0)));
        assert!(!generator.check(&root, &json!(2)));
        assert!(!generator.check(&root, &json!({"t": "b"})));
        assert!(!generator.check(&root, &json!({"t": "a", "x": 1})));
        let strings =
            json!({"type": "string", "pattern": "^\\d+$", "format": "date", "maxLength": 10});
        assert!(
            !generator.check(&strings, &json!("2024-01-01")),
            "a date is not all digits"
        );
        let digits = json!({"type": "string", "pattern": "^\\d+$"});
        assert!(generator.check(&digits, &json!("123")));
        assert!(
            !generator.check(&digits, &json!("١٢٣")),
            "\\d is ASCII-only as in ECMA-262"
        );
    }
}
