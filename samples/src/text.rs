//! `string` generation: free text, `format`s, and `pattern`s (ECMA-262 syntax, translated to the
//! `regex` crate's dialect, generated with `rand_regex` and verified with `regex`), under
//! `minLength`/`maxLength` counted in code points.

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};
use serde_json::{Map, Value};

use crate::generator::{str_kw, unsat, usize_kw, Generator, MAX_LEN};
use crate::SampleError;

/// Attempts at a pattern-generated string that also meets the format and length limits, and
/// then again at a format-generated one that also matches the pattern.
const STRING_TRIES: usize = 96;
/// Nesting limit for parsing patterns (a hostile pattern cannot overflow the stack).
const PATTERN_NEST_LIMIT: u32 = 64;
/// Compiled-size limit for verifying regexes.
const REGEX_SIZE_LIMIT: usize = 1 << 21;

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze", "ba", "do", "fi", "gu", "ha", "jo",
    "ku", "le", "mo", "na", "po", "ri", "su", "te", "wa", "yo",
];

/// Characters that exercise JSON escaping and UTF-8 handling.
const SPECIAL_CHARS: &[char] = &[
    'é', '"', '\\', '\n', '\t', '/', '🦀', '中', 'ß', '\u{7f}', '\u{2028}', '<', '&', '\'',
];

/// A lowercase word of 1..=3 syllables.
fn word(rng: &mut ChaCha8Rng) -> String {
    (0..rng.gen_range(1..=3))
        .map(|_| SYLLABLES[rng.gen_range(0..SYLLABLES.len())])
        .collect()
}

/// A random string with between `min` and `max` code points: syllable words, sometimes with a
/// character that needs escaping or is outside ASCII.
pub(crate) fn free_string(rng: &mut ChaCha8Rng, min: usize, max: usize) -> String {
    let soft_max = max.min(min.max(24));
    let target = if min == 0 && rng.gen_ratio(1, 10) {
        0
    } else {
        rng.gen_range(min.max(1).min(soft_max)..=soft_max)
    };
    let mut chars: Vec<char> = Vec::with_capacity(target);
    while chars.len() < target {
        if !chars.is_empty() {
            chars.push(if rng.gen_ratio(1, 6) { '-' } else { ' ' });
        }
        chars.extend(word(rng).chars());
    }
    chars.truncate(target);
    if !chars.is_empty() && rng.gen_ratio(1, 6) {
        let at = rng.gen_range(0..chars.len());
        chars[at] = SPECIAL_CHARS[rng.gen_range(0..SPECIAL_CHARS.len())];
    }
    chars.into_iter().collect()
}

/// A record key such as `rec_kalomi`.
pub(crate) fn record_key(rng: &mut ChaCha8Rng) -> String {
    format!("rec_{}", word(rng))
}

/// Compiled patterns of one generation run: verifiers by pattern, generators by pattern and
/// repeat bound. Failures are cached too, as their message.
#[derive(Default)]
pub(crate) struct PatternCache {
    verifiers: HashMap<String, Result<regex::Regex, String>>,
    generators: HashMap<(String, u32), Result<rand_regex::Regex, String>>,
}

impl PatternCache {
    fn verifier_result(&mut self, pattern: &str) -> &Result<regex::Regex, String> {
        self.verifiers
            .entry(pattern.to_string())
            .or_insert_with(|| {
                regex::RegexBuilder::new(&ecma_to_rust(pattern))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .nest_limit(PATTERN_NEST_LIMIT)
                    .build()
                    .map_err(|e| e.to_string())
            })
    }

    /// The verifying regex of `pattern`, `None` if it does not compile.
    pub(crate) fn verifier(&mut self, pattern: &str) -> Option<&regex::Regex> {
        self.verifier_result(pattern).as_ref().ok()
    }

    /// Compiles (once) and returns the verifier and the generator of `pattern`.
    fn compiled(
        &mut self,
        pattern: &str,
        max_repeat: u32,
    ) -> Result<(&regex::Regex, &rand_regex::Regex), String> {
        self.verifier_result(pattern);
        let key = (pattern.to_string(), max_repeat);
        if !self.generators.contains_key(&key) {
            let compiled = compile_generator(pattern, max_repeat);
            self.generators.insert(key.clone(), compiled);
        }
        let verifier = match self.verifiers.get(pattern) {
            Some(Ok(verifier)) => verifier,
            Some(Err(message)) => return Err(message.clone()),
            None => return Err("pattern cache miss".into()),
        };
        match self.generators.get(&key) {
            Some(Ok(generator)) => Ok((verifier, generator)),
            Some(Err(message)) => Err(message.clone()),
            None => Err("pattern cache miss".into()),
        }
    }
}

