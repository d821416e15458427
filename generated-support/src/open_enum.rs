//! Open string enums: a generated enum lists the schema's values and keeps any other string in
//! a catch-all variant; [`open_enum!`](crate::open_enum!) writes its impls.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};

/// The impls of an open string enum (`Name`, its catch-all variant, and each listed variant
/// with its wire value): `as_str`, `is_known`, `From<&str>`, `From<String>`, `FromStr`
/// (infallible), `Display`, and serde as a plain string.
#[macro_export]
macro_rules! open_enum {
    ($name:ident, $catch_all:ident; $($variant:ident => $value:literal),* $(,)?) => {
        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)*
                    Self::$catch_all(value) => value.as_str(),
                }
            }

            /// Whether the schema lists this value.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::$catch_all(_))
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($value => Self::$variant,)*
                    other => Self::$catch_all(other.to_owned()),
                }
            }
        }

        impl ::std::convert::From<::std::string::String> for $name {
            fn from(value: ::std::string::String) -> Self {
                match value.as_str() {
                    $($value => Self::$variant,)*
                    _ => Self::$catch_all(value),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                ::std::result::Result::Ok(Self::from(value))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                $crate::deserialize_open_enum(deserializer)
            }
        }
    };
}

/// Deserializes an open string enum without allocating for listed values.
pub fn deserialize_open_enum<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    struct StringVisitor<T>(PhantomData<T>);
    impl<'de, T> Visitor<'de> for StringVisitor<T>
    where
        T: for<'a> From<&'a str> + From<String>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
            Ok(T::from(value))
        }
        fn visit_string<E: de::Error>(self, value: String) -> Result<T, E> {
            Ok(T::from(value))
        }
    }
    deserializer.deserialize_str(StringVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    #[derive(Debug, Clone, PartialEq)]
    enum Status {
        Active,
        Closed,
        Unknown(String),
    }
    crate::open_enum!(Status, Unknown; Active => "active", Closed => "closed");

    #[test]
    fn listed_values_map_to_variants_and_others_are_kept() {
        let read = |text| serde_json::from_str::<Status>(text).unwrap();
        assert_eq!(read(r#""active""#), Status::Active);
        assert_eq!(read(r#""closed""#), Status::Closed);
        let other = read(r#""frozen""#);
        assert_eq!(other, Status::Unknown("frozen".into()));
        assert!(!other.is_known() && Status::Active.is_known());
        assert_eq!(other.as_str(), "frozen");
        assert_eq!(serde_json::to_string(&other).unwrap(), r#""frozen""#);
        assert_eq!(
            serde_json::to_string(&Status::Closed).unwrap(),
            r#""closed""#
        );
        assert_eq!("active".parse::<Status>(), Ok(Status::Active));
        assert_eq!(Status::from(String::from("x")).to_string(), "x");
        assert!(serde_json::from_str::<Status>("1").is_err());
    }
}
