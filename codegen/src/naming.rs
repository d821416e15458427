//! Identifier naming: turns catalog names (`mobileBillingStatement`, `apple-review`, `type`,
//! `über`, `1st`) into Rust identifiers, module names and cargo feature names, deterministically.
//!
//! Names come from Passage, so any string must give a valid, lint-clean identifier
//! (`non_snake_case`, `non_camel_case_types` under `-D warnings`):
//!
//! - **Words.** A name is split into words at ASCII punctuation, spaces and camelCase
//!   boundaries. Latin letters with diacritics are transliterated (`über` → `uber`, `ß` → `ss`);
//!   any other letter or digit outside ASCII becomes a word of its own, `u` and its code point in
//!   hex (`日本` → `u65e5_u672c`); other symbols separate words like punctuation.
//! - **Valid identifiers.** No words gives `unnamed` / `Unnamed`; a leading digit gets an `n` /
//!   `N` prefix (`1st` → `n1st`). Words are joined with one `_`, so a name never holds the `__`
//!   the `non_snake_case` lint refuses (a keyword inside a longer name needs no escape:
//!   `enum_read_result`).
//! - **Keywords.** A name that is a whole identifier and a Rust keyword is written raw (`r#type`,
//!   `r#match`); the four keywords that cannot be raw (`self`, `Self`, `super`, `crate`), and the
//!   names the generated crate uses itself (`types`, `registry`, ...), get a `_` suffix
//!   (`self_`).
//! - **Collisions.** Distinct catalog names can convert to the same identifier (`fooBar`,
//!   `foo_bar` and `foo-bar` are all `foo_bar`, and `über` and `uber` both `uber`). The first in
//!   the catalog's sorted order (byte order of the original names) keeps the plain name; each
//!   later one gets the smallest numeric suffix from 2 (`foo_bar_2`, `FooBar2`, `foo-bar-2`)
//!   that no other name of the same set has or would have plainly. The result depends only on
//!   the set of names, so it is the same on every run; adding a colliding name to the catalog
//!   can renumber the later ones of that collision, never the first.

use std::collections::{BTreeMap, BTreeSet};

/// Latin letters with diacritics (Latin-1 Supplement and Latin Extended-A) and the ASCII they
/// are written as: NFKD without the combining marks, or the usual spelling (`ß` → `ss`; `Æ` →
/// `Ae`, so that `Ærø` stays one word).
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'Æ' => "Ae",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ð' | 'Ď' | 'Đ' => "D",
        'ð' | 'ď' | 'đ' => "d",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĥ' | 'Ħ' => "H",
        'ĥ' | 'ħ' => "h",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'Ĳ' => "Ij",
        'ĳ' => "ij",
        'Ĵ' => "J",
        'ĵ' => "j",
        'Ķ' => "K",
        'ķ' | 'ĸ' => "k",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' | 'Ŋ' => "N",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'Œ' => "Oe",
        'œ' => "oe",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' => "S",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'Ţ' | 'Ť' | 'Ŧ' => "T",
        'ţ' | 'ť' | 'ŧ' => "t",
        'Þ' => "Th",
        'þ' => "th",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ŵ' => "W",
        'ŵ' => "w",
        'Ý' | 'Ŷ' | 'Ÿ' => "Y",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// Splits a name into lowercase ASCII words at separators and camelCase boundaries.
fn words(name: &str) -> Vec<String> {
    // Characters after transliteration, `None` marking a word boundary.
    let mut chars: Vec<Option<char>> = Vec::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            chars.push(Some(c));
        } else if let Some(ascii) = transliterate(c) {
            chars.extend(ascii.chars().map(Some));
        } else if c.is_alphanumeric() {
            chars.push(None);
            chars.extend(format!("u{:x}", c as u32).chars().map(Some));
            chars.push(None);
        } else {
            chars.push(None);
        }
    }
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, c) in chars.iter().enumerate() {
        let Some(c) = *c else {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        };
        let previous = i.checked_sub(1).and_then(|p| chars[p]);
        let next = chars.get(i + 1).copied().flatten();
        let boundary = c.is_ascii_uppercase()
            && previous.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `mobileBillingStatement` → `MobileBillingStatement`; `apple-review` → `AppleReview`;
/// `1st` → `N1st`. Meant to be joined with other parts (`{Resource}{Action}Result`), so a
/// keyword is not escaped (`Self` alone is one; `SelfReadResult` is not).
pub fn pascal(name: &str) -> String {
    let mut out: String = words(name).iter().map(|w| capitalized(w)).collect();
    if out.is_empty() {
        out.push_str("Unnamed");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'N');
    }
    out
}

