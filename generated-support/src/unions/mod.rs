//! What the generated unions' `Deserialize` impls call: [`read_union`] takes the union's value
//! as raw JSON text (borrowed from the input where serde_json reads a slice: nothing is built
//! for it), refusing a key repeated in any object inside it; [`RawUnion`]'s methods read the tag
//! or the kind of that text, and decode a variant or an adjacently tagged content from it, with
//! the path inside it on failure (``at `path`: message``, which [`decode`](crate::decode)
//! splices onto the outer path), or keep it as a `Value` in the union's `Unknown`.
//!
//! Only decoding the chosen variant is generic per type, and it is the plain
//! `serde_json::from_slice` that [`decode`](crate::decode) already instantiates; finding the
//! tag, the kind, a repeated key, and the path of a failure (`decode`'s byte walk) are not.

mod scan;

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::decode::{strip_position, INNER_PATH_PREFIX, INNER_PATH_SUFFIX};

/// The name by which serde_json's deserializers (of text, of a reader, of a `Value`) hand a
/// value over as its raw text (the protocol of `serde_json::value::RawValue`, whose `raw_value`
/// feature this crate enables). Every other deserializer, or a serde_json that renamed it, sees
/// an ordinary newtype struct: [`read_union`] then buffers the value and writes it as text, which
/// is slower and equally strict.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The JSON kinds, as bits (as the generated impls' masks number them).
const NULL: u8 = 1;
const STRING: u8 = 8;
const OBJECT: u8 = 32;

/// A kind bit's name in a message.
fn kind_name(kind: u8) -> &'static str {
    match kind {
        1 => "null",
        2 => "a boolean",
        4 => "a number",
        8 => "a string",
        16 => "an array",
        32 => "an object",
        _ => "nothing",
    }
}

/// A union's value as JSON text, no key repeated in any of its objects.
#[derive(Debug)]
pub struct RawUnion<'de> {
    text: Cow<'de, str>,
    /// The first top-level member looked up ([`RawUnion::member`]): an internally tagged union
    /// reads its tag and then cuts the same member out of the variant, and the text's top level
    /// is scanned once for both.
    looked_up: OnceCell<scan::Member>,
}

/// Reads a union's value as raw JSON text; a key repeated in any object inside it is an error
/// naming that object's path, so decode → encode → decode is stable (a duplicate key cannot
/// decode as `Unknown` once and as a variant after a round trip).
pub fn read_union<'de, D: ::serde::Deserializer<'de>>(
    deserializer: D,
) -> ::std::result::Result<RawUnion<'de>, D::Error> {
    let raw = deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, RawVisitor)?;
    match raw.duplicate_key() {
        Some(message) => Err(<D::Error as ::serde::de::Error>::custom(message)),
        None => Ok(raw),
    }
}

