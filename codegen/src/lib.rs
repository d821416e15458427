//! # passage-codegen
//!
//! Turns the Passage provider catalog (`GET /v1/providers`) into the Rust source of the
//! `passage-generated` crate. A pure function: catalog bytes + [`Settings`] → files, per-operation
//! snapshots and warnings. It does no I/O; `cargo xtask regen` reads and writes the files.
//!
//! Pipeline, one step per module, data flowing forward only:
//! catalog ([`passage_catalog`]) → [`normalize`] (JSON Schema → typify-friendly draft-07) →
//! `typify_driver` (one `TypeSpace` per distinct schema, panics contained) → `postprocess`
//! (tolerant reader: open enums, union catch-alls) → `emit` (registry, result enum, decoder,
//! Cargo features; `syn`/`quote`) → `prettyplease`.
//!
//! ```
//! let catalog = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../catalog/providers.json")).unwrap();
//! let generated = passage_codegen::generate(&catalog, &passage_codegen::Settings::default()).unwrap();
//! assert!(generated.files.contains_key("src/lib.rs"));
//! assert!(generated.files["src/lib.rs"].contains("@generated"));
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;

use passage_catalog::{Catalog, CatalogError};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub mod api_diff;
pub mod compat;
pub mod diff;
mod emit;
pub mod modules;
pub mod naming;
pub mod normalize;
mod open_structs;
mod parallel;
mod postprocess;
mod typify_driver;
pub mod typing;
mod unions;

pub use normalize::SchemaRole;

/// The typify version the output is produced with; `Cargo.toml` pins it (`=0.8.0`).
pub const TYPIFY_VERSION: &str = "0.8.0";
/// This generator's version, recorded in [`PROVENANCE_FILE`].
pub const CODEGEN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors that stop generation as a whole. A single bad schema never does: it becomes a
/// [`Warning`] and `serde_json::Value`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// The catalog envelope is not what the model expects.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The generated code did not parse back as Rust: a generator bug.
    #[error("generated code for `{file}` is not valid Rust: {message}")]
    InvalidOutput {
        /// The file being emitted.
        file: String,
        /// The parser's message.
        message: String,
    },
}

/// Generation settings. Choices that affect the output live here, in one place.
#[derive(Debug, Clone)]
pub struct Settings {
    catalog_label: String,
    schema_budget: std::time::Duration,
    untyped_modules: BTreeMap<String, String>,
    typer: std::sync::Arc<dyn typing::SchemaTyper>,
    pub(crate) module_cache: Option<std::sync::Arc<dyn modules::ModuleCache>>,
    pub(crate) shard_modules: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            catalog_label: "catalog/providers.json".into(),
            schema_budget: std::time::Duration::from_secs(30),
            untyped_modules: BTreeMap::new(),
            typer: std::sync::Arc::new(typing::InProcessTyper),
            module_cache: None,
            shard_modules: None,
        }
    }
}

impl Settings {
    /// How the catalog is named in generated headers (default `catalog/providers.json`).
    pub fn with_catalog_label(mut self, label: impl Into<String>) -> Self {
        self.catalog_label = label.into();
        self
    }

    /// How long one schema may take to isolate what typify cannot type (default 30 s); past
    /// it, the schema's root becomes `serde_json::Value` with a warning.
    pub fn with_schema_budget(mut self, budget: std::time::Duration) -> Self {
        self.schema_budget = budget;
        self
    }

    /// Types the schema of `src/types/{module}.rs` as `serde_json::Value` without running
    /// typify, with a warning giving `reason`: the compile gate's answer to a module that does
    /// not build.
    pub fn with_untyped_module(
        mut self,
        module: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        self.untyped_modules.insert(module.into(), reason.into());
        self
    }

    /// Where typify runs (default: in this process, [`typing::InProcessTyper`]).
    pub fn with_typer(mut self, typer: std::sync::Arc<dyn typing::SchemaTyper>) -> Self {
        self.typer = typer;
        self
    }

    /// Where finished types modules are remembered across runs (default: nowhere). A schema
    /// whose module is found there is neither typed nor post-processed again: the output is the
    /// same, and a regen after one schema changed costs about one module's work.
    pub fn with_module_cache(mut self, cache: std::sync::Arc<dyn modules::ModuleCache>) -> Self {
        self.module_cache = Some(cache);
        self
    }

    /// Writes a crate of more than `max` types modules as a facade over shard crates of about
    /// `max` modules each ([`Generated::sharded`]); `0` (the default is none) keeps one crate.
    /// rustc holds a whole crate in memory, so a large catalog's crate builds in a fraction of
    /// the memory this way; the paths users write are the same.
    pub fn with_shard_modules(mut self, max: usize) -> Self {
        self.shard_modules = Some(max);
        self
    }

