//! The change report of `cargo xtask regen`: what changed between two catalogs, per operation,
//! whether each change breaks code built on the previous generated crate, the proof when it
//! does, what it does to the crate's Rust API, and the semver bump the crate needs.
//!
//! - **Wire verdicts by role** (`compat`): a result schema is read by old code, so it breaks
//!   when the new schema allows a payload the old types refuse; an arguments schema is written
//!   by old code, so it breaks when the new schema refuses what the old one let callers send.
//!   A change is marked BREAKING only with a counterexample payload the `jsonschema` validator
//!   accepts under one schema and refuses under the other; the field paths of the validator's
//!   refusal say which change it proves.
//! - **Rust API impact** (`api_diff`): the public items of the crate generated from each catalog,
//!   compared (a field added to a struct breaks struct literals, a variant added to an
//!   exhaustive enum breaks `match`es, ...), each listed with the operations whose types it is.
//! - **Semver** ([`Bump`]): `major` if any wire verdict or API change breaks, `minor` if the API
//!   only gained items, `patch` otherwise. The generated crate is 0.x, where cargo reads the
//!   minor number as the breaking one: `major` means 0.1.z → 0.2.0, `minor` and `patch` mean
//!   0.1.z → 0.1.(z+1). The report still says `semver: major|minor|patch`, the change's kind.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use passage_catalog::Catalog;
use serde_json::Value;

use crate::api_diff::{self, ApiChange, ApiSeverity, PublicApi};
use crate::compat::{SchemaPair, Side};
use crate::SchemaRole;

mod fields;

/// Whether a change can break code compiled against the previous generated types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    /// Existing code keeps compiling and decoding.
    Compatible,
    /// Existing code may stop compiling or decoding.
    Breaking,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `integration resource/action`.
    pub operation: String,
    /// The schema it is in; `None` for an operation added or removed.
    pub role: Option<SchemaRole>,
    /// What changed.
    pub description: String,
    /// Its wire impact.
    pub impact: Impact,
    /// Index into [`ChangeReport::counterexamples`] of the payload that proves a breaking
    /// verdict.
    pub counterexample: Option<usize>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.impact {
            Impact::Breaking => "BREAKING  ",
            Impact::Compatible => "compatible",
        };
        write!(f, "{tag} {}: {}", self.operation, self.description)?;
        if let Some(i) = self.counterexample {
            write!(f, " [counterexample {:02}]", i + 1)?;
        }
        Ok(())
    }
}

/// A payload valid under one schema of an operation and refused by the other, as checked by
/// the `jsonschema` validator.
#[derive(Debug, Clone, PartialEq)]
pub struct Counterexample {
    /// `integration resource/action`.
    pub operation: String,
    /// Result or arguments.
    pub role: SchemaRole,
    /// The schema that accepts it (`new` for results, `old` for arguments).
    pub valid_under: Side,
    /// The payload.
    pub payload: Value,
    /// Why the other schema refuses it (the validator's first message, with its JSON pointer).
    pub refused_because: String,
    /// Other operations with the very same pair of schemas, which this payload proves too.
    pub shared_with: Vec<String>,
}

/// One API change with the operations whose types it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiImpact {
    /// The change.
    pub change: ApiChange,
    /// `integration resource/action role` of every operation whose alias names a type of the
    /// item's module (old or new crate), or that is the alias itself.
    pub operations: Vec<String>,
}

/// The semver bump the generated crate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    /// Nothing a user can see changed.
    Patch,
    /// Additions only.
    Minor,
    /// Something breaks.
    Major,
}

impl Bump {
    /// `patch`, `minor` or `major`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// All changes between two catalogs, in a stable order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeReport {
    /// The changes.
    pub changes: Vec<Change>,
    /// The payloads that prove the breaking verdicts, numbered from 1 in the text.
    pub counterexamples: Vec<Counterexample>,
    /// The Rust API changes of the generated crate; `None` when the report was made from the
    /// catalogs alone ([`compare`]).
    pub api: Option<Vec<ApiImpact>>,
    /// Schema pairs the validator could not compile, so their changes keep the path rule's
    /// verdict without proof.
    pub unchecked: Vec<String>,
}