impl RawUnion<'_> {
    /// [`RawUnion::kind`] of an object.
    pub const OBJECT: u8 = OBJECT;

    fn from_value(value: ::serde_json::Value) -> Self {
        RawUnion::new(Cow::Owned(value.to_string()))
    }

    /// The text, for tests.
    #[cfg(test)]
    fn of(text: &str) -> RawUnion<'_> {
        RawUnion::new(Cow::Borrowed(text))
    }

    fn new(text: Cow<'_, str>) -> RawUnion<'_> {
        RawUnion {
            text,
            looked_up: OnceCell::new(),
        }
    }

    /// The top-level member `key` ([`scan::member`]). The first member found is remembered,
    /// and a later lookup of the same key (the tag, then the tag cut from the variant) does not
    /// scan again.
    fn member(&self, key: &str) -> Option<scan::Member> {
        if let Some(found) = self.looked_up.get() {
            if scan::key_text(&self.text[found.key.clone()]) == key {
                return Some(found.clone());
            }
        }
        let found = scan::member(&self.text, key)?;
        let _ = self.looked_up.set(found.clone());
        Some(found)
    }

    fn duplicate_key(&self) -> Option<String> {
        let (path, key) = scan::duplicate_key(&self.text)?;
        Some(with_path(None, &path, &format!("duplicate key `{key}`")))
    }

    /// The JSON kind of the value, as bits: null 1, boolean 2, number 4, string 8, array 16,
    /// object 32.
    pub fn kind(&self) -> u8 {
        scan::kind(&self.text)
    }

    /// The string value of a tagged union's tag property.
    pub fn tag<E: ::serde::de::Error>(
        &self,
        union: &str,
        property: &str,
    ) -> ::std::result::Result<Cow<'_, str>, E> {
        self.tag_text(union, property).map_err(E::custom)
    }

    fn tag_text(&self, union: &str, property: &str) -> Result<Cow<'_, str>, String> {
        let kind = self.kind();
        if kind != OBJECT {
            return Err(format!(
                "{union}: expected an object with a `{property}` tag, found {}",
                kind_name(kind)
            ));
        }
        let Some(member) = self.member(property) else {
            return Err(format!("{union}: missing tag property `{property}`"));
        };
        let value = &self.text[member.value];
        if scan::kind(value) != STRING {
            return Err(format!(
                "at `{property}`: {union}: the tag must be a string, found {}",
                kind_name(scan::kind(value))
            ));
        }
        let inner = &value[1..value.len() - 1];
        if !inner.contains('\\') {
            return Ok(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(value)
            .map(Cow::Owned)
            .map_err(|err| strip_position(&err.to_string()).to_owned())
    }

    /// Decodes the variant whose tag matched, without the tag property if `strip_tag` names it
    /// (typify's internally tagged variants do not declare it, and a catch-all `extra` map would
    /// keep it a second time); errors keep the path inside the variant.
    pub fn variant<T: ::serde::de::DeserializeOwned, E: ::serde::de::Error>(
        &self,
        strip_tag: ::std::option::Option<&str>,
    ) -> ::std::result::Result<T, E> {
        let text = match strip_tag.and_then(|tag| self.member(tag)) {
            Some(member) => {
                let mut text = self.text.to_string();
                text.replace_range(member.cut, "");
                Cow::Owned(text)
            }
            None => Cow::Borrowed(&*self.text),
        };
        decode_inner(&text, None).map_err(E::custom)
    }

    /// Tries one variant of an untagged union.
    pub fn try_variant<T: ::serde::de::DeserializeOwned>(&self) -> ::std::option::Option<T> {
        ::serde_json::from_slice(self.text.as_bytes()).ok()
    }

    /// Decodes the content of an adjacently tagged union's variant (`{"kind": "text", "value":
    /// ..}`): the value of its `content` property, which must be there; errors keep the path
    /// inside it, from the content property on.
    pub fn content<T: ::serde::de::DeserializeOwned, E: ::serde::de::Error>(
        &self,
        union: &str,
        content: &str,
    ) -> ::std::result::Result<T, E> {
        let Some(member) = self.member(content) else {
            return Err(E::custom(::std::format_args!(
                "{union}: missing field `{content}`"
            )));
        };
        decode_inner(&self.text[member.value], Some(content)).map_err(E::custom)
    }

    /// The content of an adjacently tagged union's unit variant: absent or `null`, as serde's
    /// derive takes it; anything else is an error at the content property.
    pub fn unit_content<E: ::serde::de::Error>(
        &self,
        union: &str,
        content: &str,
    ) -> ::std::result::Result<(), E> {
        let kind = self
            .member(content)
            .map_or(NULL, |member| scan::kind(&self.text[member.value]));
        if kind == NULL {
            return Ok(());
        }
        Err(E::custom(::std::format_args!(
            "{INNER_PATH_PREFIX}{content}{INNER_PATH_SUFFIX}{union}: this variant has no content, found {}",
            kind_name(kind)
        )))
    }

    /// The value as a `Value`: a union's `Unknown`, a typeless object's `Other`.
    pub fn to_value<E: ::serde::de::Error>(&self) -> ::std::result::Result<::serde_json::Value, E> {
        // Well-formed text can still fail here: serde_json skips a number out of range.
        decode_inner(&self.text, None).map_err(E::custom)
    }

    /// A value no variant of an untagged union accepted: kept when one of its variants has the
    /// value's JSON kind (`kinds`, as [`RawUnion::kind`] numbers them; a newer schema could
    /// produce it), else an error.
    pub fn unknown_of_kind<E: ::serde::de::Error>(
        &self,
        kinds: u8,
        union: &str,
        expected: &str,
    ) -> ::std::result::Result<::serde_json::Value, E> {
        let kind = self.kind();
        if kinds & kind != 0 {
            self.to_value()
        } else {
            Err(E::custom(::std::format_args!(
                "{union}: expected {expected}, found {}",
                kind_name(kind)
            )))
        }
    }
}

/// Decodes `text` with [`decode`](crate::decode) (one plain parse; a byte walk names the path
/// on failure) and gives a failure the path inside it, under `prefix` if any.
fn decode_inner<T: ::serde::de::DeserializeOwned>(
    text: &str,
    prefix: Option<&str>,
) -> Result<T, String> {
    crate::decode::decode::<T>(text.as_bytes())
        .map_err(|(path, message)| with_path(prefix, &path, &message))
}

