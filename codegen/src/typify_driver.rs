//! Runs typify on one normalized schema, in isolation, and never lets one schema fail regen.
//!
//! typify can panic rather than return an error on some inputs, and one `TypeSpace` shared by
//! several operations merges same-named definitions, so every schema gets its own `TypeSpace`
//! behind `catch_unwind`. When a schema cannot be typed, the smallest failing subschemas are
//! replaced by "any JSON value" (`{}` → `serde_json::Value`) and a warning names their pointer.
//! The search for them is bounded by a deadline.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Instant;

use proc_macro2::TokenStream;
use serde_json::{Map, Value};
use typify::{TypeSpace, TypeSpaceSettings};

/// typify's outcome for one schema.
pub(crate) struct TypedSchema {
    /// The parsed code of every type the schema needs.
    pub file: syn::File,
    /// Pointers (into the normalized schema) that were typed as any JSON value, with the reason.
    pub fallbacks: Vec<(String, String)>,
}

/// Serializes panic-hook swaps: the hook is process-global.
static HOOK_LOCK: Mutex<()> = Mutex::new(());

fn settings() -> TypeSpaceSettings {
    let mut settings = TypeSpaceSettings::default();
    settings
        .with_struct_builder(false)
        .with_derive("PartialEq".to_string())
        .with_map_type("::std::collections::BTreeMap");
    settings
}

/// Runs typify once; a panic or an error becomes `Err` with a message.
pub(crate) fn run_typify(schema: &Value) -> Result<syn::File, String> {
    let root: schemars::schema::RootSchema = serde_json::from_value(schema.clone())
        .map_err(|err| format!("not a draft-07 schema: {err}"))?;
    let guard = HOOK_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<TokenStream, String> {
        let mut space = TypeSpace::new(&settings());
        space
            .add_root_schema(root)
            .map_err(|err| format!("typify: {err}"))?;
        Ok(space.to_stream())
    }));
    std::panic::set_hook(previous);
    drop(guard);
    let tokens = match outcome {
        Ok(result) => result?,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            return Err(format!("typify panicked: {message}"));
        }
    };
    syn::parse2::<syn::File>(tokens).map_err(|err| format!("typify produced invalid Rust: {err}"))
}

/// Types a normalized root schema, degrading failing subschemas to `serde_json::Value`.
///
/// The search is top-down: a subschema is probed (typed on its own, with the definitions it
/// reaches) only when its parent failed, so a schema with one bad corner costs a handful of
/// typify runs, not one per subschema. It stops at `deadline`: what is still failing then makes
/// the whole root `serde_json::Value`.
pub(crate) fn type_schema(schema: &Value, deadline: Instant) -> TypedSchema {
    let first_error = match run_typify(schema) {
        Ok(file) => {
            return TypedSchema {
                file,
                fallbacks: Vec::new(),
            }
        }
        Err(err) => err,
    };
    let mut working = schema.clone();
    let mut fallbacks = Vec::new();
    let mut search = Search {
        working: &mut working,
        fallbacks: &mut fallbacks,
        deadline,
    };
    search.isolate_children("");
    if Instant::now() < deadline {
        if let Ok(file) = run_typify(&working) {
            return TypedSchema { file, fallbacks };
        }
    }
    // Nothing narrower helped (or the budget ran out): the whole root becomes any JSON value.
    let reason = if Instant::now() >= deadline {
        format!(
            "over the time budget while isolating a typify failure ({})",
            short_reason(&first_error)
        )
    } else {
        short_reason(&first_error)
    };
    untyped(schema, &reason)
}

/// The root as one `serde_json::Value` type (keeping its title and description).
pub(crate) fn untyped(schema: &Value, reason: &str) -> TypedSchema {
    let mut root = Map::new();
    for key in ["title", "description"] {
        if let Some(v) = schema.get(key) {
            root.insert(key.into(), v.clone());
        }
    }
    let file = run_typify(&Value::Object(root)).unwrap_or_else(|_| syn::parse_quote! {});
    TypedSchema {
        file,
        fallbacks: vec![("".into(), reason.to_string())],
    }
}

struct Search<'a> {
    working: &'a mut Value,
    fallbacks: &'a mut Vec<(String, String)>,
    deadline: Instant,
}

impl Search<'_> {
    /// Probes each direct child of `pointer`; descends into the ones that fail.
    fn isolate_children(&mut self, pointer: &str) {
        let Some(node) = self.working.pointer(pointer) else {
            return;
        };
        for child in child_pointers(node, pointer) {
            if Instant::now() >= self.deadline {
                return;
            }
            if let Err(err) = self.probe(&child) {
                self.isolate(&child, err);
            }
        }
    }

    /// `pointer` fails on its own: fix its children first, then replace it if it still fails.
    fn isolate(&mut self, pointer: &str, err: String) {
        self.isolate_children(pointer);
        let err = match self.probe(pointer) {
            Ok(()) => return,
            Err(latest) if latest.is_empty() => err,
            Err(latest) => latest,
        };
        if let Some(slot) = self.working.pointer_mut(pointer) {
            *slot = any_value_schema(slot);
            self.fallbacks
                .push((pointer.to_string(), short_reason(&err)));
        }
    }

    fn probe(&self, pointer: &str) -> Result<(), String> {
        let Some(sub) = self.working.pointer(pointer) else {
            return Ok(());
        };
        run_typify(&probe_root(sub, self.working)).map(|_| ())
    }
}

/// typify's messages can embed a whole schema dump; a warning keeps the first line.
fn short_reason(reason: &str) -> String {
    let line = reason
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches([' ', '{']);
    if line.len() > 160 {
        let mut end = 160;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &line[..end])
    } else {
        line.to_string()
    }
}

fn any_value_schema(original: &Value) -> Value {
    let mut map = Map::new();
    if let Some(description) = original.get("description") {
        map.insert("description".into(), description.clone());
    }
    Value::Object(map)
}

/// `sub` as a root of its own, with the definitions it reaches (transitively) from `root`.
fn probe_root(sub: &Value, root: &Value) -> Value {
    let mut probe = match sub {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    probe.remove("definitions");
    probe.insert("title".into(), Value::String("Probe".into()));
    let empty = Map::new();
    let all = root
        .get("definitions")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut reached = Map::new();
    let mut queue = Vec::new();
    collect_refs(sub, &mut queue);
    while let Some(name) = queue.pop() {
        if reached.contains_key(&name) {
            continue;
        }
        if let Some(def) = all.get(&name) {
            reached.insert(name, def.clone());
            collect_refs(def, &mut queue);
        }
    }
    if !reached.is_empty() {
        probe.insert("definitions".into(), Value::Object(reached));
    }
    Value::Object(probe)
}

fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(name) = value
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/definitions/"))
                    {
                        out.push(name.to_string());
                    }
                } else {
                    collect_refs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// JSON pointers of the direct subschemas of the node at `pointer`.
pub(crate) fn child_pointers(node: &Value, pointer: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Value::Object(map) = node else { return out };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("properties" | "definitions", Value::Object(children)) => {
                for name in children.keys() {
                    out.push(format!(
                        "{pointer}/{key}/{}",
                        crate::normalize::escape_pointer(name)
                    ));
                }
            }
            ("items" | "anyOf" | "oneOf" | "allOf", Value::Array(children)) => {
                out.extend((0..children.len()).map(|i| format!("{pointer}/{key}/{i}")));
            }
            ("items" | "additionalProperties" | "additionalItems", Value::Object(_)) => {
                out.push(format!("{pointer}/{key}"));
            }
            _ => {}
        }
    }
    out
}