/// The root type of an operation's schema: `{Resource}{Action}{suffix}`
/// (`PaymentMethodReadResult`), in the form typify gives it. typify names the root after the
/// schema's title with heck's PascalCase, which reads `BCReadResult` as the words `BC`, `Read`,
/// `Result` and writes `BcReadResult`: the aliases must name what typify wrote.
pub fn type_name(resource: &str, action: &str, suffix: &str) -> String {
    use heck::ToPascalCase;
    let mut name = format!("{}{}{suffix}", pascal(resource), pascal(action));
    // One pass settles it; the bound only guards against a heck that never would.
    for _ in 0..4 {
        let next = name.to_pascal_case();
        if next == name {
            break;
        }
        name = next;
    }
    name
}

/// The snake_case words of several names joined by `_`, as one identifier that is never a
/// keyword when it has more than one part: `("enum", "read", "result")` → `enum_read_result`.
/// An empty part counts as `unnamed`; a leading digit gets an `n` prefix.
pub fn snake_join(parts: &[&str]) -> String {
    let mut all = Vec::new();
    for part in parts {
        let words = words(part);
        if words.is_empty() {
            all.push("unnamed".to_string());
        } else {
            all.extend(words);
        }
    }
    let mut out = all.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'n');
    }
    out
}

/// `mobileBillingStatement` → `mobile_billing_statement`; `type` → `type_`. A complete
/// identifier that is never a keyword, usable where a raw identifier is not (a file name part,
/// a field). [`module_ident`] is the form for a module declared in the generated `lib.rs`.
pub fn snake(name: &str) -> String {
    let mut out = snake_join(&[name]);
    if is_keyword(&out) || is_reserved(&out) {
        out.push('_');
    }
    out
}

/// The identifier of a module of the generated crate named after `name`: `snake`, raw when it
/// is a keyword that can be raw (`type` → `r#type`), with a `_` suffix when it is one of
/// `self`, `super`, `crate` or a name the crate uses itself (`types` → `types_`).
pub fn module_ident(name: &str) -> String {
    let plain = snake_join(&[name]);
    if is_reserved(&plain) || matches!(plain.as_str(), "self" | "super" | "crate") {
        format!("{plain}_")
    } else if is_keyword(&plain) {
        format!("r#{plain}")
    } else {
        plain
    }
}

/// `r#type` → `type`: the file name and the text users read for a raw identifier.
pub fn unraw(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// A cargo feature name for an integration: the id itself when cargo accepts it as a bare TOML
/// key and it is not `default` or `full`; else `integration-` and its snake words with `-`.
pub fn feature(integration: &str) -> String {
    let valid = integration.starts_with(|c: char| c.is_ascii_alphanumeric())
        && integration
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid && !matches!(integration, "full" | "default") {
        integration.to_string()
    } else {
        format!(
            "integration-{}",
            snake_join(&[integration]).replace('_', "-")
        )
    }
}

/// Makes `candidates` distinct, in order: the first of equal names keeps it, each later one
/// gets the smallest `suffixed(name, n)` (n ≥ 2) that is not `reserved`, not the plain name of
/// any candidate and not already given. Reserved names are never given.
pub fn disambiguate(
    candidates: &[String],
    reserved: &BTreeSet<String>,
    suffixed: impl Fn(&str, usize) -> String,
) -> Vec<String> {
    let plain: BTreeSet<&str> = candidates.iter().map(String::as_str).collect();
    let mut given: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(candidates.len());
    for name in candidates {
        let mut chosen = name.clone();
        if reserved.contains(&chosen) || given.contains(&chosen) {
            let mut n = 2;
            loop {
                chosen = suffixed(name, n);
                if !reserved.contains(&chosen)
                    && !plain.contains(chosen.as_str())
                    && !given.contains(&chosen)
                {
                    break;
                }
                n += 1;
            }
        }
        given.insert(chosen.clone());
        out.push(chosen);
    }
    out
}

/// One catalog operation, by its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OperationKey<'a> {
    /// Integration id.
    pub integration: &'a str,
    /// Resource name.
    pub resource: &'a str,
    /// Action name.
    pub action: &'a str,
}

