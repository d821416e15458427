//! Where in the raw JSON a failed decode went wrong, found without a second, path-tracking
//! decode that would be generic per type (as `serde_path_to_error` is: it instantiates every
//! nested `Deserialize` impl once more, the larger part of a generated crate's build).
//!
//! serde_json reports a failure's line and column. This module walks the raw bytes to that
//! offset with one non-generic scanner and names the JSON path `serde_path_to_error` would
//! have named: the innermost value whose decoding had begun there. Two positions are
//! ambiguous, because serde_json positions an error raised outside its own frames (a union or a
//! `TryFrom` type that rejects a value it has already read) at the next frame it passes
//! through, which may have read on:
//!
//! - at the end of a container: the container's own error (a missing field) or its last
//!   child's, positioned after the container's closing bracket;
//! - at the start of an array element: that element's error (an invalid type) or its previous
//!   sibling's, positioned after the comma that separates them.
//!
//! Either is settled by one more plain decode of the same data with one byte changed (the
//! closing bracket, or the element's first byte): the error is unchanged exactly when it was
//! raised before the decoder read that byte. The probe calls the same monomorphized decode the
//! caller made, so it adds no code per type.

/// One segment of a path, displayed as `serde_path_to_error` displays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
    /// A key that did not parse as a string (`?`).
    Unknown,
}

/// A value the scanner saw begin: its path, where it starts and (once read) ends, and the
/// neighbours a probe may need.
#[derive(Debug, Clone)]
struct Node {
    path: Vec<Segment>,
    start: usize,
    /// One past its last byte; `None` while unterminated or malformed.
    end: Option<usize>,
    /// A non-empty object or array: its last child's path.
    last_child: Option<Vec<Segment>>,
    /// An array element after the first: its previous sibling's path.
    previous_sibling: Option<Vec<Segment>>,
    /// The first element (or key) of a container: the container's path.
    first_child_of: Option<Vec<Segment>>,
}

/// The JSON path of the failure `err` of a plain decode of `data`, as `serde_path_to_error`
/// names it (`$` for the root). `still_fails` decodes a changed copy of `data` the same way and
/// returns its error's message, or `None` if it decoded.
pub(crate) fn failure_path(
    data: &[u8],
    err: &serde_json::Error,
    still_fails: &dyn Fn(&[u8]) -> Option<String>,
) -> String {
    let Some(at) = offset(data, err.line(), err.column()) else {
        return "$".to_owned();
    };
    // Only a data error (as opposed to malformed JSON or its end) can have been raised outside
    // serde_json's frames and positioned after the value that raised it.
    let category = err.classify();
    let data_error = category == serde_json::error::Category::Data;
    let message = strip_position(&err.to_string()).to_owned();
    let mut scanner = Scanner::new(data, at, category);
    scanner.trailing = message == "trailing characters";
    let Some(node) = scanner.find() else {
        return "$".to_owned();
    };
    let unchanged_without = |index: usize| {
        let mut copy = data.to_vec();
        // A byte no JSON value can continue with at a bracket or a value's start.
        copy[index] = if data[index] == b'#' { b'@' } else { b'#' };
        still_fails(&copy).is_some_and(|other| strip_position(&other) == message)
    };
    // The other value an ambiguous position may name, and the byte whose change tells them apart:
    // a closed container's closing bracket (its last child's error?), or a value's first byte
    // (its previous sibling's error, or its container's refusal before reading it?). A first
    // child has no previous sibling, so the two at a value's start never both apply.
    let ambiguous = if !data_error {
        None
    } else if node.end == Some(at) {
        node.last_child.as_ref().map(|child| (at - 1, child))
    } else if node.start == at {
        let other = node
            .previous_sibling
            .as_ref()
            .or(node.first_child_of.as_ref());
        other.map(|other| (at, other))
    } else {
        None
    };
    let path = match ambiguous {
        Some((byte, other)) if unchanged_without(byte) => other,
        _ => &node.path,
    };
    display(path)
}

/// serde_json's message without its ` at line L column C` suffix.
pub(crate) fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(" column ") => &message[..index],
        _ => message,
    }
}

/// The byte offset of serde_json's line (1-based) and column (bytes into the line); `None` for
/// an error without a position (line 0) or one past the data.
fn offset(data: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0;
    for _ in 1..line {
        start += data[start..].iter().position(|&b| b == b'\n')? + 1;
    }
    let at = start + column;
    (at <= data.len()).then_some(at)
}