    /// The modules [`Settings::with_untyped_module`] named, with their reasons.
    pub fn untyped_modules(&self) -> &BTreeMap<String, String> {
        &self.untyped_modules
    }
}

/// The generated file that records the [`Provenance`] (path relative to the generated crate).
/// Only this file names the catalog's SHA-256: the other files' headers say `@generated` and
/// nothing that changes with the catalog, so a changed schema rewrites only the files it affects.
pub const PROVENANCE_FILE: &str = "src/provenance.rs";

/// Where the generated files came from; written into [`PROVENANCE_FILE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Lowercase hex SHA-256 of the catalog bytes.
    pub catalog_sha256: String,
    /// [`CODEGEN_VERSION`].
    pub codegen_version: String,
    /// [`TYPIFY_VERSION`].
    pub typify_version: String,
}

impl Provenance {
    /// Reads the provenance back from the text of [`PROVENANCE_FILE`] (its `pub const` lines),
    /// or from the header comments of a `src/lib.rs` generated before provenance moved there, so
    /// `regen --check` can still say what changed on a crate generated the old way.
    pub fn parse(text: &str) -> Option<Provenance> {
        let constant = |name: &str| {
            let prefix = format!("pub const {name}: &str = \"");
            text.lines().find_map(|line| {
                let value = line.trim().strip_prefix(&prefix)?.strip_suffix("\";")?;
                Some(value.to_string())
            })
        };
        let header = |key: &str| {
            text.lines().take(12).find_map(|line| {
                line.strip_prefix("//")?
                    .trim()
                    .strip_prefix(key)
                    .map(|rest| rest.trim().to_string())
            })
        };
        let field = |name: &str, key: &str| constant(name).or_else(|| header(key));
        Some(Provenance {
            catalog_sha256: field("CATALOG_SHA256", "catalog sha256:")?,
            codegen_version: field("CODEGEN_VERSION", "passage-codegen:")?,
            typify_version: field("TYPIFY_VERSION", "typify:")?,
        })
    }
}

/// A schema problem that generation worked around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Integrations whose operation uses the schema.
    pub integrations: Vec<String>,
    /// The operation's resource.
    pub resource: String,
    /// The operation's action.
    pub action: String,
    /// Result or arguments schema.
    pub role: SchemaRole,
    /// JSON pointer into the (normalized) schema; empty for the root.
    pub pointer: String,
    /// What happened there.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            SchemaRole::Result => "result",
            SchemaRole::Arguments => "arguments",
        };
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{} {}/{} {role} schema at {pointer}: {}",
            self.integrations.join(","),
            self.resource,
            self.action,
            self.message
        )
    }
}

/// The generated code of one operation, for snapshot review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationSnapshot {
    /// `integration__resource__action`.
    pub name: String,
    /// The operation's result and arguments types, formatted, each under a comment naming its
    /// `types::` module. Nothing in it depends on other operations' schemas but that module
    /// name, so a schema change shows up in the snapshots of the operations it types only.
    pub code: String,
}

/// Everything one generation produces.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Files of the `generated/` crate as one package, keyed by path relative to it
    /// (`src/lib.rs`, `Cargo.toml`, ...): what the compile gate checks.
    pub files: BTreeMap<String, String>,
    /// For a catalog of more types modules than [`Settings::with_shard_modules`]: the files that
    /// replace (`Cargo.toml`, `src/lib.rs`, `src/integrations/*`) or join (`shards/*`) `files`
    /// when the crate is written ([`Generated::written_files`]); empty for one crate. The types
    /// modules are the same files in both layouts.
    pub sharded: BTreeMap<String, String>,
    /// One snapshot per operation.
    pub snapshots: Vec<OperationSnapshot>,
    /// Schema problems worked around.
    pub warnings: Vec<Warning>,
    /// What the files were made from.
    pub provenance: Provenance,
}

impl Generated {
    /// The files as written to disk: [`Generated::files`] with [`Generated::sharded`] laid over
    /// them.
    pub fn written_files(&self) -> BTreeMap<String, String> {
        self.written()
            .into_iter()
            .map(|(path, text)| (path.to_owned(), text.to_owned()))
            .collect()
    }

    /// [`Generated::written_files`] borrowed: the same map without copying the files (34 MB at
    /// 2,000 operations).
    pub fn written(&self) -> BTreeMap<&str, &str> {
        // Collected in order, so a path in both maps keeps the sharded layout's text.
        self.files
            .iter()
            .chain(&self.sharded)
            .map(|(path, text)| (path.as_str(), text.as_str()))
            .collect()
    }

    /// How many shard crates the written crate has (0: one crate).
    pub fn shard_count(&self) -> usize {
        self.sharded
            .keys()
            .filter(|path| path.starts_with("shards/") && path.ends_with("/Cargo.toml"))
            .count()
    }
}