/// The names the generated crate gives to integrations and operations, every set made
/// distinct by [`disambiguate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateNames {
    /// Integration id → module identifier in `lib.rs` (possibly raw, `r#type`).
    pub modules: BTreeMap<String, String>,
    /// Integration id → cargo feature.
    pub features: BTreeMap<String, String>,
    /// Per operation (in the order given): its `OperationResult` variant.
    pub variants: Vec<String>,
    /// Per operation: the stem of its aliases in its integration's module
    /// (`{stem}Result`, `{stem}Arguments`).
    pub alias_stems: Vec<String>,
}

impl CrateNames {
    /// Names every integration and operation of `operations`, which the caller gives sorted
    /// (the order decides which of colliding names keeps the plain one).
    pub fn new(operations: &[OperationKey<'_>]) -> Self {
        let mut integrations: Vec<&str> = operations.iter().map(|op| op.integration).collect();
        integrations.sort_unstable();
        integrations.dedup();
        let module_candidates: Vec<String> = integrations.iter().map(|i| module_ident(i)).collect();
        let reserved_modules: BTreeSet<String> =
            RESERVED.iter().map(|name| name.to_string()).collect();
        let modules = disambiguate(&module_candidates, &reserved_modules, |name, n| {
            // `self_` → `self_2`: a `__` would trip `non_snake_case`.
            format!("{}_{n}", unraw(name).trim_end_matches('_'))
        });
        let feature_candidates: Vec<String> = integrations.iter().map(|i| feature(i)).collect();
        let reserved_features: BTreeSet<String> =
            ["default", "full"].iter().map(|f| f.to_string()).collect();
        let features = disambiguate(&feature_candidates, &reserved_features, |name, n| {
            format!("{name}-{n}")
        });
        let variant_candidates: Vec<String> = operations
            .iter()
            .map(|op| {
                format!(
                    "{}{}{}",
                    pascal(op.integration),
                    pascal(op.resource),
                    pascal(op.action)
                )
            })
            .collect();
        let reserved_variants: BTreeSet<String> = ["Unknown".to_string()].into();
        let variants = disambiguate(&variant_candidates, &reserved_variants, |name, n| {
            format!("{name}{n}")
        });
        // Aliases are distinct within their integration's module.
        let mut alias_stems = vec![String::new(); operations.len()];
        for integration in &integrations {
            let indices: Vec<usize> = (0..operations.len())
                .filter(|&i| operations[i].integration == *integration)
                .collect();
            let candidates: Vec<String> = indices
                .iter()
                .map(|&i| {
                    format!(
                        "{}{}",
                        pascal(operations[i].resource),
                        pascal(operations[i].action)
                    )
                })
                .collect();
            let stems = disambiguate(&candidates, &BTreeSet::new(), |name, n| {
                format!("{name}{n}")
            });
            for (i, stem) in indices.into_iter().zip(stems) {
                alias_stems[i] = stem;
            }
        }
        let by_integration = |names: Vec<String>| {
            integrations
                .iter()
                .map(|i| i.to_string())
                .zip(names)
                .collect::<BTreeMap<_, _>>()
        };
        CrateNames {
            modules: by_integration(modules),
            features: by_integration(features),
            variants,
            alias_stems,
        }
    }
}

/// Names the generated `lib.rs` declares or relies on at its root: a module named after an
/// integration must not be one of them.
const RESERVED: &[&str] = &[
    "types",
    "registry",
    "provenance",
    "integrations",
    "serde",
    "serde_json",
    "serde_path_to_error",
    "passage_generated_support",
    "std",
    "core",
    "alloc",
];

fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word)
}