/// A path as `serde_path_to_error` displays it (`$` for the root).
pub(crate) fn display(path: &[Segment]) -> String {
    if path.is_empty() {
        return "$".to_owned();
    }
    let mut out = String::new();
    for (i, segment) in path.iter().enumerate() {
        let name = match segment {
            Segment::Index(index) => {
                out.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Key(key) => key.as_str(),
            Segment::Unknown => "?",
        };
        if i > 0 {
            out.push('.');
        }
        out.push_str(name);
    }
    out
}

/// Walks the JSON grammar as serde_json reads it, up to the error's offset. Its readers return
/// `Ok(end)` for a value read whole before the offset and `Err(node)` for the innermost value
/// whose decoding had begun at the offset (or that broke there), which ends the walk.
struct Scanner<'a> {
    data: &'a [u8],
    at: usize,
    path: Vec<Segment>,
    /// The error is a data error: the gap after a child may hold its error.
    data_error: bool,
    /// The error is the end of the data.
    eof: bool,
    /// The error is serde_json's "trailing characters".
    trailing: bool,
}

impl<'a> Scanner<'a> {
    fn new(data: &'a [u8], at: usize, category: serde_json::error::Category) -> Self {
        Scanner {
            data,
            at,
            path: Vec::new(),
            data_error: category == serde_json::error::Category::Data,
            eof: category == serde_json::error::Category::Eof,
            trailing: false,
        }
    }

