//! From typify's output to a finished types module: post-processed (tolerant reader), formatted
//! and parsed back, on every core, and remembered across runs by a [`ModuleCache`] when the
//! caller gives one.
//!
//! A finished module is a function of the normalized schema, the typing choice (typify, or
//! `serde_json::Value` for a module the compile gate refused) and the generator itself. At 2,000
//! schemas, reading typify's output back from the typing cache and post-processing it was most
//! of a regen after one schema changed (about 8 s of 13 on this 2-core machine); with the module
//! cache, an unchanged schema costs one small file read.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{postprocess, typing, CodegenError, SchemaUnit, Warning};

/// A types module as the generator finished it: the formatted code and the subschemas that fell
/// back to `serde_json::Value` (as `(pointer, reason)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedModule {
    /// The formatted Rust source of the module's items (no header).
    pub code: String,
    /// JSON pointer and reason of each subschema typed as `serde_json::Value`.
    pub fallbacks: Vec<(String, String)>,
}

impl FinishedModule {
    /// Whether this module depends on the machine's state when it was made (a schema over its
    /// time budget, a typing worker that died), so that another run may well finish it
    /// differently: such a module must not be remembered.
    pub fn is_transient(&self) -> bool {
        self.fallbacks
            .iter()
            .any(|(_, reason)| typing::is_transient_reason(reason))
    }
}

/// Finished modules remembered across runs (`cargo xtask regen` keeps them in `target/`).
///
/// Two kinds of entries, under keys that cannot collide: finished types modules, and the
/// formatted text of the other emitted files (`lib.rs`, each integration module; no fallbacks),
/// keyed by their tokens. The key [`generate`](crate::generate) passes covers every input of the
/// entry (normalized schema and typing choice, or the tokens; the typify and codegen versions)
/// but not the generator's own code,
/// which a version number does not track between releases: an implementation must key its
/// entries by the generator build as well (the xtask store mixes in its executable's identity),
/// and must return exactly what it was given for that key, or nothing.
pub trait ModuleCache: Send + Sync + fmt::Debug {
    /// The module stored under `key`, if any.
    fn get(&self, key: &str) -> Option<FinishedModule>;
    /// Stores `module` under `key`. Never called for a [`FinishedModule::is_transient`] one.
    fn put(&self, key: &str, module: &FinishedModule);
}

/// The key of `unit`'s finished module: SHA-256 over the versions, the typing choice (`untyped`:
/// the reason the module is typed as `serde_json::Value`, or `None` for typify) and the
/// normalized schema's JSON.
pub(crate) fn key(unit: &SchemaUnit, untyped: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    for part in [
        crate::CODEGEN_VERSION,
        crate::TYPIFY_VERSION,
        untyped.unwrap_or("\u{0}typify"),
        &unit.normalized_sha256,
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// [`finish`] of each `(unit, typed)` pair, on every core (each unit is post-processed and
/// formatted on its own), in input order so the output does not depend on the threads.
pub(crate) fn finish_all(
    work: Vec<(&SchemaUnit, typing::TypedSchemaText)>,
) -> Vec<Result<FinishedModule, CodegenError>> {
    crate::parallel::map(work, |(unit, typed)| finish(unit, typed))
}

/// Post-processes and formats typify's output for `unit`. Output that is not valid Rust (a
/// typer bug) makes the whole schema `serde_json::Value`, with the parser's message as reason.
fn finish(
    unit: &SchemaUnit,
    typed: typing::TypedSchemaText,
) -> Result<FinishedModule, CodegenError> {
    let mut fallbacks: Vec<(String, String)> = typed
        .fallbacks
        .into_iter()
        .map(|f| (f.pointer, f.reason))
        .collect();
    let mut file = match syn::parse_str::<syn::File>(&typed.code) {
        Ok(file) => file,
        Err(err) => {
            let text = typing::untyped(
                &unit.normalized,
                &format!("typer returned invalid Rust: {err}"),
            );
            fallbacks = text
                .fallbacks
                .into_iter()
                .map(|f| (f.pointer, f.reason))
                .collect();
            syn::parse_str(&text.code).unwrap_or_else(|_| syn::parse_quote! {})
        }
    };
    postprocess::make_tolerant(&mut file);
    // Round-trip through the parser so a generator bug surfaces here, not in the crate build.
    let code = prettyplease::unparse(&file);
    syn::parse_file(&code).map_err(|err| CodegenError::InvalidOutput {
        file: format!("src/types/{}.rs", unit.module),
        message: err.to_string(),
    })?;
    Ok(FinishedModule { code, fallbacks })
}

/// The warnings of `unit` typed as `module`: the normalizer's notes, then each fallback.
pub(crate) fn warnings(unit: &SchemaUnit, module: &FinishedModule) -> Vec<Warning> {
    let warn = |pointer: &str, message: String| Warning {
        integrations: unit.integrations.clone(),
        resource: unit.resource.clone(),
        action: unit.action.clone(),
        role: unit.role,
        pointer: pointer.to_owned(),
        message,
    };
    unit.notes
        .iter()
        .map(|note| warn(&note.pointer, note.message.clone()))
        .chain(module.fallbacks.iter().map(|(pointer, reason)| {
            warn(pointer, format!("typed as serde_json::Value: {reason}"))
        }))
        .collect()
}
