//! The `deserialize_with` helpers generated fields name: lenient integers, optional nullable
//! fields, and the unknown-fields map refusing duplicate keys.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};

/// An optional field that allows `null`: absent → `None` (by `default`), `null` →
/// `Some(None)`, a value → `Some(Some(value))`.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// An optional field whose type has a value for `null` itself (a schema without `type`, or a
/// union with such a member): absent → `None` (by `default`), any value, `null` too →
/// `Some(value)`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Reads an integer (or an `Option`/`Vec` of them) from any integer-valued JSON number: JSON
/// Schema counts `1.0`, `-0` and `1e2` as integers. `1.5` is refused.
pub fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: LenientInteger,
{
    T::lenient(deserializer)
}

/// Types [`integer`] reads.
pub trait LenientInteger: Sized {
    /// Deserializes leniently.
    fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

macro_rules! lenient_integer {
    ($($ty:ty),*) => {$(
        impl LenientInteger for $ty {
            fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct IntegerVisitor;
                impl<'de> Visitor<'de> for IntegerVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("an integer (", stringify!($ty), ")"))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        <$ty>::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        <$ty>::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        // Integer-valued and inside the type's range (the bounds as f64 round up
                        // by at most one step, hence the `<`).
                        if v.fract() == 0.0 && v >= <$ty>::MIN as f64 && v < <$ty>::MAX as f64 {
                            Ok(v as $ty)
                        } else {
                            Err(E::invalid_type(Unexpected::Float(v), &self))
                        }
                    }
                }
                deserializer.deserialize_any(IntegerVisitor)
            }
        }
    )*};
}
lenient_integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl<T: LenientInteger> LenientInteger for Option<T> {
    fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OptionVisitor<T>(PhantomData<T>);
        impl<'de, T: LenientInteger> Visitor<'de> for OptionVisitor<T> {
            type Value = Option<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or null")
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                T::lenient(d).map(Some)
            }
        }
        deserializer.deserialize_option(OptionVisitor(PhantomData))
    }
}

impl<T: LenientInteger> LenientInteger for Vec<T> {
    fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seed<T>(PhantomData<T>);
        impl<'de, T: LenientInteger> DeserializeSeed<'de> for Seed<T> {
            type Value = T;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
                T::lenient(d)
            }
        }
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: LenientInteger> Visitor<'de> for ListVisitor<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of integers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element_seed(Seed(PhantomData))? {
                    out.push(item);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_seq(ListVisitor(PhantomData))
    }
}

macro_rules! lenient_integer_map {
    ($($map:ident),*) => {$(
        impl<T: LenientInteger> LenientInteger for std::collections::$map<String, T> {
            fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Seed<T>(PhantomData<T>);
                impl<'de, T: LenientInteger> DeserializeSeed<'de> for Seed<T> {
                    type Value = T;
                    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
                        T::lenient(d)
                    }
                }
                struct MapVisitor<T>(PhantomData<T>);
                impl<'de, T: LenientInteger> Visitor<'de> for MapVisitor<T> {
                    type Value = std::collections::$map<String, T>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an object of integers")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        let mut out = std::collections::$map::new();
                        while let Some(key) = map.next_key::<String>()? {
                            let value = map.next_value_seed(Seed(PhantomData))?;
                            if out.contains_key(&key) {
                                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
                            }
                            out.insert(key, value);
                        }
                        Ok(out)
                    }
                }
                deserializer.deserialize_map(MapVisitor(PhantomData))
            }
        }
    )*};
}
lenient_integer_map!(HashMap, BTreeMap);

/// An integer (or a collection of them) read by [`integer`], for positions that take a type
/// rather than a field attribute (a union's variant).
pub struct Integer<T>(pub T);

impl<'de, T: LenientInteger> serde::Deserialize<'de> for Integer<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::lenient(deserializer).map(Integer)
    }
}