    /// The innermost value whose decoding had begun at the offset, if any.
    fn find(mut self) -> Option<Node> {
        let start = self.skip_ws(0);
        if start >= self.data.len() || self.at < start {
            return None;
        }
        // `Ok`: the root ended before the offset (trailing characters), no value holds it.
        self.value(start, None).err()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.data.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            i += 1;
        }
        i
    }

    /// The value at the current path starting at `start`; `first_child_of` names its container
    /// if it is the container's first child.
    fn node(&self, start: usize, previous_sibling: Option<Vec<Segment>>) -> Node {
        let first_child_of = match self.path.last() {
            Some(Segment::Index(0)) => Some(self.path[..self.path.len() - 1].to_vec()),
            _ => None,
        };
        Node {
            path: self.path.clone(),
            start,
            end: None,
            last_child: None,
            previous_sibling,
            first_child_of,
        }
    }

    /// Whether a container ending at `end` is over before the error: a data error at its very
    /// end is its own (an invalid type, a missing field); malformed JSON or the end of the data
    /// there is what follows it.
    fn passes(&self, end: usize) -> bool {
        self.at > end || (!self.data_error && self.at == end)
    }

    /// Whether a scalar ending at `end` is over before the error: only the end of the data at
    /// its end is not its own (a number out of range is positioned at its end).
    fn scalar_passes(&self, end: usize) -> bool {
        self.at > end || (self.eof && self.at == end)
    }

    /// A node standing for the child at `path` of `node`, or for its unparsed key (`?`).
    fn child_node(node: &Node, path: Vec<Segment>) -> Node {
        Node {
            path,
            start: node.start,
            end: node.end,
            last_child: None,
            previous_sibling: None,
            first_child_of: None,
        }
    }

    /// The gap after a child (whitespace up to `,` or the closing bracket) is where serde_json
    /// positions a data error its child raised outside serde_json's frames.
    fn in_gap_after(&self, child: &Option<Vec<Segment>>, gap_end: usize) -> Option<Vec<Segment>> {
        child
            .clone()
            .filter(|_| self.data_error && self.at <= gap_end)
    }

    /// Reads the value starting at `start` (not whitespace); returns one past its end, or stops
    /// at the offset.
    fn value(
        &mut self,
        start: usize,
        previous_sibling: Option<Vec<Segment>>,
    ) -> Result<usize, Node> {
        let node = self.node(start, previous_sibling);
        let end = match self.data.get(start) {
            Some(b'{') => return self.object(node),
            Some(b'[') => return self.array(node),
            Some(b'"') => self.string_end(start),
            Some(b'-' | b'0'..=b'9') => self.number_end(start),
            Some(b't' | b'f' | b'n') => self.literal_end(start),
            _ => None,
        };
        match end {
            Some(end) if self.scalar_passes(end) => Ok(end),
            _ => {
                let mut node = node;
                node.end = end;
                Err(node)
            }
        }
    }

    /// A complete container that ends at or after the offset is the answer with its extent known
    /// (the offset may be its closing position); one that ends before it is passed over.
    fn close(
        &mut self,
        mut node: Node,
        end: usize,
        last_child: Option<Vec<Segment>>,
    ) -> Result<usize, Node> {
        if self.passes(end) {
            return Ok(end);
        }
        node.end = Some(end);
        node.last_child = last_child;
        Err(node)
    }

    fn object(&mut self, node: Node) -> Result<usize, Node> {
        // An error at the opening bracket (a container where another kind was expected).
        if self.at <= node.start {
            return Err(node);
        }
        let mut i = self.skip_ws(node.start + 1);
        let mut last_child: Option<Vec<Segment>> = None;
        loop {
            if let Some(child) = self.in_gap_after(&last_child, i) {
                return Err(Self::child_node(&node, child));
            }
            // A key. Until it has been read, an error belongs to serde_json's `next_key` (a
            // missing comma, a trailing one, the end of the data, a key that is not a string),
            // which serde_path_to_error names `?`: it had no key to name.
            let key_end = match (self.data.get(i), last_child.is_some()) {
                (Some(b'}'), _) => return self.close(node, i + 1, last_child),
                (Some(b'"'), false) => self.string_end(i),
                (Some(b','), true) => {
                    i = self.skip_ws(i + 1);
                    match self.data.get(i) {
                        Some(b'"') => self.string_end(i),
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some(key_end) = key_end.filter(|&end| self.at >= end) else {
                let mut path = self.path.clone();
                path.push(Segment::Unknown);
                let mut key = Self::child_node(&node, path);
                key.start = i;
                // serde_json positions a container its visitor refused unread at the first key.
                key.first_child_of = last_child.is_none().then(|| self.path.clone());
                return Err(key);
            };
            let key = decode_key(&self.data[i + 1..key_end - 1]);
            let colon = self.skip_ws(key_end);
            if self.at <= colon || self.data.get(colon) != Some(&b':') {
                // Between the key and its value (a duplicate key is refused here): the object's.
                return Err(node);
            }
            let value_start = self.skip_ws(colon + 1);
            self.path.push(Segment::Key(key));
            let result = self.value(value_start, None);
            let child = self.path.clone();
            self.path.pop();
            let end = result?;
            last_child = Some(child);
            i = self.skip_ws(end);
        }
    }

    fn array(&mut self, node: Node) -> Result<usize, Node> {
        // An error at the opening bracket (a container where another kind was expected).
        if self.at <= node.start {
            return Err(node);
        }
        let mut i = self.skip_ws(node.start + 1);
        let mut last_child: Option<Vec<Segment>> = None;
        let mut index = 0;
        loop {
            if let Some(child) = self.in_gap_after(&last_child, i) {
                return Err(Self::child_node(&node, child));
            }
            match self.data.get(i) {
                Some(b']') => return self.close(node, i + 1, last_child),
                Some(b',') if index > 0 => {
                    let next = self.skip_ws(i + 1);
                    // A trailing comma or the end of the data: serde_json's `SeqAccess` fails
                    // before an element begins, so the array is named.
                    if matches!(self.data.get(next), None | Some(b']')) {
                        return Err(node);
                    }
                    // An array its visitor stopped reading (a tuple of fewer items):
                    // serde_json's `end_seq` refuses the next element at its first byte.
                    if self.trailing && self.at == next + 1 {
                        return Err(node);
                    }
                    i = next;
                }
                // The end of the data, or a missing comma: the array's `SeqAccess` fails.
                None => return Err(node),
                _ if index > 0 => return Err(node),
                _ => {}
            }
            if self.at < i {
                return Err(node);
            }
            self.path.push(Segment::Index(index));
            let result = self.value(i, last_child.take());
            let child = self.path.clone();
            self.path.pop();
            let end = result?;
            last_child = Some(child);
            index += 1;
            i = self.skip_ws(end);
        }
    }

    /// One past the closing quote of the string at `start`, or `None` if it never closes.
    fn string_end(&self, start: usize) -> Option<usize> {
        let mut i = start + 1;
        while let Some(&b) = self.data.get(i) {
            match b {
                b'"' => return Some(i + 1),
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        None
    }

    /// One past the end of the number at `start`, or `None` if it breaks JSON's number grammar
    /// (serde_json's error is then inside it).
    fn number_end(&self, start: usize) -> Option<usize> {
        let digits = |mut i: usize| {
            let from = i;
            while matches!(self.data.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            (i > from).then_some(i)
        };
        let mut i = start + usize::from(self.data[start] == b'-');
        i = match self.data.get(i) {
            Some(b'0') => i + 1,
            _ => digits(i)?,
        };
        if self.data.get(i) == Some(&b'.') {
            i = digits(i + 1)?;
        }
        if matches!(self.data.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(self.data.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            i = digits(i)?;
        }
        // serde_json reads a digit after a leading zero as part of the number and refuses it.
        (!matches!(self.data.get(i), Some(b'0'..=b'9'))).then_some(i)
    }

    /// One past the end of `true`, `false` or `null` at `start`; `None` if it is not one.
    fn literal_end(&self, start: usize) -> Option<usize> {
        [&b"true"[..], b"false", b"null"]
            .into_iter()
            .find(|word| self.data[start..].starts_with(word))
            .map(|word| start + word.len())
    }
}

/// A key's text as serde_json decodes it (escapes resolved); the raw text if it does not parse.
pub(crate) fn decode_key(raw: &[u8]) -> String {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted)
        .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
mod tests {
    //! The positions serde_json cannot make unambiguous, held to `serde_path_to_error` (the
    //! path-tracking decode this module replaces) on types that raise errors outside serde_json's
    //! frames. `tests/tests/decode_paths.rs` compares the two on the generated types.

    use serde::Deserialize;

    /// A string refused after it was read, as typify's constrained strings (`TryFrom`) are.
    #[derive(Debug)]
    struct Code(#[allow(dead_code)] String);

    impl<'de> Deserialize<'de> for Code {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = String::deserialize(d)?;
            if text.len() == 3 {
                Ok(Code(text))
            } else {
                Err(serde::de::Error::custom("a code has 3 letters"))
            }
        }
    }

    /// An object refused after it was read whole, as a buffered union is.
    #[derive(Debug)]
    struct Buffered;

    impl<'de> Deserialize<'de> for Buffered {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            match serde_json::Value::deserialize(d)? {
                serde_json::Value::Object(map) if map.contains_key("kind") => Ok(Buffered),
                _ => Err(serde::de::Error::custom("no kind")),
            }
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        codes: Vec<Code>,
        inner: Option<Box<Doc>>,
        last: Option<Code>,
        unions: Option<Vec<Buffered>>,
        pair: Option<(u8, Code)>,
        count: Option<u8>,
    }

    fn reference(data: &str) -> (String, String) {
        let mut de = serde_json::Deserializer::from_str(data);
        match serde_path_to_error::deserialize::<_, Doc>(&mut de) {
            Err(err) => {
                let path = err.path().to_string();
                let path = if path == "." { "$".to_owned() } else { path };
                (path, err.into_inner().to_string())
            }
            Ok(_) => ("$".to_owned(), de.end().unwrap_err().to_string()),
        }
    }

    fn located(data: &str) -> (String, String) {
        let (path, message) = crate::decode::<Doc>(data.as_bytes()).unwrap_err();
        (path, message)
    }

    #[test]
    fn errors_raised_after_a_value_was_read_are_named_at_that_value() {
        let cases = [
            // The last field: positioned after the closing brace of its object.
            r#"{"name":"a","codes":[],"last":"toolong"}"#,
            "{\n  \"name\": \"a\",\n  \"codes\": [],\n  \"last\": \"toolong\"\n}",
            // The last element: after the closing bracket of its array.
            r#"{"name":"a","codes":["abc","toolong"]}"#,
            // Not the last element: at the start of the next one.
            r#"{"name":"a","codes":["toolong","abc"]}"#,
            r#"{"name":"a","codes":["toolong", ["abc"]]}"#,
            // Not the last field: at the comma (after whitespace).
            r#"{"name":"a","last":"toolong" ,"codes":[]}"#,
            // Deeper, and in a buffered value.
            r#"{"name":"a","codes":[],"inner":{"name":"b","codes":["x"]}}"#,
            r#"{"name":"a","codes":[],"unions":[{"kind":1},{"other":2}]}"#,
            r#"{"name":"a","codes":[],"unions":[{"other":2},{"kind":1}]}"#,
            r#"{"name":"a","codes":[],"pair":[1,"toolong"]}"#,
            // The container's own errors at the same positions.
            r#"{"name":"a","codes":[],"inner":{"name":"b"}}"#,
            r#"{"name":"a","codes":[],"pair":[1]}"#,
            r#"{"name":"a","codes":[],"pair":[1,"abc",3]}"#,
            r#"{"name":"a","codes":[],"count":[7]}"#,
            r#"{"name":"a","codes":[],"count":{"a":1}}"#,
            r#"{"name":"a","codes":[[1]]}"#,
            r#"{"name":"a","codes":{}}"#,
            r#"{"name":"a","codes":[],"count":300}"#,
            r#"{"name":"a","codes":[],"count":1e999}"#,
            r#"{"name":"a","name":"b","codes":[]}"#,
            r#"{"name":"a","codes":[]} x"#,
            r#"{"name":"a","codes":[}"#,
            r#"{"name":"a","codes":["abc",]}"#,
            r#"{"name":"a" "codes":[]}"#,
            r#"{"name":"a","codes":[],}"#,
            r#"{"name":"a","codes":[],"inner":{"na"#,
            r#"[]"#,
            r#""#,
        ];
        for data in cases {
            assert_eq!(located(data), reference(data), "{data}");
        }
    }
}
