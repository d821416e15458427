//! What the generated unions' `Deserialize` impls call: buffering with duplicate keys refused,
//! reading the tag, decoding a variant or an adjacently tagged content with the path inside it
//! (``at `path`: message``, which [`decode`](crate::decode) splices onto the outer path), and
//! the kind check that decides what a union's `Unknown` may keep.

use crate::decode::{INNER_PATH_PREFIX, INNER_PATH_SUFFIX};

/// The JSON kinds, as bits: null 1, boolean 2, number 4, string 8, array 16, object 32.
fn kind_bit(value: &::serde_json::Value) -> u8 {
    match value {
        ::serde_json::Value::Null => 1,
        ::serde_json::Value::Bool(_) => 2,
        ::serde_json::Value::Number(_) => 4,
        ::serde_json::Value::String(_) => 8,
        ::serde_json::Value::Array(_) => 16,
        ::serde_json::Value::Object(_) => 32,
    }
}

fn kind_name(value: &::serde_json::Value) -> &'static str {
    match value {
        ::serde_json::Value::Null => "null",
        ::serde_json::Value::Bool(_) => "a boolean",
        ::serde_json::Value::Number(_) => "a number",
        ::serde_json::Value::String(_) => "a string",
        ::serde_json::Value::Array(_) => "an array",
        ::serde_json::Value::Object(_) => "an object",
    }
}

/// Buffers a union's value, refusing duplicate object keys anywhere inside it.
pub fn buffer_strict<'de, D: ::serde::Deserializer<'de>>(
    deserializer: D,
) -> ::std::result::Result<::serde_json::Value, D::Error> {
    ::serde::Deserialize::deserialize(deserializer).map(|StrictValue(value)| value)
}

/// A JSON value whose objects have no duplicate keys.
struct StrictValue(::serde_json::Value);