/// Strict and reserved keywords of Rust 2015 to 2024.
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(pascal("mobileBillingStatement"), "MobileBillingStatement");
        assert_eq!(pascal("apple-review"), "AppleReview");
        assert_eq!(snake("apple-review"), "apple_review");
        assert_eq!(snake("mobileBillingStatement"), "mobile_billing_statement");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("3com"), "n3com");
        assert_eq!(pascal("---"), "Unnamed");
        assert_eq!(feature("apple-review"), "apple-review");
        assert_eq!(feature("a b"), "integration-a-b");
    }

    #[test]
    fn type_names_are_what_typify_writes() {
        assert_eq!(
            type_name("paymentMethod", "read", "Result"),
            "PaymentMethodReadResult"
        );
        assert_eq!(type_name("bC", "read", "Result"), "BcReadResult");
        assert_eq!(type_name("r", "1st", "Arguments"), "Rn1stArguments");
        assert_eq!(
            type_name("HTTPServer", "get", "Result"),
            "HttpServerGetResult"
        );
    }

    #[test]
    fn keywords_inside_longer_names_need_no_escape() {
        assert_eq!(snake_join(&["enum", "read", "result"]), "enum_read_result");
        assert_eq!(snake_join(&["self", "read", "result"]), "self_read_result");
        assert_eq!(snake_join(&["1st", "read"]), "n1st_read");
        assert_eq!(snake_join(&["_", "read"]), "unnamed_read");
    }

    #[test]
    fn whole_keywords_are_raw_where_rust_allows_it() {
        assert_eq!(module_ident("type"), "r#type");
        assert_eq!(module_ident("match"), "r#match");
        assert_eq!(module_ident("async"), "r#async");
        assert_eq!(module_ident("gen"), "r#gen");
        for name in ["self", "Self", "super", "crate"] {
            assert_eq!(
                module_ident(name),
                format!("{}_", name.to_lowercase()),
                "{name}"
            );
        }
        assert_eq!(module_ident("types"), "types_");
        assert_eq!(module_ident("serde"), "serde_");
        assert_eq!(unraw("r#type"), "type");
    }

    #[test]
    fn non_ascii_is_transliterated_or_spelled_by_code_point() {
        assert_eq!(snake("über"), "uber");
        assert_eq!(snake("naïve"), "naive");
        assert_eq!(pascal("Straße"), "Strasse");
        assert_eq!(snake("Ærø"), "aero");
        assert_eq!(snake("日本"), "u65e5_u672c");
        assert_eq!(pascal("日本"), "U65e5U672c");
        assert_eq!(snake("a€b"), "a_b");
        assert_eq!(feature("über"), "integration-uber");
    }

    #[test]
    fn collisions_get_the_smallest_free_suffix_in_order() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let out = disambiguate(
            &names(&["foo_bar", "foo_bar", "foo_bar_2", "foo_bar", "types"]),
            &["types".to_string()].into(),
            |n, i| format!("{n}_{i}"),
        );
        assert_eq!(
            out,
            names(&["foo_bar", "foo_bar_3", "foo_bar_2", "foo_bar_4", "types_2"])
        );
    }

    #[test]
    fn crate_names_are_distinct_for_names_that_convert_alike() {
        let ops = [
            ("foo-bar", "a", "read"),
            ("fooBar", "a", "read"),
            ("foo_bar", "a", "read"),
            ("x", "fooBar", "read"),
            ("x", "foo_bar", "read"),
            ("x", "unknown", "x"),
            ("self", "a", "read"),
            ("Self", "a", "read"),
        ];
        let keys: Vec<OperationKey> = ops
            .iter()
            .map(|&(integration, resource, action)| OperationKey {
                integration,
                resource,
                action,
            })
            .collect();
        let names = CrateNames::new(&keys);
        let modules: BTreeSet<&String> = names.modules.values().collect();
        assert_eq!(modules.len(), 6);
        assert_eq!(names.modules["Self"], "self_");
        assert_eq!(names.modules["self"], "self_2");
        assert_eq!(names.modules["foo-bar"], "foo_bar");
        assert_eq!(names.modules["fooBar"], "foo_bar_2");
        assert_eq!(names.modules["foo_bar"], "foo_bar_3");
        let variants: BTreeSet<&String> = names.variants.iter().collect();
        assert_eq!(variants.len(), ops.len());
        assert_eq!(names.alias_stems[3], "FooBarRead");
        assert_eq!(names.alias_stems[4], "FooBarRead2");
        assert_eq!(names.features["foo-bar"], "foo-bar");
        assert_eq!(names.features["fooBar"], "fooBar");
        // Deterministic: the same input gives the same names.
        assert_eq!(CrateNames::new(&keys), names);
    }
}