fn compile_generator(pattern: &str, max_repeat: u32) -> Result<rand_regex::Regex, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(PATTERN_NEST_LIMIT)
        .build()
        .parse(&ecma_to_rust(pattern))
        .map_err(|e| e.to_string())?;
    if hir
        .properties()
        .minimum_len()
        .is_some_and(|len| len > 4 * MAX_LEN)
    {
        return Err(format!("matches need more than {MAX_LEN} characters"));
    }
    rand_regex::Regex::with_hir(strip_looks(hir), max_repeat).map_err(|e| e.to_string())
}

/// Removes anchors and word-boundary assertions, which `rand_regex` cannot generate; candidates
/// are verified against the full pattern afterwards.
fn strip_looks(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Empty | HirKind::Look(_) => Hir::empty(),
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(strip_looks(*rep.sub)),
            ..rep
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            sub: Box::new(strip_looks(*cap.sub)),
            ..cap
        }),
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(strip_looks).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.into_iter().map(strip_looks).collect()),
    }
}

/// Translates an ECMA-262 pattern to the `regex` crate's syntax where they differ: `\d`, `\w`
/// and their negations are ASCII-only, `.` excludes all line terminators, `\uXXXX` escapes, and a
/// `[` or set operator inside a class is literal.
pub(crate) fn ecma_to_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[A-Za-z0-9_]"),
                Some('W') => out.push_str("[^A-Za-z0-9_]"),
                Some('u') if chars.peek() != Some(&'{') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push_str(&format!("\\x{{{hex}}}"));
                }
                Some('/') => out.push('/'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' if in_class => out.push_str("\\["),
            '[' => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                // A leading `]` is literal in Rust but closes an (empty) class in ECMA.
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && chars.peek() == Some(&'-') => out.push_str("\\-"),
            '.' if !in_class => out.push_str("[^\\n\\r\\x{2028}\\x{2029}]"),
            other => out.push(other),
        }
    }
    out
}

pub(crate) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

fn gen_date(rng: &mut ChaCha8Rng) -> String {
    let year = rng.gen_range(1970..=2099);
    let month = rng.gen_range(1..=12);
    let day = rng.gen_range(1..=days_in_month(year, month));
    format!("{year:04}-{month:02}-{day:02}")
}

fn gen_time(rng: &mut ChaCha8Rng) -> String {
    let mut out = format!(
        "{:02}:{:02}:{:02}",
        rng.gen_range(0..24),
        rng.gen_range(0..60),
        rng.gen_range(0..60)
    );
    if rng.gen_ratio(2, 5) {
        out.push('.');
        for _ in 0..rng.gen_range(1..=6) {
            out.push(char::from(b'0' + rng.gen_range(0..10u8)));
        }
    }
    out.push('Z');
    out
}

fn gen_hostname(rng: &mut ChaCha8Rng) -> String {
    const DOMAINS: &[&str] = &[
        "example.com",
        "example.org",
        "test.example",
        "mail.example.net",
    ];
    let domain = DOMAINS[rng.gen_range(0..DOMAINS.len())];
    if rng.gen_bool(0.5) {
        format!("{}.{domain}", word(rng))
    } else {
        domain.to_string()
    }
}

fn gen_uuid(rng: &mut ChaCha8Rng) -> String {
    let mut bytes: [u8; 16] = rng.gen();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn gen_uri(rng: &mut ChaCha8Rng) -> String {
    let scheme = if rng.gen_ratio(4, 5) { "https" } else { "http" };
    let mut out = format!("{scheme}://{}", gen_hostname(rng));
    for _ in 0..rng.gen_range(0..=3) {
        out.push('/');
        out.push_str(&word(rng));
    }
    if rng.gen_ratio(1, 3) {
        out.push_str(&format!("?{}={}", word(rng), rng.gen_range(0..1000)));
    }
    out
}

/// A string in `format`, or `None` for formats this crate does not generate (they are then
/// treated as plain strings, as validators do with unknown formats).
fn gen_format(format: &str, rng: &mut ChaCha8Rng) -> Option<String> {
    Some(match format {
        "date" => gen_date(rng),
        "date-time" => format!("{}T{}", gen_date(rng), gen_time(rng)),
        "time" => gen_time(rng),
        "email" | "idn-email" => {
            let mut local = word(rng);
            if rng.gen_bool(0.3) {
                local.push('.');
                local.push_str(&word(rng));
            }
            if rng.gen_bool(0.2) {
                local.push('+');
                local.push_str(&word(rng));
            }
            format!("{local}@{}", gen_hostname(rng))
        }
        "uri" | "uri-reference" | "iri" | "iri-reference" => gen_uri(rng),
        "uuid" => gen_uuid(rng),
        "ipv4" => {
            let octets: [u8; 4] = rng.gen();
            format!("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3])
        }
        "ipv6" => {
            let groups: [u16; 4] = rng.gen();
            format!(
                "2001:db8::{:x}:{:x}:{:x}:{:x}",
                groups[0], groups[1], groups[2], groups[3]
            )
        }
        "hostname" | "idn-hostname" => gen_hostname(rng),
        "json-pointer" => format!("/{}/{}", word(rng), rng.gen_range(0..10)),
        "relative-json-pointer" => format!("{}/{}", rng.gen_range(0..3), word(rng)),
        "duration" => format!("P{}DT{}H", rng.gen_range(0..30), rng.gen_range(0..24)),
        "regex" => "^[a-z]+$".to_string(),
        _ => return None,
    })
}

fn valid_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m),
        _ => false,
    }
}

