//! Structs that keep unknown fields in an `extra` map: [`open_struct!`](crate::open_struct!)
//! writes their `Deserialize` without serde's `flatten` (which buffers every object), matching
//! known names as they come and collecting the rest, with the derive's behaviour and errors.

/// `Deserialize` for a struct that keeps unknown fields in a map, without serde's
/// `flatten` (which buffers every object): known names are matched as they come, the
/// rest collected. Behaves as serde's derive with a flattened map: objects only,
/// duplicates refused (an unknown key once the object is read), missing fields named,
/// errors at the same place. Input: `Name, extra_field; field = "wire" [mode], ...`;
/// modes `[]`, `[default]`, `[default = path]`, and with serde's `deserialize_with`
/// (the field's type then given: `field: Type = "wire" [with = path]`) `[with = path]`,
/// `[default, with = path]`.
#[macro_export]
macro_rules! open_struct {
    (@read $map:ident, [$ty:ty], $(default $(= $default:path)?,)? with = $with:path) => {{
        struct __With($ty);
        impl<'de> ::serde::Deserialize<'de> for __With {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                #[allow(unused_imports)]
                use ::serde::Deserialize as _;
                $with(deserializer).map(__With)
            }
        }
        $map.next_value::<__With>()?.0
    }};
    (@read $map:ident, [$($ty:ty)?], $($mode:tt)*) => {
        $map.next_value()?
    };
    (@missing $error:ty, $wire:literal, default = $default:path $(, with = $with:path)?) => {
        $default()
    };
    (@missing $error:ty, $wire:literal, default $(, with = $with:path)?) => {
        ::std::default::Default::default()
    };
    (@missing $error:ty, $wire:literal, with = $with:path) => {
        return ::std::result::Result::Err(<$error as ::serde::de::Error>::missing_field($wire))
    };
    (@missing $error:ty, $wire:literal,) => {
        $crate::missing_field::<_, $error>($wire)?
    };
    ($name:ident, $extra:ident; $($field:ident $(: $ty:ty)? = $wire:literal [$($mode:tt)*]),* $(,)?) => {
        impl<'de> ::serde::Deserialize<'de> for $name {
            // Inlined, as serde's derive gets inlined: a call per object returned each struct
            // through a copy (measured: ~3 % of a 5 MB decode).
            #[inline]
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                #[allow(non_camel_case_types)]
                enum __Field { $($field,)* }
                impl $crate::FieldName for __Field {
                    #[inline]
                    fn find(name: &str) -> ::std::option::Option<Self> {
                        match name {
                            $($wire => ::std::option::Option::Some(Self::$field),)*
                            _ => ::std::option::Option::None,
                        }
                    }
                }
                struct __Visitor;
                impl<'de> ::serde::de::Visitor<'de> for __Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(::std::concat!("struct ", ::std::stringify!($name)))
                    }
                    #[inline]
                    fn visit_map<__A: ::serde::de::MapAccess<'de>>(self, mut map: __A) -> ::std::result::Result<$name, __A::Error> {
                        $(let mut $field $(: ::std::option::Option<$ty>)? = ::std::option::Option::None;)*
                        let mut extra = $crate::Extra::default();
                        let mut unknown = ::std::string::String::new();
                        while let ::std::option::Option::Some(key) = map.next_key_seed($crate::KeySeed::<__Field>::new(&mut unknown))? {
                            match key {
                                $($crate::Key::Known(__Field::$field) => {
                                    if $field.is_some() {
                                        return ::std::result::Result::Err(<__A::Error as ::serde::de::Error>::duplicate_field($wire));
                                    }
                                    $field = ::std::option::Option::Some($crate::open_struct!(@read map, [$($ty)?], $($mode)*));
                                })*
                                $crate::Key::Unknown => extra.insert(::std::mem::take(&mut unknown), map.next_value()?),
                            }
                        }
                        $(let $field = match $field {
                            ::std::option::Option::Some(value) => value,
                            ::std::option::Option::None => $crate::open_struct!(@missing __A::Error, $wire, $($mode)*),
                        };)*
                        ::std::result::Result::Ok($name { $($field,)* $extra: extra.finish()? })
                    }
                }
                ::serde::Deserializer::deserialize_map(deserializer, __Visitor)
            }
        }
    };
}

/// The declared fields of an open struct, looked up by wire name.
pub trait FieldName: Sized {
    /// The field named `name`, if declared.
    fn find(name: &str) -> ::std::option::Option<Self>;
}

/// A key of an open struct's object: a declared field, or a name the schema does not declare
/// (written to the [`KeySeed`]'s slot, so that the key itself stays one byte or two).
pub enum Key<F> {
    /// A declared field.
    Known(F),
    /// A name the schema does not declare: the seed's slot holds it.
    Unknown,
}

/// Reads a key without allocating for declared fields; an unknown name is copied into the slot
/// (reusing its buffer).
pub struct KeySeed<'a, F>(&'a mut ::std::string::String, ::std::marker::PhantomData<F>);