impl ChangeReport {
    /// Whether any change breaks, on the wire or in the Rust API.
    pub fn has_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.impact == Impact::Breaking)
            || self
                .api_changes()
                .any(|c| c.severity == ApiSeverity::Breaking)
    }

    fn api_changes(&self) -> impl Iterator<Item = &ApiChange> {
        self.api.iter().flatten().map(|i| &i.change)
    }

    /// The bump: `Major` if anything breaks, `Minor` if the API gained items (or, without an
    /// API diff, if the catalog changed at all), `Patch` otherwise.
    pub fn semver(&self) -> Bump {
        if self.has_breaking() {
            Bump::Major
        } else if self.api_changes().next().is_some()
            || (self.api.is_none() && !self.changes.is_empty())
        {
            Bump::Minor
        } else {
            Bump::Patch
        }
    }
}

impl fmt::Display for ChangeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            writeln!(f, "no catalog changes")?;
        } else {
            let breaking = self
                .changes
                .iter()
                .filter(|c| c.impact == Impact::Breaking)
                .count();
            writeln!(
                f,
                "{} catalog change(s), {breaking} breaking:",
                self.changes.len()
            )?;
            for change in &self.changes {
                writeln!(f, "  {change}")?;
            }
        }
        for (i, example) in self.counterexamples.iter().enumerate() {
            let refused_by = match example.valid_under {
                Side::Old => "new",
                Side::New => "old",
            };
            writeln!(
                f,
                "counterexample {:02} ({} {}{}): valid under the {} schema, refused by the {refused_by}: {}",
                i + 1,
                example.operation,
                role_name(example.role),
                if example.shared_with.is_empty() {
                    String::new()
                } else {
                    format!("; same schemas: {}", example.shared_with.join(", "))
                },
                example.valid_under.as_str(),
                example.refused_because
            )?;
            writeln!(f, "  {}", example.payload)?;
        }
        for note in &self.unchecked {
            writeln!(f, "unchecked: {note}")?;
        }
        if let Some(api) = &self.api {
            if api.is_empty() {
                writeln!(f, "Rust API of passage-generated: unchanged")?;
            } else {
                writeln!(f, "Rust API of passage-generated, {} change(s):", api.len())?;
                for impact in api {
                    write!(f, "  {}", impact.change)?;
                    if !impact.operations.is_empty() {
                        write!(f, " ({})", impact.operations.join("; "))?;
                    }
                    writeln!(f)?;
                }
            }
        }
        writeln!(f, "semver: {}", self.semver().as_str())
    }
}

/// `result` or `arguments`.
pub fn role_name(role: SchemaRole) -> &'static str {
    match role {
        SchemaRole::Result => "result",
        SchemaRole::Arguments => "arguments",
    }
}

/// Witnesses per (role, old schema, new schema), and the counterexample each payload became:
/// integrations that share a schema share its search and its proof.
type WitnessCache =
    BTreeMap<(u8, String, String), (Vec<crate::compat::Witness>, BTreeMap<String, usize>)>;

/// (integration, resource, action).
type OperationKey<'a> = (&'a str, &'a str, &'a str);
/// (result schema, arguments schema), borrowed from the catalog: a 2,000-operation catalog's
/// schemas were cloned (and dropped) on every regen only to be compared.
type SchemaPairs<'a> = (Option<&'a Value>, Option<&'a Value>);

fn index(catalog: &Catalog) -> BTreeMap<OperationKey<'_>, SchemaPairs<'_>> {
    catalog
        .operations()
        .map(|op| {
            (
                (op.integration, op.resource, op.action),
                (op.spec.result.as_ref(), op.spec.arguments.as_ref()),
            )
        })
        .collect()
}

/// Compares two catalogs on the wire: field changes, role verdicts and counterexamples; no
/// Rust API diff (see [`report`]).
pub fn compare(old: &Catalog, new: &Catalog) -> ChangeReport {
    let old_ops = index(old);
    let new_ops = index(new);
    let mut report = ChangeReport::default();
    let mut cache = WitnessCache::new();
    for (key, (old_result, old_args)) in &old_ops {
        let name = format!("{} {}/{}", key.0, key.1, key.2);
        match new_ops.get(key) {
            None => report.changes.push(Change {
                operation: name,
                role: None,
                // No new schema to check a payload against: the Rust API diff shows the
                // aliases that went with it.
                description: "operation removed".into(),
                impact: Impact::Breaking,
                counterexample: None,
            }),
            Some((new_result, new_args)) => {
                for (role, old, new) in [
                    (SchemaRole::Result, old_result, new_result),
                    (SchemaRole::Arguments, old_args, new_args),
                ] {
                    compare_schema(&name, role, *old, *new, &mut report, &mut cache);
                }
            }
        }
    }
    for key in new_ops.keys().filter(|k| !old_ops.contains_key(*k)) {
        report.changes.push(Change {
            operation: format!("{} {}/{}", key.0, key.1, key.2),
            role: None,
            description: "operation added".into(),
            impact: Impact::Compatible,
            counterexample: None,
        });
    }
    report
}