fn valid_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(h), Some(m), Some(sec)) = (num(0..2), num(3..5), num(6..8)) else {
        return false;
    };
    if h > 23 || m > 59 || sec > 59 {
        return false;
    }
    let mut rest = &s[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &frac[digits..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', ..] => {
            rest.len() == 6
                && rest.as_bytes()[3] == b':'
                && num_in(&rest[1..3], 23)
                && num_in(&rest[4..6], 59)
        }
        _ => false,
    }
}

fn num_in(s: &str, max: u32) -> bool {
    s.bytes().all(|c| c.is_ascii_digit()) && s.parse::<u32>().is_ok_and(|n| n <= max)
}

/// Whether `s` is in `format`: `Some(bool)` for the formats checked here, `None` for others.
/// Stricter than or equal to common validators for the strings this crate generates.
pub(crate) fn format_ok(format: &str, s: &str) -> Option<bool> {
    Some(match format {
        "date" => valid_date(s),
        "time" => valid_time(s),
        "date-time" => match s.find(['T', 't']) {
            Some(t) => valid_date(&s[..t]) && valid_time(&s[t + 1..]),
            None => false,
        },
        "uuid" => {
            let b = s.as_bytes();
            b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                })
        }
        "email" => match s.rsplit_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !local.starts_with('.')
                    && !local.ends_with('.')
                    && !local.contains("..")
                    && local
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&c))
                    && valid_hostname(domain)
            }
            None => false,
        },
        "uri" => match s.split_once(':') {
            Some((scheme, rest)) => {
                let mut scheme_chars = scheme.chars();
                scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme_chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                    && rest.bytes().all(|c| {
                        c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&c)
                    })
            }
            None => false,
        },
        "hostname" => valid_hostname(s),
        "ipv4" => {
            s.parse::<std::net::Ipv4Addr>().is_ok()
                && !s.split('.').any(|o| o.len() > 1 && o.starts_with('0'))
        }
        _ => return None,
    })
}

