//! Runs typify on one normalized schema, in isolation, and never lets one schema fail regen.
//!
//! typify can panic rather than return an error on some inputs, and one `TypeSpace` shared by
//! several operations merges same-named definitions, so every schema gets its own `TypeSpace`
//! behind `catch_unwind`. When a schema cannot be typed, the smallest failing subschemas are
//! replaced by "any JSON value" (`{}` → `serde_json::Value`) and a warning names their pointer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

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
pub(crate) fn type_schema(schema: &Value) -> TypedSchema {
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
    let definitions = schema.get("definitions").cloned();
    // Deepest subschemas first: the first one that fails on its own is the culprit, and its
    // ancestors are retried with it already replaced.
    let mut pointers = subschema_pointers(schema);
    pointers.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for pointer in pointers {
        let Some(sub) = working.pointer(&pointer).cloned() else {
            continue;
        };
        let probe = probe_root(&sub, definitions.as_ref());
        if let Err(err) = run_typify(&probe) {
            if let Some(slot) = working.pointer_mut(&pointer) {
                *slot = any_value_schema(&sub);
                fallbacks.push((pointer, err));
            }
        }
    }
    match run_typify(&working) {
        Ok(file) => TypedSchema { file, fallbacks },
        Err(_) => {
            // Nothing narrower helped: the whole root becomes any JSON value.
            let mut root = Map::new();
            for key in ["title", "description"] {
                if let Some(v) = schema.get(key) {
                    root.insert(key.into(), v.clone());
                }
            }
            let file = run_typify(&Value::Object(root)).unwrap_or_else(|_| syn::parse_quote! {});
            TypedSchema {
                file,
                fallbacks: vec![("".into(), first_error)],
            }
        }
    }
}

fn any_value_schema(original: &Value) -> Value {
    let mut map = Map::new();
    if let Some(description) = original.get("description") {
        map.insert("description".into(), description.clone());
    }
    Value::Object(map)
}

fn probe_root(sub: &Value, definitions: Option<&Value>) -> Value {
    let mut probe = match sub {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    probe.insert("title".into(), Value::String("Probe".into()));
    if let Some(defs) = definitions {
        probe.insert("definitions".into(), defs.clone());
    }
    Value::Object(probe)
}

/// JSON pointers of every subschema under `schema`, excluding the root.
pub(crate) fn subschema_pointers(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(schema, "", &mut out);
    out
}

fn collect(schema: &Value, pointer: &str, out: &mut Vec<String>) {
    let Value::Object(map) = schema else { return };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("properties" | "definitions", Value::Object(children)) => {
                for (name, child) in children {
                    let p = format!("{pointer}/{key}/{}", crate::normalize::escape_pointer(name));
                    out.push(p.clone());
                    collect(child, &p, out);
                }
            }
            ("items" | "anyOf" | "oneOf" | "allOf", Value::Array(children)) => {
                for (i, child) in children.iter().enumerate() {
                    let p = format!("{pointer}/{key}/{i}");
                    out.push(p.clone());
                    collect(child, &p, out);
                }
            }
            ("items" | "additionalProperties" | "additionalItems", Value::Object(_)) => {
                let p = format!("{pointer}/{key}");
                out.push(p.clone());
                collect(value, &p, out);
            }
            _ => {}
        }
    }
}