/// `a::b::c`, then its prefixes at each `::`, with and without the separator: `a::b::`,
/// `a::b`, `a::`, `a` (the keys an item's owners are stored under).
fn path_prefixes(item: &str) -> impl Iterator<Item = &str> {
    std::iter::once(item).chain(
        item.match_indices("::")
            .flat_map(move |(i, _)| [&item[..i + 2], &item[..i]]),
    )
}

/// The full report: [`compare`] plus the Rust API diff of the crates generated from the two
/// catalogs (`old_files` and `new_files` as `Generated::files` holds them: crate-relative path
/// → contents). Operations are attached to API changes through their per-integration aliases.
pub fn report(
    old: &Catalog,
    new: &Catalog,
    old_files: &BTreeMap<String, String>,
    new_files: &BTreeMap<String, String>,
) -> ChangeReport {
    let mut report = compare(old, new);
    // A file with the same text on both sides has the same items on both, so it can change
    // nothing in the diff: each side parses only the files that differ (at 2,000 operations,
    // parsing both crates whole was most of a regen after one schema changed). An unchanged
    // file that names a changed types module is still read, once, for its aliases: they tell
    // which operations the change touches.
    let (old_differing, new_differing) = (
        differing(old_files, new_files),
        differing(new_files, old_files),
    );
    let changed_modules: BTreeSet<&str> = old_differing
        .iter()
        .chain(&new_differing)
        .filter_map(|(path, _)| path.strip_prefix("src/types/")?.strip_suffix(".rs"))
        .collect();
    let unchanged_naming_them: Vec<(&String, &String)> = new_files
        .iter()
        .filter(|(path, text)| {
            old_files.get(*path) == Some(*text) && names_a_module(text, &changed_modules)
        })
        .collect();
    // The two sides are parsed side by side (a first regen's are thousands of files each).
    let (old_api, new_api, unchanged_api) = std::thread::scope(|scope| {
        let old_api = scope.spawn(|| PublicApi::from_files(old_differing));
        let new_api = PublicApi::from_files(new_differing);
        let unchanged_api = PublicApi::from_files(unchanged_naming_them);
        let old_api = old_api
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (old_api, new_api, unchanged_api)
    });
    // Item path prefix (a types module, or the alias itself) → operations it types.
    let mut owners: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (catalog, api) in [(old, &old_api), (new, &new_api)] {
        for op in catalog.operations() {
            let module =
                crate::naming::unraw(&crate::naming::module_ident(op.integration)).to_string();
            let stem = format!(
                "{}{}",
                crate::naming::pascal(op.resource),
                crate::naming::pascal(op.action)
            );
            for role in [SchemaRole::Result, SchemaRole::Arguments] {
                let suffix = if role == SchemaRole::Result {
                    "Result"
                } else {
                    "Arguments"
                };
                let alias = format!("{module}::{stem}{suffix}");
                let label = format!(
                    "{} {}/{} {}",
                    op.integration,
                    op.resource,
                    op.action,
                    role_name(role)
                );
                let target = api
                    .alias_target(&alias)
                    .or_else(|| unchanged_api.alias_target(&alias));
                if let Some(target) = target {
                    if let Some((target_module, _)) = target.rsplit_once("::") {
                        owners
                            .entry(format!("{target_module}::"))
                            .or_default()
                            .insert(label.clone());
                    }
                    owners.entry(alias).or_default().insert(label);
                }
            }
        }
    }
    let api = api_diff::compare(&old_api, &new_api)
        .into_iter()
        .map(|change| {
            // Looked up by the item's own path and each of its `::` prefixes, not by scanning
            // every owner: a catalog of 2,000 operations has thousands of changes and owners.
            let operations = path_prefixes(&change.item)
                .filter_map(|prefix| owners.get(prefix))
                .flatten()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            ApiImpact { change, operations }
        })
        .collect();
    report.api = Some(api);
    report
}