/// A `string` instance of the schema object `map`.
pub(crate) fn string(
    generator: &mut Generator<'_>,
    map: &Map<String, Value>,
    ptr: &str,
) -> Result<Value, SampleError> {
    let min = usize_kw(map, "minLength", ptr)?.unwrap_or(0);
    let max = usize_kw(map, "maxLength", ptr)?.unwrap_or(usize::MAX);
    if min > max {
        return Err(unsat(
            ptr,
            format!("`minLength` {min} exceeds `maxLength` {max}"),
        ));
    }
    if min > MAX_LEN {
        return Err(unsat(
            ptr,
            format!("`minLength` {min} exceeds the {MAX_LEN} this generator makes"),
        ));
    }
    let format = str_kw(map, "format", ptr)?;
    let pattern = str_kw(map, "pattern", ptr)?;
    let length_ok = |s: &str| (min..=max).contains(&s.chars().count());
    let realistic = generator.options.realistic;
    let Some(pattern) = pattern else {
        let rng = &mut generator.rng;
        // Realistic free text is whole neutral words: random syllables can spell anything.
        let free = |rng: &mut ChaCha8Rng| {
            if realistic {
                crate::realistic::neutral_text(rng, min, max)
            } else {
                free_string(rng, min, max)
            }
        };
        let Some(format) = format else {
            return Ok(Value::String(free(rng)));
        };
        for _ in 0..STRING_TRIES {
            match gen_format(format, rng) {
                // A format this crate does not know is not asserted: a plain string.
                None => return Ok(Value::String(free(rng))),
                Some(s) if length_ok(&s) => return Ok(Value::String(s)),
                Some(_) => {}
            }
        }
        return Err(unsat(
            ptr,
            format!("no `{format}` string found within `minLength` {min} / `maxLength` {max}"),
        ));
    };

    // `x*`, `x+` and `x{n,}` repeat up to `max_repeat` extra times: cycle through a few bounds so
    // that some candidates land within `minLength..=maxLength`.
    let cap = 4 * MAX_LEN;
    let mut repeats = vec![min.saturating_mul(2).saturating_add(8).min(cap)];
    if max != usize::MAX {
        repeats.push(max.min(cap));
    }
    if min > 0 {
        repeats.push(min.min(cap));
    }
    let anchored_start = pattern.starts_with('^');
    let anchored_end = pattern.ends_with('$') && !pattern.ends_with("\\$");
    let Generator { patterns, rng, .. } = generator;
    let format_ok_or_unknown = |s: &str| format.and_then(|f| format_ok(f, s)) != Some(false);
    for attempt in 0..STRING_TRIES {
        let max_repeat = u32::try_from(repeats[attempt % repeats.len()]).unwrap_or(u32::MAX);
        let (verifier, pattern_gen) =
            patterns
                .compiled(pattern, max_repeat)
                .map_err(|message| SampleError::BadPattern {
                    pointer: ptr.to_string(),
                    pattern: pattern.to_string(),
                    message,
                })?;
        let sampled: Result<String, _> = rng.sample(pattern_gen);
        let Ok(mut s) = sampled else { continue };
        // An unanchored pattern matches anywhere: surrounding text makes e.g. `@example\.com$`
        // yield whole e-mail addresses.
        if !anchored_start && attempt % 3 == 1 {
            s.insert_str(0, &word(rng));
        }
        if !anchored_end && attempt % 3 == 2 {
            s.push_str(&word(rng));
        }
        if verifier.is_match(&s) && length_ok(&s) && format_ok_or_unknown(&s) {
            return Ok(Value::String(s));
        }
    }
    let Some(verifier) = patterns.verifier(pattern) else {
        return Err(unsat(ptr, "pattern does not compile"));
    };
    if let Some(format) = format {
        for _ in 0..STRING_TRIES {
            match gen_format(format, rng) {
                Some(s) if verifier.is_match(&s) && length_ok(&s) => return Ok(Value::String(s)),
                Some(_) => {}
                None => break,
            }
        }
    }
    Err(unsat(
        ptr,
        format!(
            "no string found that matches `pattern` {pattern:?}{} within `minLength` {min} / `maxLength` {max}",
            format.map(|f| format!(" and `format` {f:?}")).unwrap_or_default()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn ecma_classes_become_ascii() {
        assert_eq!(ecma_to_rust(r"^\d{2}$"), "^[0-9]{2}$");
        assert_eq!(ecma_to_rust(r"[\w-]"), "[[A-Za-z0-9_]-]");
        assert_eq!(ecma_to_rust(r"a\/b"), "a/b");
        assert_eq!(ecma_to_rust(r"\u00e9"), r"\x{00e9}");
        assert_eq!(ecma_to_rust("[a[]"), r"[a\[]");
        assert_eq!(ecma_to_rust("[&&]"), r"[\&\&]");
        assert_eq!(ecma_to_rust("a.b[.]"), r"a[^\n\r\x{2028}\x{2029}]b[.]");
        assert_eq!(ecma_to_rust(r"\\d"), r"\\d");
    }

    #[test]
    fn generated_formats_pass_their_checks() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for format in [
            "date",
            "date-time",
            "time",
            "email",
            "uri",
            "uuid",
            "ipv4",
            "hostname",
        ] {
            for _ in 0..500 {
                let s = gen_format(format, &mut rng).unwrap();
                assert_eq!(format_ok(format, &s), Some(true), "{format}: {s}");
            }
        }
        assert_eq!(format_ok("date", "2023-02-29"), Some(false));
        assert_eq!(format_ok("date", "2024-02-29"), Some(true));
        assert_eq!(format_ok("date-time", "2024-01-01T24:00:00Z"), Some(false));
        assert_eq!(
            format_ok("date-time", "2024-01-01T23:00:00+01:00"),
            Some(true)
        );
        assert_eq!(format_ok("uuid", "not-a-uuid"), Some(false));
        assert_eq!(format_ok("email", "@example.com"), Some(false));
        assert_eq!(format_ok("uri", "no scheme"), Some(false));
        assert_eq!(format_ok("x-unknown", "anything"), None);
    }

    #[test]
    fn free_strings_respect_lengths() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (min, max) in [(0, 0), (0, 1), (3, 5), (40, 40), (0, usize::MAX)] {
            for _ in 0..200 {
                let len = free_string(&mut rng, min, max).chars().count();
                assert!((min..=max).contains(&len), "{len} not in {min}..={max}");
            }
        }
    }
}