impl<'a, F> KeySeed<'a, F> {
    /// A seed writing an unknown name to `slot`.
    #[inline]
    pub fn new(slot: &'a mut ::std::string::String) -> Self {
        Self(slot, ::std::marker::PhantomData)
    }
}

impl<'de, F: FieldName> ::serde::de::DeserializeSeed<'de> for KeySeed<'_, F> {
    type Value = Key<F>;
    #[inline]
    fn deserialize<D: ::serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> ::std::result::Result<Key<F>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de, F: FieldName> ::serde::de::Visitor<'de> for KeySeed<'_, F> {
    type Value = Key<F>;
    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("field identifier")
    }
    #[inline]
    fn visit_str<E: ::serde::de::Error>(self, name: &str) -> ::std::result::Result<Key<F>, E> {
        Ok(match F::find(name) {
            Some(field) => Key::Known(field),
            None => {
                name.clone_into(self.0);
                Key::Unknown
            }
        })
    }
}

/// An open struct's unknown fields as they are read. A key sent twice is remembered and
/// refused by [`Extra::finish`], once the object has been read, where serde's flattened
/// map refused it. Allocates nothing until an unknown field comes.
#[derive(Default)]
pub struct Extra {
    fields: crate::UnknownFields,
    duplicate: ::std::option::Option<::std::string::String>,
}

impl Extra {
    /// Keeps an unknown field.
    pub fn insert(&mut self, key: ::std::string::String, value: ::serde_json::Value) {
        if self.duplicate.is_some() {
            return;
        }
        if self.fields.contains_key(&key) {
            self.duplicate = Some(key);
        } else {
            self.fields.insert(key, value);
        }
    }

    /// The unknown fields, or the first key sent twice.
    #[inline]
    pub fn finish<E: ::serde::de::Error>(self) -> ::std::result::Result<crate::UnknownFields, E> {
        match self.duplicate {
            Some(key) => Err(E::custom(::std::format_args!("duplicate field `{key}`"))),
            None => Ok(self.fields),
        }
    }
}

/// The value of an absent field that has no default, as serde's derive gives it: `None`
/// for an `Option`, else `missing field `name``.
pub fn missing_field<'de, T: ::serde::Deserialize<'de>, E: ::serde::de::Error>(
    name: &'static str,
) -> ::std::result::Result<T, E> {
    T::deserialize(MissingField(name, ::std::marker::PhantomData))
}

