//! Walks over a union's raw JSON text, which serde_json has already read whole and found well
//! formed: the members of its top-level object (where the tag and an adjacent content are), and
//! the first object at any depth that repeats a key. Non-generic, no allocation but for the keys
//! of the object being checked; on text that is not well formed it answers `None` rather than
//! panic.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use crate::decode::{decode_key, display_path, Segment};

/// One member of the top-level object.
#[derive(Clone, Debug)]
pub(super) struct Member {
    /// The key's bytes, between its quotes (escapes not resolved).
    pub key: Range<usize>,
    /// The value's bytes.
    pub value: Range<usize>,
    /// The bytes to cut to remove the member and one comma next to it, leaving valid JSON.
    pub cut: Range<usize>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// One past the closing quote of the string opening at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut i = i + 1;
    loop {
        match b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// One past the end of the value starting at `i` (not whitespace).
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                .unwrap_or(b.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

/// A key's text (between its quotes): borrowed unless it holds an escape.
pub(super) fn key_text(raw: &str) -> Cow<'_, str> {
    if raw.contains('\\') {
        Cow::Owned(decode_key(raw.as_bytes()))
    } else {
        Cow::Borrowed(raw)
    }
}

/// The JSON kind of the text's value, as [`super::RawUnion::kind`] numbers them; 0 if empty.
pub(super) fn kind(text: &str) -> u8 {
    let b = text.as_bytes();
    match b.get(skip_ws(b, 0)) {
        Some(b'n') => 1,
        Some(b't' | b'f') => 2,
        Some(b'-' | b'0'..=b'9') => 4,
        Some(b'"') => 8,
        Some(b'[') => 16,
        Some(b'{') => 32,
        _ => 0,
    }
}

/// The member of the top-level object whose key is `key`; `None` if there is none or the text
/// is not an object.
pub(super) fn member(text: &str, key: &str) -> Option<Member> {
    #[cfg(test)]
    tests::MEMBER_SCANS.with(|scans| scans.set(scans.get() + 1));
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    // Where the previous member's value ended: cutting from there removes the comma before.
    let mut previous_end: Option<usize> = None;
    while b.get(i) == Some(&b'"') {
        let key_start = i;
        let key_end = string_end(b, i)?;
        let colon = skip_ws(b, key_end);
        let value_start = skip_ws(b, colon + 1);
        let end = value_end(b, value_start)?;
        let after = skip_ws(b, end);
        let found = key_text(text.get(key_start + 1..key_end - 1)?) == key;
        let next = match b.get(after) {
            Some(b',') => Some(skip_ws(b, after + 1)),
            _ => None,
        };
        if found {
            let cut = match (next, previous_end) {
                (Some(next), _) => key_start..next,
                (None, Some(previous)) => previous..end,
                (None, None) => key_start..end,
            };
            return Some(Member {
                key: key_start + 1..key_end - 1,
                value: value_start..end,
                cut,
            });
        }
        previous_end = Some(end);
        i = next?;
    }
    None
}

/// A step of the path to the object being checked, kept as raw text until it is named.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The first object in `text` (depth first) that repeats a key: its path (`$` for the top
/// level) and the key. Keys compare with escapes resolved, as serde_json reads them.
pub(super) fn duplicate_key(text: &str) -> Option<(String, String)> {
    let b = text.as_bytes();
    let mut path = Vec::new();
    let start = skip_ws(b, 0);
    match walk(text, start, &mut path) {
        Walk::Found(path, key) => Some((path, key)),
        Walk::End(_) | Walk::Malformed => None,
    }
}

enum Walk {
    End(usize),
    Found(String, String),
    Malformed,
}

fn walk<'a>(text: &'a str, i: usize, path: &mut Vec<Step<'a>>) -> Walk {
    let b = text.as_bytes();
    let outcome = match b.get(i) {
        Some(b'{') => {
            let mut keys = Keys::default();
            let mut j = skip_ws(b, i + 1);
            while b.get(j) == Some(&b'"') {
                let Some(key_end) = string_end(b, j) else {
                    return Walk::Malformed;
                };
                let Some(raw) = text.get(j + 1..key_end - 1) else {
                    return Walk::Malformed;
                };
                let key = key_text(raw);
                if !keys.insert(key.clone()) {
                    return Walk::Found(named(path), key.into_owned());
                }
                let value_start = skip_ws(b, skip_ws(b, key_end) + 1);
                j = match child(text, value_start, Step::Key(raw), path) {
                    Ok(next) => next,
                    Err(walk) => return walk,
                };
            }
            (j, b'}')
        }
        Some(b'[') => {
            let mut j = skip_ws(b, i + 1);
            let mut index = 0;
            while !matches!(b.get(j), Some(b']') | None) {
                j = match child(text, j, Step::Index(index), path) {
                    Ok(next) => next,
                    Err(walk) => return walk,
                };
                index += 1;
            }
            (j, b']')
        }
        Some(_) => return value_end(b, i).map_or(Walk::Malformed, Walk::End),
        None => return Walk::Malformed,
    };
    match outcome {
        (j, close) if b.get(j) == Some(&close) => Walk::End(j + 1),
        _ => Walk::Malformed,
    }
}

/// Walks the member or element at `start` (its `step` pushed on the path meanwhile); `Ok` with
/// where the next one, or the closing bracket, begins.
fn child<'a>(
    text: &'a str,
    start: usize,
    step: Step<'a>,
    path: &mut Vec<Step<'a>>,
) -> Result<usize, Walk> {
    path.push(step);
    let walked = walk(text, start, path);
    path.pop();
    let Walk::End(end) = walked else {
        return Err(walked);
    };
    let b = text.as_bytes();
    let after = skip_ws(b, end);
    Ok(if b.get(after) == Some(&b',') {
        skip_ws(b, after + 1)
    } else {
        after
    })
}

