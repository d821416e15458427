//! Where typify runs. typify can exhaust memory or loop on a large schema (one public schema
//! drove it past 8 GiB), and no check between its steps is possible from outside, so the
//! choice of *where* each schema is typed is a setting: in this process ([`InProcessTyper`], the
//! default), or in child processes with a memory and time limit (what `cargo xtask regen` uses,
//! built on [`type_one`]). Either way the result of one schema is plain text plus the
//! pointers that fell back to `serde_json::Value`, so it can cross a process boundary.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A subschema typed as `serde_json::Value`, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    /// JSON pointer into the normalized schema; empty for the root.
    pub pointer: String,
    /// Why (typify's error, a panic message, a budget).
    pub reason: String,
}

/// Whether a fallback `reason` says more about the machine than about the schema: a time or
/// memory budget ran out, or the typing worker died or stopped answering (the wordings of
/// [`type_one`] and of `cargo xtask regen`'s worker processes). Another run may type such a
/// schema, so no cache may keep the result.
pub fn is_transient_reason(reason: &str) -> bool {
    const MACHINE: [&str; 5] = [
        "over the time budget",
        "over the memory budget",
        "typing worker",
        "typify overflowed its stack",
        "typify panicked outside its guard",
    ];
    MACHINE.iter().any(|prefix| reason.starts_with(prefix))
}

/// typify's output for one normalized schema, as Rust source text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedSchemaText {
    /// The types, as unformatted Rust source (a `TokenStream` printed).
    pub code: String,
    /// Subschemas that fell back to `serde_json::Value`.
    pub fallbacks: Vec<Fallback>,
}

/// Types normalized schemas with typify. Implementations decide where typify runs and how it
/// is bounded; they must return one result per schema, in order, and never fail as a whole.
pub trait SchemaTyper: Send + Sync + std::fmt::Debug {
    /// Types each schema; `budget` is the time one schema may take.
    fn type_schemas(&self, schemas: &[Value], budget: Duration) -> Vec<TypedSchemaText>;
}

/// Runs typify in this process, one schema after another. Panics are contained; memory and
/// time inside typify are not bounded (use a process-isolating typer for untrusted catalogs).
#[derive(Debug, Default, Clone, Copy)]
pub struct InProcessTyper;

impl SchemaTyper for InProcessTyper {
    fn type_schemas(&self, schemas: &[Value], budget: Duration) -> Vec<TypedSchemaText> {
        schemas.iter().map(|s| type_one(s, budget)).collect()
    }
}

/// Types one normalized schema (as produced by the normalize step), degrading what typify cannot
/// type to `serde_json::Value`. What a typing worker process runs for each request.
pub fn type_one(schema: &Value, budget: Duration) -> TypedSchemaText {
    let typed = crate::typify_driver::type_schema(schema, Instant::now() + budget);
    from_typed(typed)
}

/// The whole schema as one `serde_json::Value` type, with `reason` as its warning: what a typer
/// returns for a schema that went over its memory or time budget.
pub fn untyped(schema: &Value, reason: &str) -> TypedSchemaText {
    from_typed(crate::typify_driver::untyped(schema, reason))
}

fn from_typed(typed: crate::typify_driver::TypedSchema) -> TypedSchemaText {
    let file = typed.file;
    TypedSchemaText {
        code: quote::quote!(#file).to_string(),
        fallbacks: typed
            .fallbacks
            .into_iter()
            .map(|(pointer, reason)| Fallback { pointer, reason })
            .collect(),
    }
}

/// JSON pointers of a normalized schema's root (`""`) and every subschema under it, in the
/// walk the fallback search uses: what a [`Fallback`] pointer can name.
pub fn subschema_pointers(schema: &Value) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut next = 0;
    while next < out.len() {
        let pointer = out[next].clone();
        if let Some(node) = schema.pointer(&pointer) {
            out.extend(crate::typify_driver::child_pointers(node, &pointer));
        }
        next += 1;
    }
    out
}