impl<'de> ::serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: ::serde::Deserializer<'de>>(
        deserializer: D,
    ) -> ::std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> ::serde::de::Visitor<'de> for Visitor {
            type Value = StrictValue;
            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Number::from_f64(v).map_or(
                    ::serde_json::Value::Null,
                    ::serde_json::Value::Number,
                )))
            }
            fn visit_str<E>(self, v: &str) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::String(v.to_owned())))
            }
            fn visit_string<E>(
                self,
                v: ::std::string::String,
            ) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::String(v)))
            }
            fn visit_unit<E>(self) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::Null))
            }
            fn visit_none<E>(self) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::Null))
            }
            fn visit_some<D: ::serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> ::std::result::Result<StrictValue, D::Error> {
                ::serde::Deserialize::deserialize(d)
            }
            fn visit_seq<A: ::serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> ::std::result::Result<StrictValue, A::Error> {
                let mut items = ::std::vec::Vec::new();
                while let Some(StrictValue(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(StrictValue(::serde_json::Value::Array(items)))
            }
            fn visit_map<A: ::serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> ::std::result::Result<StrictValue, A::Error> {
                let mut object = ::serde_json::Map::new();
                while let Some(key) = map.next_key::<::std::string::String>()? {
                    if object.contains_key(&key) {
                        return Err(<A::Error as ::serde::de::Error>::custom(
                            ::std::format_args!("duplicate key `{key}`"),
                        ));
                    }
                    let StrictValue(value) = map.next_value()?;
                    object.insert(key, value);
                }
                Ok(StrictValue(::serde_json::Value::Object(object)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The string value of a tagged union's tag property.
pub fn union_tag<E: ::serde::de::Error>(
    value: &::serde_json::Value,
    union: &str,
    property: &str,
) -> ::std::result::Result<::std::string::String, E> {
    match value {
        ::serde_json::Value::Object(object) => match object.get(property) {
            Some(::serde_json::Value::String(tag)) => Ok(tag.clone()),
            Some(other) => Err(E::custom(::std::format_args!(
                "at `{property}`: {union}: the tag must be a string, found {}",
                kind_name(other)
            ))),
            None => Err(E::custom(::std::format_args!(
                "{union}: missing tag property `{property}`"
            ))),
        },
        other => Err(E::custom(::std::format_args!(
            "{union}: expected an object with a `{property}` tag, found {}",
            kind_name(other)
        ))),
    }
}

/// Decodes a union variant whose tag matched; errors keep the path inside it.
pub fn decode_variant<T: ::serde::de::DeserializeOwned, E: ::serde::de::Error>(
    mut value: ::serde_json::Value,
    strip_tag: ::std::option::Option<&str>,
) -> ::std::result::Result<T, E> {
    if let (Some(tag), ::serde_json::Value::Object(object)) = (strip_tag, &mut value) {
        object.remove(tag);
    }
    // The plain decode first; the path is tracked only to describe a failure (the
    // same decode again), as `decode_result` does.
    if let ::std::result::Result::Ok(decoded) = <T as ::serde::Deserialize>::deserialize(&value) {
        return ::std::result::Result::Ok(decoded);
    }
    ::serde_path_to_error::deserialize(&value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path.is_empty() || path == "." {
            E::custom(inner)
        } else {
            E::custom(::std::format_args!(
                "{INNER_PATH_PREFIX}{path}{INNER_PATH_SUFFIX}{inner}"
            ))
        }
    })
}

/// Tries one variant of an untagged union.
pub fn try_variant<T: ::serde::de::DeserializeOwned>(
    value: &::serde_json::Value,
) -> ::std::result::Result<T, ::serde_json::Error> {
    ::serde::Deserialize::deserialize(value)
}

/// A value no variant of an untagged union accepted: kept when one of its variants
/// has the value's JSON kind (a newer schema could produce it), else an error.
pub fn unknown_of_kind<E: ::serde::de::Error>(
    value: ::serde_json::Value,
    kinds: u8,
    union: &str,
    expected: &str,
) -> ::std::result::Result<::serde_json::Value, E> {
    if kinds & kind_bit(&value) != 0 {
        Ok(value)
    } else {
        Err(E::custom(::std::format_args!(
            "{union}: expected {expected}, found {}",
            kind_name(&value)
        )))
    }
}

/// Decodes the content of an adjacently tagged union's variant (`{"kind": "text", "value":
/// ..}`): the value of its `content` property, which must be there; errors keep the path inside
/// it, from the content property on.
pub fn decode_content<T: ::serde::de::DeserializeOwned, E: ::serde::de::Error>(
    value: &::serde_json::Value,
    union: &str,
    content: &str,
) -> ::std::result::Result<T, E> {
    let Some(inner) = value.as_object().and_then(|object| object.get(content)) else {
        return Err(E::custom(::std::format_args!(
            "{union}: missing field `{content}`"
        )));
    };
    if let ::std::result::Result::Ok(decoded) = <T as ::serde::Deserialize>::deserialize(inner) {
        return ::std::result::Result::Ok(decoded);
    }
    ::serde_path_to_error::deserialize(inner).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let path = if path.is_empty() || path == "." {
            content.to_owned()
        } else if path.starts_with('[') {
            ::std::format!("{content}{path}")
        } else {
            ::std::format!("{content}.{path}")
        };
        E::custom(::std::format_args!(
            "{INNER_PATH_PREFIX}{path}{INNER_PATH_SUFFIX}{inner}"
        ))
    })
}

/// The content of an adjacently tagged union's unit variant: absent or `null`, as serde's
/// derive takes it; anything else is an error at the content property.
pub fn unit_content<E: ::serde::de::Error>(
    value: &::serde_json::Value,
    union: &str,
    content: &str,
) -> ::std::result::Result<(), E> {
    match value.as_object().and_then(|object| object.get(content)) {
        None | Some(::serde_json::Value::Null) => Ok(()),
        Some(other) => Err(E::custom(::std::format_args!(
            "{INNER_PATH_PREFIX}{content}{INNER_PATH_SUFFIX}{union}: this variant has no content, found {}",
            kind_name(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        buffer_strict, decode_content, decode_variant, try_variant, union_tag, unit_content,
        unknown_of_kind,
    };
    use serde_json::{json, Value};

    type Error = serde_json::Error;

    fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn adjacent_content_is_read_from_its_property_with_the_path_inside() {
        let value = json!({"kind": "point", "value": {"xs": [1, "a"]}});
        let err = message(decode_content::<
            std::collections::BTreeMap<String, Vec<u8>>,
            Error,
        >(&value, "Shape", "value"));
        assert!(err.starts_with("at `value.xs[1]`: "), "{err}");
        let ok: String =
            decode_content::<_, Error>(&json!({"value": "hi"}), "Shape", "value").unwrap();
        assert_eq!(ok, "hi");
        let err = message(decode_content::<String, Error>(
            &json!({"kind": "text"}),
            "Shape",
            "value",
        ));
        assert_eq!(err, "Shape: missing field `value`");
    }

    #[test]
    fn a_unit_variant_takes_its_content_absent_or_null_only() {
        assert!(unit_content::<Error>(&json!({"kind": "none"}), "Shape", "value").is_ok());
        assert!(
            unit_content::<Error>(&json!({"kind": "none", "value": null}), "Shape", "value")
                .is_ok()
        );
        let err = message(unit_content::<Error>(
            &json!({"value": 3}),
            "Shape",
            "value",
        ));
        assert!(
            err.starts_with("at `value`: Shape: this variant has no content, found a number"),
            "{err}"
        );
    }

    #[test]
    fn the_tag_must_be_a_string_property_of_an_object() {
        assert_eq!(
            union_tag::<Error>(&json!({"kind": "a"}), "U", "kind").unwrap(),
            "a"
        );
        assert!(
            message(union_tag::<Error>(&json!({"kind": 1}), "U", "kind"))
                .contains("must be a string")
        );
        assert!(
            message(union_tag::<Error>(&json!({}), "U", "kind")).contains("missing tag property")
        );
        assert!(message(union_tag::<Error>(&json!([]), "U", "kind")).contains("found an array"));
    }

    #[test]
    fn buffering_refuses_duplicate_keys_at_any_depth() {
        let mut de = serde_json::Deserializer::from_str(r#"{"a": {"b": 1, "b": 2}}"#);
        assert!(buffer_strict(&mut de).is_err());
        let mut de = serde_json::Deserializer::from_str(r#"{"a": {"b": 1}}"#);
        assert_eq!(buffer_strict(&mut de).unwrap(), json!({"a": {"b": 1}}));
    }

    #[test]
    fn variants_and_unknown_values() {
        let decoded: Vec<u8> = decode_variant::<_, Error>(json!([1, 2]), None).unwrap();
        assert_eq!(decoded, [1, 2]);
        let err = message(decode_variant::<Vec<u8>, Error>(json!([1, "x"]), None));
        assert!(err.starts_with("at `[1]`: "), "{err}");
        assert!(try_variant::<u8>(&json!("x")).is_err());
        // Kinds as bits: 32 is object.
        assert!(unknown_of_kind::<Error>(json!({}), 32, "U", "object").is_ok());
        let err = message(unknown_of_kind::<Error>(json!(1), 32, "U", "object"));
        assert_eq!(err, "U: expected object, found a number");
        let _: Value = unknown_of_kind::<Error>(json!({}), 32, "U", "object").unwrap();
    }
}