/// The unknown fields of an object (a flattened `extra` field), refusing a key sent twice:
/// [`UnknownFields`](crate::UnknownFields)' own `Deserialize`, named for the
/// `deserialize_with` of the structs serde's derive still reads.
pub fn unique_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<crate::UnknownFields, D::Error> {
    serde::Deserialize::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Counts {
        #[serde(deserialize_with = "integer")]
        one: u8,
        #[serde(default, deserialize_with = "integer")]
        maybe: Option<i64>,
        #[serde(default, deserialize_with = "integer")]
        many: Vec<i32>,
    }

    fn counts(text: &str) -> Result<Counts, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn integer_valued_numbers_are_integers() {
        let read = counts(r#"{"one":1.0,"maybe":-0,"many":[1e2,-3]}"#).unwrap();
        assert_eq!(
            read,
            Counts {
                one: 1,
                maybe: Some(0),
                many: vec![100, -3]
            }
        );
        let read = counts(r#"{"one":255,"maybe":null}"#).unwrap();
        assert_eq!((read.maybe, read.many), (None, vec![]));
    }

    #[test]
    fn fractions_strings_and_out_of_range_values_are_refused() {
        let err = counts(r#"{"one":1.5}"#).unwrap_err();
        assert!(
            err.starts_with("invalid type: floating point `1.5`, expected an integer (u8)"),
            "{err}"
        );
        let err = counts(r#"{"one":256}"#).unwrap_err();
        assert!(
            err.starts_with("invalid value: integer `256`, expected an integer (u8)"),
            "{err}"
        );
        let err = counts(r#"{"one":-1}"#).unwrap_err();
        assert!(err.starts_with("invalid value: integer `-1`"), "{err}");
        let err = counts(r#"{"one":"1"}"#).unwrap_err();
        assert!(err.starts_with("invalid type: string \"1\""), "{err}");
        let err = counts(r#"{"one":1,"many":[1,2.5]}"#).unwrap_err();
        assert!(err.contains("floating point `2.5`"), "{err}");
        let err = counts(r#"{"one":1e300}"#).unwrap_err();
        assert!(err.contains("expected an integer (u8)"), "{err}");
    }

    #[test]
    fn maps_of_integers_and_the_integer_wrapper_are_lenient() {
        type Map = std::collections::BTreeMap<String, u32>;
        let Integer(map) = serde_json::from_str::<Integer<Map>>(r#"{"a":1.0,"b":2}"#).unwrap();
        assert_eq!(map, Map::from([("a".into(), 1), ("b".into(), 2)]));
        let err = serde_json::from_str::<Integer<Map>>(r#"{"a":1,"a":2}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("duplicate key `a`"), "{err}");
        let err = serde_json::from_str::<Integer<Map>>(r#"{"a":0.5}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("floating point `0.5`"), "{err}");
        let Integer(n) = serde_json::from_str::<Integer<i64>>("-0").unwrap();
        assert_eq!(n, 0);
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Present {
        #[serde(default, deserialize_with = "present")]
        value: Option<Value>,
    }

    #[test]
    fn a_present_null_is_a_value() {
        let read = |text| serde_json::from_str::<Present>(text).unwrap().value;
        assert_eq!(read("{}"), None);
        assert_eq!(read(r#"{"value":null}"#), Some(Value::Null));
        assert_eq!(read(r#"{"value":3}"#), Some(Value::from(3)));
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "double_option")]
        note: Option<Option<String>>,
    }

    #[test]
    fn an_optional_nullable_field_tells_absent_from_null() {
        let read = |text| serde_json::from_str::<Patch>(text).unwrap().note;
        assert_eq!(read("{}"), None);
        assert_eq!(read(r#"{"note":null}"#), Some(None));
        assert_eq!(read(r#"{"note":"x"}"#), Some(Some("x".into())));
    }

    #[derive(Debug, serde::Deserialize)]
    struct Open {
        #[serde(flatten, deserialize_with = "unique_map")]
        extra: crate::UnknownFields,
    }

    #[test]
    fn the_unknown_fields_map_refuses_a_key_sent_twice() {
        let open: Open = serde_json::from_str(r#"{"a":1,"b":[true]}"#).unwrap();
        assert_eq!(open.extra.len(), 2);
        let err = serde_json::from_str::<Open>(r#"{"a":1,"a":2}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate field `a`"), "{err}");
    }
}