/// The files of `files` whose text is not the same in `other`.
fn differing<'a>(
    files: &'a BTreeMap<String, String>,
    other: &BTreeMap<String, String>,
) -> Vec<(&'a String, &'a String)> {
    files
        .iter()
        .filter(|(path, text)| other.get(*path) != Some(*text))
        .collect()
}

/// Whether `text` names one of `modules` as `types::{module}::` (how an alias names its type);
/// one pass over the text whatever the number of modules.
fn names_a_module(text: &str, modules: &BTreeSet<&str>) -> bool {
    !modules.is_empty()
        && text.match_indices("types::").any(|(at, prefix)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            rest[end..].starts_with("::") && modules.contains(&rest[..end])
        })
}

fn compare_schema(
    operation: &str,
    role: SchemaRole,
    old: Option<&Value>,
    new: Option<&Value>,
    report: &mut ChangeReport,
    cache: &mut WitnessCache,
) {
    let old = old.filter(|s| !s.is_null());
    let new = new.filter(|s| !s.is_null());
    let label = role_name(role);
    let lines = match (old, new) {
        (None, None) => return,
        (Some(a), Some(b)) if a == b => return,
        (Some(a), Some(b)) => fields::field_changes(role, a, b),
        (Some(_), None) | (None, Some(_)) => vec![fields::FieldChange {
            path: "$".into(),
            description: if old.is_some() {
                "schema removed"
            } else {
                "schema added"
            }
            .into(),
            may_break: true,
        }],
    };
    let pair = match SchemaPair::new(role, old, new) {
        Ok(pair) => pair,
        Err(why) => {
            // Without a validator there is no proof: keep the path rule's verdict and say so.
            report
                .unchecked
                .push(format!("{operation} {label}: {}", why.0));
            for line in lines {
                report.changes.push(Change {
                    operation: operation.to_string(),
                    role: Some(role),
                    description: format!("{label} {} (unchecked)", line.description),
                    impact: if line.may_break {
                        Impact::Breaking
                    } else {
                        Impact::Compatible
                    },
                    counterexample: None,
                });
            }
            return;
        }
    };
    let key = (
        role as u8,
        old.map(Value::to_string).unwrap_or_default(),
        new.map(Value::to_string).unwrap_or_default(),
    );
    let (witnesses, used) = cache
        .entry(key)
        .or_insert_with(|| (pair.witnesses(), BTreeMap::new()));
    let witnesses = witnesses.clone();
    let mut record = |witness: &crate::compat::Witness, report: &mut ChangeReport| -> usize {
        let index = *used.entry(witness.payload.to_string()).or_insert_with(|| {
            report.counterexamples.push(Counterexample {
                operation: operation.to_string(),
                role,
                valid_under: witness.valid_under,
                payload: witness.payload.clone(),
                refused_because: witness
                    .refusals
                    .first()
                    .map(|r| r.message.clone())
                    .unwrap_or_default(),
                shared_with: Vec::new(),
            });
            report.counterexamples.len() - 1
        });
        let example = &mut report.counterexamples[index];
        if example.operation != operation && !example.shared_with.iter().any(|o| o == operation) {
            example.shared_with.push(operation.to_string());
        }
        index
    };
    let mut proved_any = false;
    let lines_empty = lines.is_empty();
    for line in lines {
        let target = strip_members(&line.path);
        let proof = line
            .may_break
            .then(|| {
                witnesses.iter().find(|w| {
                    w.refusals.iter().any(|r| {
                        line.path == "$"
                            || r.path == target
                            || (r.union && target.starts_with(&r.path))
                    })
                })
            })
            .flatten();
        let (impact, counterexample, note) = match proof {
            Some(witness) => (Impact::Breaking, Some(record(witness, report)), ""),
            None if line.may_break => (Impact::Compatible, None, " (no counterexample found)"),
            None => (Impact::Compatible, None, ""),
        };
        proved_any |= counterexample.is_some();
        report.changes.push(Change {
            operation: operation.to_string(),
            role: Some(role),
            description: format!("{label} {}{note}", line.description),
            impact,
            counterexample,
        });
    }
    if lines_empty && witnesses.is_empty() {
        // Descriptions, titles or constraints changed; no field did, no payload breaks.
        report.changes.push(Change {
            operation: operation.to_string(),
            role: Some(role),
            description: format!("{label} schema changed (no field added, removed or retyped)"),
            impact: Impact::Compatible,
            counterexample: None,
        });
    }
    // A break no single field change explains (a pattern tightened, a union member changed
    // as a whole): reported for the schema, with its proof.
    if let (false, Some(witness)) = (proved_any, witnesses.first()) {
        let index = record(witness, report);
        let description = match role {
            SchemaRole::Result => {
                "result schema: a payload the new schema allows is refused by the old types"
            }
            SchemaRole::Arguments => {
                "arguments schema: a payload the old schema allowed is refused by the new one"
            }
        };
        report.changes.push(Change {
            operation: operation.to_string(),
            role: Some(role),
            description: description.into(),
            impact: Impact::Breaking,
            counterexample: Some(index),
        });
    }
}

