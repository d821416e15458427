// The items of the generated crate's `__private` module that `open_struct!` invocations use.
// Emitted verbatim (as tokens: these `//` lines are dropped) by `open_structs::support`, and
// compiled into this crate's tests as `crate::__private`, where every field mode is exercised.
// Not a module of this crate: it is `include!`d.

/// `Deserialize` for a struct that keeps unknown fields in a map, without serde's
/// `flatten` (which buffers every object): known names are matched as they come, the
/// rest collected. Behaves as serde's derive with a flattened map: objects only,
/// duplicates refused (an unknown key once the object is read), missing fields named,
/// errors at the same place. Input: `Name, extra_field; field = "wire" [mode], ...`;
/// modes `[]`, `[default]`, `[default = path]`, and with serde's `deserialize_with`
/// (the field's type then given: `field: Type = "wire" [with = path]`) `[with = path]`,
/// `[default, with = path]`.
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
        $crate::__private::missing_field::<_, $error>($wire)?
    };
    ($name:ident, $extra:ident; $($field:ident $(: $ty:ty)? = $wire:literal [$($mode:tt)*]),* $(,)?) => {
        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                #[allow(non_camel_case_types)]
                enum __Field { $($field,)* }
                impl $crate::__private::FieldName for __Field {
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
                    fn visit_map<__A: ::serde::de::MapAccess<'de>>(self, mut map: __A) -> ::std::result::Result<$name, __A::Error> {
                        $(let mut $field $(: ::std::option::Option<$ty>)? = ::std::option::Option::None;)*
                        let mut extra = $crate::__private::Extra::default();
                        while let ::std::option::Option::Some(key) = map.next_key_seed($crate::__private::KeySeed::<__Field>::default())? {
                            match key {
                                $($crate::__private::Key::Known(__Field::$field) => {
                                    if $field.is_some() {
                                        return ::std::result::Result::Err(<__A::Error as ::serde::de::Error>::duplicate_field($wire));
                                    }
                                    $field = ::std::option::Option::Some($crate::__private::open_struct!(@read map, [$($ty)?], $($mode)*));
                                })*
                                $crate::__private::Key::Unknown(key) => extra.insert(key, map.next_value()?),
                            }
                        }
                        $(let $field = match $field {
                            ::std::option::Option::Some(value) => value,
                            ::std::option::Option::None => $crate::__private::open_struct!(@missing __A::Error, $wire, $($mode)*),
                        };)*
                        ::std::result::Result::Ok($name { $($field,)* $extra: extra.finish()? })
                    }
                }
                ::serde::Deserializer::deserialize_map(deserializer, __Visitor)
            }
        }
    };
}
pub(crate) use open_struct;

/// The declared fields of an open struct, looked up by wire name.
pub trait FieldName: Sized {
    /// The field named `name`, if declared.
    fn find(name: &str) -> ::std::option::Option<Self>;
}

/// A key of an open struct's object: a declared field, or an unknown name.
pub enum Key<F> {
    /// A declared field.
    Known(F),
    /// A name the schema does not declare.
    Unknown(::std::string::String),
}

/// Reads a key without allocating for declared fields.
pub struct KeySeed<F>(::std::marker::PhantomData<F>);

impl<F> ::std::default::Default for KeySeed<F> {
    fn default() -> Self {
        Self(::std::marker::PhantomData)
    }
}

impl<'de, F: FieldName> ::serde::de::DeserializeSeed<'de> for KeySeed<F> {
    type Value = Key<F>;
    fn deserialize<D: ::serde::Deserializer<'de>>(self, deserializer: D) -> ::std::result::Result<Key<F>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de, F: FieldName> ::serde::de::Visitor<'de> for KeySeed<F> {
    type Value = Key<F>;
    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("field identifier")
    }
    fn visit_str<E: ::serde::de::Error>(self, name: &str) -> ::std::result::Result<Key<F>, E> {
        Ok(F::find(name).map_or_else(|| Key::Unknown(name.to_owned()), Key::Known))
    }
    fn visit_string<E: ::serde::de::Error>(self, name: ::std::string::String) -> ::std::result::Result<Key<F>, E> {
        Ok(match F::find(&name) {
            Some(field) => Key::Known(field),
            None => Key::Unknown(name),
        })
    }
}

/// An open struct's unknown fields as they are read. A key sent twice is remembered and
/// refused by [`Extra::finish`], once the object has been read, where serde's flattened
/// map refused it.
#[derive(Default)]
pub struct Extra {
    fields: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
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
    pub fn finish<E: ::serde::de::Error>(
        self,
    ) -> ::std::result::Result<::serde_json::Map<::std::string::String, ::serde_json::Value>, E> {
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
    fn deserialize_any<V: ::serde::de::Visitor<'de>>(self, _visitor: V) -> ::std::result::Result<V::Value, E> {
        Err(E::missing_field(self.0))
    }
    fn deserialize_option<V: ::serde::de::Visitor<'de>>(self, visitor: V) -> ::std::result::Result<V::Value, E> {
        visitor.visit_none()
    }
    ::serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}