/// A deserializer for an absent field: `None` when an `Option` is asked for, else the
/// missing-field error.
struct MissingField<E>(&'static str, ::std::marker::PhantomData<E>);

impl<'de, E: ::serde::de::Error> ::serde::Deserializer<'de> for MissingField<E> {
    type Error = E;
    fn deserialize_any<V: ::serde::de::Visitor<'de>>(
        self,
        _visitor: V,
    ) -> ::std::result::Result<V::Value, E> {
        Err(E::missing_field(self.0))
    }
    fn deserialize_option<V: ::serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> ::std::result::Result<V::Value, E> {
        visitor.visit_none()
    }
    ::serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {

    use serde::Deserialize as _;

    fn seven() -> u8 {
        7
    }

    fn doubled<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
        u8::deserialize(deserializer).map(|v| v * 2)
    }

    #[derive(Debug, PartialEq)]
    struct Sample {
        plain: String,
        maybe: Option<u8>,
        listed: Vec<u8>,
        fallback: u8,
        needed_with: u8,
        optional_with: u8,
        fallback_with: u8,
        r#type: bool,
        extra: crate::UnknownFields,
    }
    crate::open_struct!(
        Sample, extra; plain = "plain"[], maybe = "maybe"[], listed = "listed"[default],
        fallback = "fallBack"[default = seven], needed_with: u8 = "neededWith"[with = doubled],
        optional_with: u8 = "optionalWith"[default, with = doubled],
        fallback_with: u8 = "fallbackWith"[default = seven, with = doubled], r#type = "type"[]
    );

    /// An object whose properties are all unknown.
    #[derive(Debug, PartialEq)]
    struct OnlyExtra {
        extra: crate::UnknownFields,
    }
    crate::open_struct!(OnlyExtra, extra;);

    #[test]
    fn a_struct_with_no_declared_field_keeps_everything_in_extra() {
        let only = serde_json::from_str::<OnlyExtra>(r#"{"a":1,"b":[true]}"#).unwrap();
        assert_eq!(only.extra.len(), 2);
        assert_eq!(
            serde_json::from_str::<OnlyExtra>(r#"{"a":1,"a":2}"#)
                .unwrap_err()
                .to_string(),
            "duplicate field `a` at line 1 column 13"
        );
    }

    fn sample(text: &str) -> Result<Sample, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// `Sample` as serde's derive reads it with the flattened map the macro replaces.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Derived {
        plain: String,
        maybe: Option<u8>,
        #[serde(default)]
        listed: Vec<u8>,
        #[serde(rename = "fallBack", default = "seven")]
        fallback: u8,
        #[serde(rename = "neededWith", deserialize_with = "doubled")]
        needed_with: u8,
        #[serde(rename = "optionalWith", default, deserialize_with = "doubled")]
        optional_with: u8,
        #[serde(
            rename = "fallbackWith",
            default = "seven",
            deserialize_with = "doubled"
        )]
        fallback_with: u8,
        r#type: bool,
        #[serde(flatten, deserialize_with = "crate::unique_map")]
        extra: crate::UnknownFields,
    }

    /// The macro's and the derive's outcomes for `text` (the value as Debug text, or the error).
    fn both(text: &str) -> (Result<String, String>, Result<String, String>) {
        let ours = sample(text).map(|v| format!("{v:?}").replacen("Sample", "", 1));
        let derived = serde_json::from_str::<Derived>(text)
            .map(|v| format!("{v:?}").replacen("Derived", "", 1))
            .map_err(|e| e.to_string().replace("struct Derived", "struct Sample"));
        (ours, derived)
    }

    #[test]
    fn the_macro_reads_what_serde_derive_read() {
        let inputs = [
            r#"{"plain":"p","maybe":1,"listed":[2],"fallBack":3,"neededWith":4,"optionalWith":5,"fallbackWith":6,"type":true,"z":null,"a":[1]}"#,
            r#"{"plain":"p","neededWith":1,"type":false}"#,
            r#"{"neededWith":1,"type":false}"#,
            r#"{"plain":"p","type":false}"#,
            r#"{"plain":"p","plain":"q"}"#,
            r#"{"x":1,"plain":"p","x":2,"neededWith":1,"type":false}"#,
            r#"{"x":1,"x":2,"neededWith":1,"type":false}"#,
            r#"{"x":1,"x":2,"plain":"p","neededWith":"1","type":false}"#,
            r#"{"plain":"p","neededWith":1,"type":false,"maybe":null,"listed":null}"#,
            r#"{"plain":"p","neededWith":1,"type":false,"optionalWith":null}"#,
            r#"{"plain":"p","neededWith":-1,"type":false}"#,
            r#"{"plain":"p","neededWith":1,"type":false,"x":{"y":1,"y":2}}"#,
            r#"{"plain":"p","neededWith":1,"type":false,"x":1e400}"#,
            r#"{"plain":"p","neededWith":1,"type":false,"x":"\u00e9","\u0078":2}"#,
            r#"{"plain":"p","neededWith":1,"type":false"#,
            r#"["p"]"#,
            r#"[]"#,
            r#"null"#,
            r#""p""#,
            r#"{}"#,
        ];
        for text in inputs {
            let (ours, derived) = both(text);
            assert_eq!(ours, derived, "{text}");
        }
    }

    #[test]
    fn every_field_mode_reads_and_defaults_as_serde_derive() {
        let full = sample(
            r#"{"plain":"p","maybe":1,"listed":[2],"fallBack":3,"neededWith":4,
                "optionalWith":5,"fallbackWith":6,"type":true,"z":null,"a":[1]}"#,
        );
        let mut extra = serde_json::Map::new();
        extra.insert("z".into(), serde_json::Value::Null);
        extra.insert("a".into(), serde_json::json!([1]));
        assert_eq!(
            full,
            Ok(Sample {
                plain: "p".into(),
                maybe: Some(1),
                listed: vec![2],
                fallback: 3,
                needed_with: 8,
                optional_with: 10,
                fallback_with: 12,
                r#type: true,
                extra: extra.into(),
            })
        );
        // Absent: `Option` is `None`, `default` fills in, `default = path` calls it.
        let least = sample(r#"{"plain":"p","neededWith":1,"type":false}"#).unwrap();
        assert_eq!(
            (least.maybe, least.listed, least.fallback),
            (None, vec![], 7)
        );
        assert_eq!(
            (least.needed_with, least.optional_with, least.fallback_with),
            (2, 0, 7)
        );
        assert!(least.extra.is_empty());
    }

    #[test]
    fn errors_are_serde_derives() {
        assert_eq!(
            sample(r#"{"neededWith":1,"type":false}"#),
            Err("missing field `plain` at line 1 column 29".into())
        );
        // Read with `deserialize_with` and no default: missing, even for what could be `None`.
        assert_eq!(
            sample(r#"{"plain":"p","type":false}"#),
            Err("missing field `neededWith` at line 1 column 26".into())
        );
        assert_eq!(
            sample(r#"{"plain":"p","plain":"q"}"#),
            Err("duplicate field `plain` at line 1 column 20".into())
        );
        assert_eq!(
            sample(r#"{"x":1,"plain":"p","x":2,"neededWith":1,"type":false}"#),
            Err("duplicate field `x` at line 1 column 53".into())
        );
        assert_eq!(
            sample(r#"{"x":1,"x":2,"neededWith":1,"type":false}"#),
            Err("missing field `plain` at line 1 column 41".into())
        );
        assert_eq!(
            sample(r#"["p"]"#),
            Err("invalid type: sequence, expected struct Sample at line 1 column 0".into())
        );
        // An error inside a `deserialize_with` function is returned as is.
        assert_eq!(
            sample(r#"{"plain":"p","neededWith":-1,"type":false}"#),
            Err("invalid value: integer `-1`, expected u8 at line 1 column 28".into())
        );
    }
}