/// The keys of one object, to find one repeated: a list while it is short, a hash set beyond,
/// so that an object of many keys costs no quadratic number of comparisons.
#[derive(Default)]
struct Keys<'a> {
    list: Vec<Cow<'a, str>>,
    set: Option<HashSet<Cow<'a, str>>>,
}

impl<'a> Keys<'a> {
    /// Beyond this many keys, the set.
    const LIST_MAX: usize = 16;

    /// Adds `key`; `false` if the object had it already.
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(key);
        }
        if self.list.contains(&key) {
            return false;
        }
        self.list.push(key);
        if self.list.len() > Self::LIST_MAX {
            self.set = Some(self.list.drain(..).collect());
        }
        true
    }
}

fn named(path: &[Step<'_>]) -> String {
    let segments: Vec<Segment> = path
        .iter()
        .map(|step| match step {
            Step::Key(raw) => Segment::Key(key_text(raw).into_owned()),
            Step::Index(index) => Segment::Index(*index),
        })
        .collect();
    display_path(&segments)
}

#[cfg(test)]
pub(super) mod tests {
    use super::{duplicate_key, kind, member};

    thread_local! {
        /// How many times [`member`] scanned a text on this thread (a union's top level should
        /// be scanned once per lookup key, however many methods ask).
        pub(in crate::unions) static MEMBER_SCANS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn members_are_found_by_key_with_escapes_resolved() {
        let text = r#" { "a" : [1, {"kind": 2}] , "ki\u006ed":"x\"y", "b":{}} "#;
        let found = member(text, "kind").unwrap();
        assert_eq!(&text[found.value.clone()], r#""x\"y""#);
        let mut cut = text.to_owned();
        cut.replace_range(found.cut, "");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&cut).unwrap(),
            serde_json::json!({"a": [1, {"kind": 2}], "b": {}})
        );
        assert!(member(text, "c").is_none());
        assert!(member("[1]", "a").is_none());
    }

    #[test]
    fn cutting_any_member_leaves_the_others() {
        for (text, key, left) in [
            (r#"{"k":1}"#, "k", "{}"),
            (r#"{"k":1,"a":2}"#, "k", r#"{"a":2}"#),
            (r#"{"a":2,"k":1}"#, "k", r#"{"a":2}"#),
            (r#"{"a":2, "k":1 ,"b":3}"#, "k", r#"{"a":2, "b":3}"#),
        ] {
            let found = member(text, key).unwrap();
            let mut cut = text.to_owned();
            cut.replace_range(found.cut, "");
            assert_eq!(cut, left, "{text}");
        }
    }

    #[test]
    fn a_repeated_key_is_named_with_its_objects_path() {
        assert_eq!(duplicate_key(r#"{"a":1,"b":[{"c":{}}]}"#), None);
        assert_eq!(
            duplicate_key(r#"{"a":1,"a":2}"#),
            Some(("$".into(), "a".into()))
        );
        assert_eq!(
            duplicate_key(r#"{"a":{"x":[0,{"y":1,"\u0079":2}]}}"#),
            Some(("a.x[1]".into(), "y".into()))
        );
        assert_eq!(
            duplicate_key(r#"[{"b":"}"},{"b":1,"b":1}]"#).unwrap().0,
            "[1]"
        );
        // Malformed text is not a duplicate, and does not panic.
        for text in [
            "{",
            "{\"a\"",
            "[1,",
            "\"",
            "{\"a\":1,\"a\"",
            "[}",
            "[,]",
            "{\"a\" }",
        ] {
            let _ = duplicate_key(text);
            let _ = member(text, "a");
        }
    }

    #[test]
    fn kinds_come_from_the_first_byte() {
        let kinds: Vec<u8> = [" null", "true", "-1", "\"s\"", "[]", "{}", ""]
            .into_iter()
            .map(kind)
            .collect();
        assert_eq!(kinds, [1, 2, 4, 8, 16, 32, 0]);
    }
}