/// One distinct schema: shared by every integration that publishes it byte-for-byte (after
/// normalization) for the same resource, action and role.
#[derive(Debug, Clone)]
pub(crate) struct SchemaUnit {
    pub role: SchemaRole,
    pub resource: String,
    pub action: String,
    pub integrations: Vec<String>,
    pub module: String,
    pub type_name: String,
    pub normalized: Value,
    /// SHA-256 of `normalized`'s compact JSON (what tells distinct schemas apart).
    pub normalized_sha256: String,
    pub notes: Vec<normalize::NormalizeNote>,
    /// Filled by typing.
    pub code: String,
}

/// One catalog operation with the units that type it.
#[derive(Debug, Clone)]
pub(crate) struct PlannedOperation {
    pub integration: String,
    pub integration_name: String,
    pub resource: String,
    pub action: String,
    pub description: String,
    pub result_schema: Option<String>,
    pub arguments_schema: Option<String>,
    pub result_unit: Option<usize>,
    pub arguments_unit: Option<usize>,
}

/// Generates the `passage-generated` crate from catalog bytes.
pub fn generate(catalog_bytes: &[u8], settings: &Settings) -> Result<Generated, CodegenError> {
    let catalog = Catalog::from_slice(catalog_bytes)?;
    let provenance = Provenance {
        catalog_sha256: hex::encode(Sha256::digest(catalog_bytes)),
        codegen_version: CODEGEN_VERSION.into(),
        typify_version: TYPIFY_VERSION.into(),
    };
    let (mut units, operations) = plan(&catalog);
    // Each unit's module: from the module cache, else typed (by typify, or as
    // `serde_json::Value` for a module the gate refused) and finished here.
    let keys: Vec<String> = units
        .iter()
        .map(|unit| {
            let untyped = settings.untyped_modules.get(&unit.module);
            modules::key(unit, untyped.map(String::as_str))
        })
        .collect();
    let mut finished: Vec<Option<modules::FinishedModule>> = match &settings.module_cache {
        Some(cache) => keys.iter().map(|key| cache.get(key)).collect(),
        None => vec![None; units.len()],
    };
    let missing: Vec<usize> = (0..units.len())
        .filter(|&i| finished[i].is_none())
        .collect();
    let to_type: Vec<usize> = missing
        .iter()
        .copied()
        .filter(|&i| !settings.untyped_modules.contains_key(&units[i].module))
        .collect();
    let schemas: Vec<Value> = to_type
        .iter()
        .map(|&i| units[i].normalized.clone())
        .collect();
    let mut typed: BTreeMap<usize, typing::TypedSchemaText> = to_type
        .into_iter()
        .zip(
            settings
                .typer
                .type_schemas(&schemas, settings.schema_budget),
        )
        .collect();
    let work: Vec<(&SchemaUnit, typing::TypedSchemaText)> = missing
        .iter()
        .map(|&i| {
            let unit = &units[i];
            let text = match typed.remove(&i) {
                Some(text) => text,
                None => typing::untyped(&unit.normalized, &settings.untyped_modules[&unit.module]),
            };
            (unit, text)
        })
        .collect();
    for (i, module) in missing.iter().zip(modules::finish_all(work)) {
        let module = module?;
        if let Some(cache) = &settings.module_cache {
            if !module.is_transient() {
                cache.put(&keys[*i], &module);
            }
        }
        finished[*i] = Some(module);
    }
    let mut warnings = Vec::new();
    for (unit, module) in units.iter_mut().zip(finished) {
        let module = module.expect("every unit found in the cache or finished");
        warnings.extend(modules::warnings(unit, &module));
        unit.code = module.code;
    }
    let emit::Emitted { files, sharded } =
        emit::emit_crate(&units, &operations, &provenance, settings)?;
    let snapshots = operations
        .iter()
        .map(|op| {
            let mut code = String::new();
            for (label, unit) in [("result", op.result_unit), ("arguments", op.arguments_unit)] {
                match unit {
                    Some(i) => {
                        code.push_str(&format!(
                            "// {label}: types::{}\n{}\n",
                            units[i].module, units[i].code
                        ));
                    }
                    None if label == "result" => code
                        .push_str("// result: no schema published; typed as serde_json::Value\n\n"),
                    None => code.push_str("// arguments: none\n"),
                }
            }
            OperationSnapshot {
                name: format!("{}__{}__{}", op.integration, op.resource, op.action),
                code,
            }
        })
        .collect();
    Ok(Generated {
        files,
        sharded,
        snapshots,
        warnings,
        provenance,
    })
}

