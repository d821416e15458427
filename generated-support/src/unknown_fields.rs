//! [`UnknownFields`]: the `extra` field of every generated struct that keeps the members its
//! schema does not declare.
//!
//! Why not a plain `serde_json::Map`: almost every object Passage sends has no unknown member, so
//! the map is nearly always empty, yet it sat inline in every struct (24 bytes for the `BTreeMap`
//! behind `Map`; a list of 41,000 billing items carried a megabyte of empty maps, and the decode
//! paid for moving it). `UnknownFields` is one pointer wide, allocates only when a member is
//! kept, and reads and writes as the map it holds ([`Deref`] to `Map`), so
//! `item.extra.get("new")`, `item.extra.iter()` and `item.extra.insert(..)` work as they did.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use serde_json::{Map, Value};

/// The members of a JSON object that its schema does not declare, kept as sent (in the
/// map's order), so that a decoded value encodes back to what Passage sent.
///
/// Reads as a [`serde_json::Map`] (it dereferences to one); empty (no allocation) when the
/// object had nothing unknown. Two values are equal when their maps are.
///
/// ```
/// use passage_generated_support::UnknownFields;
/// use serde_json::{json, Map};
///
/// let mut extra = UnknownFields::default();
/// assert!(extra.is_empty());
/// extra.insert("addedLater".to_owned(), json!(1));
/// assert_eq!(extra.get("addedLater"), Some(&json!(1)));
/// let map: Map<String, serde_json::Value> = extra.clone().into_map();
/// assert_eq!(UnknownFields::from(map), extra);
/// assert_eq!(serde_json::to_string(&extra).unwrap(), r#"{"addedLater":1}"#);
/// ```
#[derive(Clone, Default)]
pub struct UnknownFields(Option<Box<Map<String, Value>>>);

impl UnknownFields {
    /// No unknown fields.
    pub const fn new() -> Self {
        Self(None)
    }

    /// The fields as a map.
    pub fn into_map(self) -> Map<String, Value> {
        self.0.map(|fields| *fields).unwrap_or_default()
    }
}

/// The map of a value with nothing in it, for [`Deref`] of an unallocated one.
fn empty() -> &'static Map<String, Value> {
    static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

impl Deref for UnknownFields {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        match &self.0 {
            Some(fields) => fields,
            None => empty(),
        }
    }
}

impl DerefMut for UnknownFields {
    /// Allocates the map when there was none.
    fn deref_mut(&mut self) -> &mut Map<String, Value> {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for UnknownFields {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl PartialEq<Map<String, Value>> for UnknownFields {
    fn eq(&self, other: &Map<String, Value>) -> bool {
        **self == *other
    }
}

impl fmt::Debug for UnknownFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<Map<String, Value>> for UnknownFields {
    fn from(fields: Map<String, Value>) -> Self {
        if fields.is_empty() {
            Self(None)
        } else {
            Self(Some(Box::new(fields)))
        }
    }
}

impl From<UnknownFields> for Map<String, Value> {
    fn from(fields: UnknownFields) -> Self {
        fields.into_map()
    }
}

impl FromIterator<(String, Value)> for UnknownFields {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Map::from_iter(iter).into()
    }
}

impl<'a> IntoIterator for &'a UnknownFields {
    type Item = (&'a String, &'a Value);
    type IntoIter = serde_json::map::Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for UnknownFields {
    type Item = (String, Value);
    type IntoIter = serde_json::map::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

impl serde::Serialize for UnknownFields {
    /// As the map (flattened into its struct by the struct's `#[serde(flatten)]`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for UnknownFields {
    /// An object, refusing a key sent twice (`duplicate field `key``).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = UnknownFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UnknownFields, A::Error> {
                let mut fields = UnknownFields::new();
                while let Some(key) = map.next_key::<String>()? {
                    if fields.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
                    }
                    let value = map.next_value()?;
                    fields.insert(key, value);
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn it_is_one_pointer_wide_and_allocates_only_for_a_field() {
        assert_eq!(
            std::mem::size_of::<UnknownFields>(),
            std::mem::size_of::<usize>()
        );
        assert!(UnknownFields::from(Map::new()).0.is_none());
        let decoded: UnknownFields = serde_json::from_str("{}").unwrap();
        assert!(decoded.0.is_none());
    }

    #[test]
    fn an_allocated_empty_map_equals_none() {
        let mut cleared = UnknownFields::from_iter([("a".to_owned(), json!(1))]);
        cleared.clear();
        assert!(cleared.0.is_some());
        assert_eq!(cleared, UnknownFields::new());
        assert_eq!(format!("{cleared:?}"), "{}");
    }

    #[test]
    fn it_reads_and_writes_as_its_map() {
        let text = r#"{"a":[true],"m":{"k":null},"z":1}"#;
        let fields: UnknownFields = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&fields).unwrap(), text);
        let keys: Vec<&String> = (&fields).into_iter().map(|(k, _)| k).collect();
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        assert_eq!(keys, map.keys().collect::<Vec<_>>());
        assert_eq!(fields, map);
        assert_eq!(fields.into_iter().count(), 3);
    }

    #[test]
    fn a_key_sent_twice_is_refused() {
        let err = serde_json::from_str::<UnknownFields>(r#"{"a":1,"a":2}"#).unwrap_err();
        assert_eq!(err.to_string(), "duplicate field `a` at line 1 column 10");
    }
}