/// `message` (its serde_json position dropped: it counts in the union's text, not the input)
/// with the path `prefix` + `path` in front, in the form `decode` splices (nothing for `$`).
fn with_path(prefix: Option<&str>, path: &str, message: &str) -> String {
    let message = strip_position(message);
    let path = match (prefix, path) {
        (None, "$") => return message.to_owned(),
        (None, path) => Cow::Borrowed(path),
        (Some(prefix), "$") => Cow::Borrowed(prefix),
        (Some(prefix), path) if path.starts_with('[') => Cow::Owned(format!("{prefix}{path}")),
        (Some(prefix), path) => Cow::Owned(format!("{prefix}.{path}")),
    };
    format!("{INNER_PATH_PREFIX}{path}{INNER_PATH_SUFFIX}{message}")
}

/// Takes a union's value as raw text where the deserializer speaks serde_json's raw-value
/// protocol, and builds it (duplicate keys refused) and writes it as text where it does not.
struct RawVisitor;

impl<'de> ::serde::de::Visitor<'de> for RawVisitor {
    type Value = RawUnion<'de>;
    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: ::serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> ::std::result::Result<Self::Value, A::Error> {
        // serde_json hands the raw text over as a map of one entry under its token.
        let first = map.next_key::<String>()?;
        if first.as_deref() == Some(RAW_VALUE_TOKEN) {
            let text = map.next_value_seed(RawText)?;
            return Ok(RawUnion::new(text));
        }
        strict_map(first, map).map(RawUnion::from_value)
    }
    fn visit_newtype_struct<D: ::serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> ::std::result::Result<Self::Value, D::Error> {
        let StrictValue(value) = ::serde::Deserialize::deserialize(deserializer)?;
        Ok(RawUnion::from_value(value))
    }
    fn visit_bool<E>(self, v: bool) -> ::std::result::Result<Self::Value, E> {
        Ok(RawUnion::from_value(::serde_json::Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> ::std::result::Result<Self::Value, E> {
        Ok(RawUnion::from_value(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> ::std::result::Result<Self::Value, E> {
        Ok(RawUnion::from_value(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> ::std::result::Result<Self::Value, E> {
        Ok(RawUnion::from_value(float(v)))
    }
    fn visit_str<E>(self, v: &str) -> ::std::result::Result<Self::Value, E> {
        Ok(RawUnion::from_value(::serde_json::Value::String(
            v.to_owned(),
        )))
    }
    fn visit_unit<E>(self) -> ::std::result::Result<Self::Value, E> {
        Ok(RawUnion::from_value(::serde_json::Value::Null))
    }
    fn visit_none<E>(self) -> ::std::result::Result<Self::Value, E> {
        Ok(RawUnion::from_value(::serde_json::Value::Null))
    }
    fn visit_some<D: ::serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> ::std::result::Result<Self::Value, D::Error> {
        self.visit_newtype_struct(deserializer)
    }
    fn visit_seq<A: ::serde::de::SeqAccess<'de>>(
        self,
        seq: A,
    ) -> ::std::result::Result<Self::Value, A::Error> {
        StrictVisitor
            .visit_seq(seq)
            .map(|StrictValue(value)| RawUnion::from_value(value))
    }
}

/// The raw text serde_json hands over: borrowed from the input where it can be.
struct RawText;

impl<'de> ::serde::de::DeserializeSeed<'de> for RawText {
    type Value = Cow<'de, str>;
    fn deserialize<D: ::serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> ::std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> ::serde::de::Visitor<'de> for RawText {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("raw JSON text")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> ::std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> ::std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> ::std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A float as serde_json's `Value` keeps it (a non-finite one as `null`).
fn float(v: f64) -> ::serde_json::Value {
    ::serde_json::Number::from_f64(v).map_or(::serde_json::Value::Null, ::serde_json::Value::Number)
}

/// A JSON value built from a deserializer that does not hand over raw text; duplicate keys
/// refused.
struct StrictValue(::serde_json::Value);

impl<'de> ::serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: ::serde::Deserializer<'de>>(
        deserializer: D,
    ) -> ::std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> ::serde::de::Visitor<'de> for StrictVisitor {
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
        Ok(StrictValue(float(v)))
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
    fn visit_some<D: ::serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> ::std::result::Result<StrictValue, D::Error> {
        ::serde::Deserialize::deserialize(d)
    }
    fn visit_newtype_struct<D: ::serde::Deserializer<'de>>(
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
        map: A,
    ) -> ::std::result::Result<StrictValue, A::Error> {
        strict_map(None, map).map(StrictValue)
    }
}

/// The rest of a map as an object (`first`, if any, its first key already read), duplicate keys
/// refused.
fn strict_map<'de, A: ::serde::de::MapAccess<'de>>(
    first: Option<String>,
    mut map: A,
) -> ::std::result::Result<::serde_json::Value, A::Error> {
    let mut object = ::serde_json::Map::new();
    let mut key = first;
    if key.is_none() {
        key = map.next_key::<String>()?;
    }
    while let Some(name) = key {
        if object.contains_key(&name) {
            return Err(<A::Error as ::serde::de::Error>::custom(
                ::std::format_args!("duplicate key `{name}`"),
            ));
        }
        let StrictValue(value) = map.next_value()?;
        object.insert(name, value);
        key = map.next_key::<String>()?;
    }
    Ok(::serde_json::Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::{read_union, RawUnion};
    use serde_json::{json, Value};

    type Error = serde_json::Error;

    fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
        result.unwrap_err().to_string()
    }

    fn read(text: &str) -> Result<RawUnion<'_>, Error> {
        read_union(&mut serde_json::Deserializer::from_str(text))
    }

    #[test]
    fn text_is_borrowed_from_a_slice_and_written_from_any_other_deserializer() {
        let raw = read(r#" {"kind": "a", "n": [1, 2.5]}"#).unwrap();
        assert!(matches!(raw.text, std::borrow::Cow::Borrowed(_)));
        assert_eq!(&*raw.text, r#"{"kind": "a", "n": [1, 2.5]}"#);
        // A reader and a `Value` hand over owned text; serde's own value deserializers (as
        // `#[serde(flatten)]` uses) none: the value is built and written.
        let raw = read_union(&mut serde_json::Deserializer::from_reader(&b"[1, {}]"[..])).unwrap();
        assert_eq!(raw.to_value::<Error>().unwrap(), json!([1, {}]));
        let raw = read_union(json!({"a": [true, null]})).unwrap();
        assert_eq!(raw.to_value::<Error>().unwrap(), json!({"a": [true, null]}));
        let string = json!("s");
        assert_eq!(read_union(&string).unwrap().kind(), 8);
        use serde::de::IntoDeserializer;
        let de: serde::de::value::StrDeserializer<'_, Error> = "plain".into_deserializer();
        assert_eq!(
            read_union(de).unwrap().to_value::<Error>().unwrap(),
            json!("plain")
        );
        let map = serde::de::value::MapDeserializer::<_, Error>::new(
            [("a", 1u8), ("b", 2u8)].into_iter(),
        );
        assert_eq!(
            read_union(map).unwrap().to_value::<Error>().unwrap(),
            json!({"a": 1, "b": 2})
        );
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth_with_the_objects_path() {
        assert_eq!(
            message(read(r#"{"a": {"b": 1, "b": 2}}"#)),
            "at `a`: duplicate key `b`"
        );
        assert!(message(read(r#"{"b": 1, "\u0062": 2}"#)).starts_with("duplicate key `b`"));
        let map = serde::de::value::MapDeserializer::<_, Error>::new(
            [("a", 1u8), ("a", 2u8)].into_iter(),
        );
        assert!(message(read_union(map)).contains("duplicate key `a`"));
        assert!(read(r#"{"a": {"b": 1}, "b": {"b": 1}}"#).is_ok());
    }

    #[test]
    fn adjacent_content_is_read_from_its_property_with_the_path_inside() {
        let value = RawUnion::of(r#"{"kind": "point", "value": {"xs": [1, "a"]}}"#);
        let err = message(
            value.content::<std::collections::BTreeMap<String, Vec<u8>>, Error>("Shape", "value"),
        );
        assert!(err.starts_with("at `value.xs[1]`: invalid type"), "{err}");
        assert!(!err.contains("line"), "{err}");
        let ok: String = RawUnion::of(r#"{"value": "hi"}"#)
            .content::<_, Error>("Shape", "value")
            .unwrap();
        assert_eq!(ok, "hi");
        let err =
            message(RawUnion::of(r#"{"kind": "text"}"#).content::<String, Error>("Shape", "value"));
        assert_eq!(err, "Shape: missing field `value`");
    }

    #[test]
    fn a_unit_variant_takes_its_content_absent_or_null_only() {
        assert!(RawUnion::of(r#"{"kind": "none"}"#)
            .unit_content::<Error>("Shape", "value")
            .is_ok());
        assert!(RawUnion::of(r#"{"kind": "none", "value": null}"#)
            .unit_content::<Error>("Shape", "value")
            .is_ok());
        let err = message(RawUnion::of(r#"{"value": 3}"#).unit_content::<Error>("Shape", "value"));
        assert_eq!(
            err,
            "at `value`: Shape: this variant has no content, found a number"
        );
    }

    #[test]
    fn the_tag_must_be_a_string_property_of_an_object() {
        let tag = |text: &str| {
            RawUnion::of(text)
                .tag::<Error>("U", "kind")
                .map(|t| t.into_owned())
        };
        assert_eq!(tag(r#"{"kind": "a"}"#).unwrap(), "a");
        assert_eq!(
            tag(r#"{"x": {"kind": 1}, "kind": "a\u0062"}"#).unwrap(),
            "ab"
        );
        assert_eq!(
            message(tag(r#"{"kind": 1}"#)),
            "at `kind`: U: the tag must be a string, found a number"
        );
        assert_eq!(message(tag("{}")), "U: missing tag property `kind`");
        assert_eq!(
            message(tag("[]")),
            "U: expected an object with a `kind` tag, found an array"
        );
    }

    #[test]
    fn a_variant_is_decoded_without_its_tag_and_fails_with_the_path_inside() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Pickup {
            #[allow(dead_code)]
            at: Vec<u8>,
        }
        let value = RawUnion::of(r#"{"at": [1], "kind": "pickup"}"#);
        assert!(value.variant::<Pickup, Error>(Some("kind")).is_ok());
        assert!(message(value.variant::<Pickup, Error>(None)).contains("unknown field `kind`"));
        let err = message(
            RawUnion::of(r#"{"kind": "pickup", "at": [1, "x"]}"#)
                .variant::<Pickup, Error>(Some("kind")),
        );
        assert!(err.starts_with("at `at[1]`: invalid type: string"), "{err}");
        assert!(!err.contains("line"), "{err}");
    }

    #[test]
    fn an_internally_tagged_value_is_scanned_once_for_its_tag_and_the_cut() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Pickup {
            #[allow(dead_code)]
            at: u8,
        }
        let scans = || super::scan::tests::MEMBER_SCANS.with(|scans| scans.get());
        let value = read(r#"{"at": 1, "kind": "pickup"}"#).unwrap();
        let before = scans();
        assert_eq!(value.tag::<Error>("Fulfillment", "kind").unwrap(), "pickup");
        assert!(value.variant::<Pickup, Error>(Some("kind")).is_ok());
        assert_eq!(
            scans() - before,
            1,
            "the tag's member is found once and reused"
        );
        // Another key is looked up afresh, never answered with the remembered member.
        assert!(value
            .member("at")
            .is_some_and(|m| &value.text[m.value] == "1"));
        assert!(value.member("none").is_none());
        assert_eq!(value.member("kind").map(|m| m.key), Some(11..15));
        let escaped = read(r#"{"kind": "pickup", "at": 1}"#).unwrap();
        assert_eq!(escaped.tag::<Error>("F", "kind").unwrap(), "pickup");
        assert!(escaped.variant::<Pickup, Error>(Some("kind")).is_ok());
        assert!(escaped.member("kinds").is_none());
    }

    #[test]
    fn untagged_values_are_tried_and_kept_by_kind() {
        assert_eq!(
            RawUnion::of("[1, 2]").try_variant::<Vec<u8>>(),
            Some(vec![1, 2])
        );
        assert_eq!(RawUnion::of("\"x\"").try_variant::<u8>(), None);
        // Kinds as bits: 32 is object.
        let kept: Value = RawUnion::of("{}")
            .unknown_of_kind::<Error>(32, "U", "object")
            .unwrap();
        assert_eq!(kept, json!({}));
        let err = message(RawUnion::of("1").unknown_of_kind::<Error>(32, "U", "object"));
        assert_eq!(err, "U: expected object, found a number");
    }

    /// A type whose `Deserialize` takes its value as a union does.
    #[derive(Debug)]
    struct Whole(#[allow(dead_code)] Value);

    impl<'de> serde::Deserialize<'de> for Whole {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            read_union(d)?.to_value().map(Whole)
        }
    }

    #[test]
    fn malformed_json_inside_a_union_is_named_where_a_plain_parse_breaks() {
        let (path, message) = crate::decode::<Vec<Whole>>(br#"[{"a": {"b": 1,}}]"#).unwrap_err();
        assert_eq!(
            (path.as_str(), message.as_str()),
            ("[0].a.?", "trailing comma at line 1 column 16")
        );
        let (path, message) = crate::decode::<Vec<Whole>>(b"[[1, 1e999]]").unwrap_err();
        assert_eq!(
            (path.as_str(), message.as_str()),
            ("[0][1]", "number out of range at line 1 column 12")
        );
    }
}