/// `$.a<anyOf1>.b` → `$.a.b`: union members are not visible in a payload's path.
fn strip_members(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_items_owners_are_looked_up_by_its_path_and_each_prefix() {
        let prefixes: Vec<&str> = path_prefixes("types::m::T").collect();
        assert_eq!(
            prefixes,
            ["types::m::T", "types::", "types", "types::m::", "types::m"]
        );
        assert_eq!(path_prefixes("x").collect::<Vec<_>>(), ["x"]);
    }

    fn catalog(result: Value, arguments: Value) -> Catalog {
        Catalog::from_value(
            serde_json::json!({"providers":[{"id":"x","name":"X","resources":[
            {"name":"r","operations":{"read":{"arguments":arguments,"result":result}}}]}]}),
        )
        .unwrap()
    }

    #[test]
    fn classifies_field_and_enum_changes() {
        let old = catalog(
            serde_json::json!({"type":"object","required":["a","b"],"properties":{
                "a":{"type":"string"},"b":{"type":"number"},"c":{"type":"string","enum":["x","y"]}}}),
            serde_json::json!({"type":"object","properties":{"limit":{"type":"number"}}}),
        );
        let new = catalog(
            serde_json::json!({"type":"object","required":["a"],"properties":{
                "a":{"type":"integer"},"b":{"type":"number"},"c":{"type":"string","enum":["x","z"]},"d":{"type":"string"}}}),
            serde_json::json!({"type":"object","required":["token"],"properties":{"limit":{"type":"number"},"token":{"type":"string"}}}),
        );
        let report = compare(&old, &new);
        let text = report.to_string();
        assert!(
            text.contains("BREAKING   x r/read: result field `$.a` retyped: string -> integer"),
            "{text}"
        );
        assert!(
            text.contains("BREAKING   x r/read: result field `$.b` became optional"),
            "{text}"
        );
        assert!(
            text.contains("compatible x r/read: result field `$.c` enum value `z` added"),
            "{text}"
        );
        // Result enums are open: old types read a value the new schema no longer lists.
        assert!(
            text.contains("compatible x r/read: result field `$.c` enum value `y` removed"),
            "{text}"
        );
        assert!(
            text.contains("compatible x r/read: result field `$.d` added (string)"),
            "{text}"
        );
        assert!(
            text.contains("BREAKING   x r/read: arguments field `$.token` added (string)"),
            "{text}"
        );
        assert!(report.has_breaking());
    }

    #[test]
    fn operations_added_and_removed() {
        let old = catalog(serde_json::json!({"type":"object"}), Value::Null);
        let new = Catalog::from_value(
            serde_json::json!({"providers":[{"id":"y","name":"Y","resources":[
            {"name":"r","operations":{"read":{"arguments":null,"result":{"type":"object"}}}}]}]}),
        )
        .unwrap();
        let text = compare(&old, &new).to_string();
        assert!(
            text.contains("BREAKING   x r/read: operation removed"),
            "{text}"
        );
        assert!(
            text.contains("compatible y r/read: operation added"),
            "{text}"
        );
    }

    #[test]
    fn identical_catalogs_report_nothing() {
        let a = catalog(
            serde_json::json!({"$defs":{"N":{"type":"object","properties":{"n":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}),
            Value::Null,
        );
        assert_eq!(
            compare(&a, &a).to_string(),
            "no catalog changes\nsemver: patch\n"
        );
    }
}
