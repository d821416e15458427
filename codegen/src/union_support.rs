// The items of the generated crate's `__private` module that union `Deserialize` impls use
// (`unions.rs` emits the impls): buffering with duplicate keys refused, reading the tag,
// decoding a variant or an adjacently tagged content with the path inside it, and the kind
// check that decides what `Unknown` may keep. Emitted verbatim (as tokens: these `//` lines are
// dropped) by `unions::support`, and compiled into this crate's tests as `crate::__private`.
// Not a module of this crate: it is `include!`d.

const INNER_PATH_PREFIX: &str = "at `";
const INNER_PATH_SUFFIX: &str = "`: ";

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
    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
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
                Ok(StrictValue(::serde_json::Number::from_f64(v).map_or(::serde_json::Value::Null, ::serde_json::Value::Number)))
            }
            fn visit_str<E>(self, v: &str) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: ::std::string::String) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::String(v)))
            }
            fn visit_unit<E>(self) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::Null))
            }
            fn visit_none<E>(self) -> ::std::result::Result<StrictValue, E> {
                Ok(StrictValue(::serde_json::Value::Null))
            }
            fn visit_some<D: ::serde::Deserializer<'de>>(self, d: D) -> ::std::result::Result<StrictValue, D::Error> {
                ::serde::Deserialize::deserialize(d)
            }
            fn visit_seq<A: ::serde::de::SeqAccess<'de>>(self, mut seq: A) -> ::std::result::Result<StrictValue, A::Error> {
                let mut items = ::std::vec::Vec::new();
                while let Some(StrictValue(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(StrictValue(::serde_json::Value::Array(items)))
            }
            fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> ::std::result::Result<StrictValue, A::Error> {
                let mut object = ::serde_json::Map::new();
                while let Some(key) = map.next_key::<::std::string::String>()? {
                    if object.contains_key(&key) {
                        return Err(<A::Error as ::serde::de::Error>::custom(::std::format_args!("duplicate key `{key}`")));
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
            None => Err(E::custom(::std::format_args!("{union}: missing tag property `{property}`"))),
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
            E::custom(::std::format_args!("{INNER_PATH_PREFIX}{path}{INNER_PATH_SUFFIX}{inner}"))
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
        Err(E::custom(::std::format_args!("{union}: expected {expected}, found {}", kind_name(&value))))
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
        return Err(E::custom(::std::format_args!("{union}: missing field `{content}`")));
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
        E::custom(::std::format_args!("{INNER_PATH_PREFIX}{path}{INNER_PATH_SUFFIX}{inner}"))
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