/// Decides the distinct schemas and names them; deterministic.
fn plan(catalog: &Catalog) -> (Vec<SchemaUnit>, Vec<PlannedOperation>) {
    let mut ops: Vec<_> = catalog.operations().collect();
    ops.sort_by(|a, b| {
        (a.integration, a.resource, a.action).cmp(&(b.integration, b.resource, b.action))
    });
    let mut units: Vec<SchemaUnit> = Vec::new();
    let mut by_key: BTreeMap<(u8, String, String, String), usize> = BTreeMap::new();
    let mut planned = Vec::new();
    for op in ops {
        let mut unit_for = |schema: &Option<Value>, role: SchemaRole| -> Option<usize> {
            let schema = schema.as_ref()?;
            let suffix = match role {
                SchemaRole::Result => "Result",
                SchemaRole::Arguments => "Arguments",
            };
            let type_name = naming::type_name(op.resource, op.action, suffix);
            let mut normalized = normalize::normalize(schema, &type_name, role);
            if let Value::Object(map) = &mut normalized.schema {
                if !map.contains_key("description") {
                    let text = format!(
                        "{} of `{}`/`{}`.",
                        if role == SchemaRole::Result {
                            "Result"
                        } else {
                            "Arguments"
                        },
                        op.resource,
                        op.action
                    );
                    map.insert("description".into(), Value::String(text));
                }
            }
            let canonical = serde_json::to_string(&normalized.schema).unwrap_or_default();
            let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
            let key = (
                role as u8,
                op.resource.to_string(),
                op.action.to_string(),
                hash.clone(),
            );
            if let Some(&i) = by_key.get(&key) {
                units[i].integrations.push(op.integration.to_string());
                return Some(i);
            }
            units.push(SchemaUnit {
                role,
                resource: op.resource.to_string(),
                action: op.action.to_string(),
                integrations: vec![op.integration.to_string()],
                module: String::new(),
                type_name,
                normalized: normalized.schema,
                normalized_sha256: hash,
                notes: normalized.notes,
                code: String::new(),
            });
            by_key.insert(key, units.len() - 1);
            Some(units.len() - 1)
        };
        let result_unit = unit_for(&op.spec.result, SchemaRole::Result);
        let arguments_unit = unit_for(&op.spec.arguments, SchemaRole::Arguments);
        planned.push(PlannedOperation {
            integration: op.integration.to_string(),
            integration_name: op.integration_name.to_string(),
            resource: op.resource.to_string(),
            action: op.action.to_string(),
            description: op.spec.description.clone().unwrap_or_default(),
            result_schema: op.spec.result.as_ref().map(Value::to_string),
            arguments_schema: op.spec.arguments.as_ref().map(Value::to_string),
            result_unit,
            arguments_unit,
        });
    }
    name_modules(&mut units);
    (units, planned)
}

/// `mobile_billing_statement_read_result` for the schema most integrations of the operation
/// publish (all of them, usually); a variant published by fewer integrations is prefixed by the
/// first of them (`verizon_mobile_...`). A type shared by several integrations is thus never
/// named after one of them.
fn name_modules(units: &mut [SchemaUnit]) {
    // (role, resource, action) → the unit that gets the bare name: the one published by the
    // most integrations; on a tie, none (each variant is named for its integration).
    let mut best: BTreeMap<(u8, String, String), (usize, usize, bool)> = BTreeMap::new();
    for (i, unit) in units.iter().enumerate() {
        let key = (unit.role as u8, unit.resource.clone(), unit.action.clone());
        let count = unit.integrations.len();
        let entry = best.entry(key).or_insert((i, count, false));
        if entry.0 != i {
            if count > entry.1 {
                *entry = (i, count, false);
            } else if count == entry.1 {
                entry.2 = true;
            }
        }
    }
    let primary: BTreeMap<(u8, String, String), Option<usize>> = best
        .into_iter()
        .map(|(key, (i, _, tie))| (key, (!tie).then_some(i)))
        .collect();
    let candidates: Vec<String> = units
        .iter()
        .enumerate()
        .map(|(i, unit)| {
            let role = match unit.role {
                SchemaRole::Result => "result",
                SchemaRole::Arguments => "arguments",
            };
            let is_primary =
                primary[&(unit.role as u8, unit.resource.clone(), unit.action.clone())] == Some(i);
            // Words joined by one `_` (never the `__` `non_snake_case` refuses, even for a
            // resource named `enum`); never a keyword, as it ends in the role.
            if is_primary {
                naming::snake_join(&[&unit.resource, &unit.action, role])
            } else {
                naming::snake_join(&[&unit.integrations[0], &unit.resource, &unit.action, role])
            }
        })
        .collect();
    // `fooBar` and `foo_bar` (or `über` and `uber`) make the same words: numbered in unit order.
    let names = naming::disambiguate(&candidates, &Default::default(), |name, n| {
        format!("{name}_{n}")
    });
    for (unit, name) in units.iter_mut().zip(names) {
        unit.module = name;
    }
}
