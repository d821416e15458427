//! `cargo xtask __typify-baseline --catalog FILE`: typify 0.8 alone, then prettyplease, on
//! exactly the schemas regen gives typify for FILE (normalized, one `TypeSpace` per distinct
//! schema, typify configured as regen configures it), one after another in this process. The
//! baseline `bench-codegen` reports regen against, measured in the same run; prints one JSON
//! line. Not a timed test.
//!
//! With `--crate-dir DIR` it also writes typify's output as a crate (one module per schema, as
//! typify emitted it, formatted): the crate `bench-codegen` checks and builds beside the
//! generated one, so the generated crate's build is measured against typify's own output for
//! the same schemas.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use passage_codegen::typing::{untyped, SchemaTyper, TypedSchemaText};
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The catalog whose schemas are typed.
    #[arg(long)]
    catalog: PathBuf,
    /// Also write typify's output as a crate here (`Cargo.toml`, `src/lib.rs`, one module per
    /// schema); the crate is a member of a scratch workspace the caller writes.
    #[arg(long, value_name = "DIR")]
    crate_dir: Option<PathBuf>,
}

/// The package name of the crate `--crate-dir` writes.
pub const TYPIFY_CRATE: &str = "typify-output";

/// The manifest of the crate of typify's output: what typify 0.8's generated code names
/// (`chrono` for `date-time`, `uuid`, `regress` for `pattern`), versions as this workspace
/// locks them.
const TYPIFY_CRATE_MANIFEST: &str = r#"[package]
name = "typify-output"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "src/lib.rs"

[dependencies]
serde.workspace = true
serde_json.workspace = true
chrono = { version = "0.4", default-features = false, features = ["serde", "std"] }
uuid = { version = "1", default-features = false, features = ["serde"] }
regress = "0.12"
"#;

/// Keeps the schemas regen would type, types none of them.
#[derive(Debug, Default)]
struct RecordingTyper(Mutex<Vec<Value>>);

impl SchemaTyper for RecordingTyper {
    fn type_schemas(&self, schemas: &[Value], _budget: Duration) -> Vec<TypedSchemaText> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(schemas.iter().cloned());
        schemas
            .iter()
            .map(|schema| untyped(schema, "recorded for the typify baseline"))
            .collect()
    }
}

pub fn run(args: Args) -> Result<()> {
    let catalog = std::fs::read(&args.catalog)
        .with_context(|| format!("reading {}", args.catalog.display()))?;
    let recorder = Arc::new(RecordingTyper::default());
    passage_codegen::generate(
        &catalog,
        &passage_codegen::Settings::default().with_typer(recorder.clone()),
    )?;
    let schemas = std::mem::take(&mut *recorder.0.lock().unwrap_or_else(|p| p.into_inner()));

    let mut typify = Duration::ZERO;
    let mut format = Duration::ZERO;
    let mut failed = 0usize;
    let mut lines = 0usize;
    let mut modules: Vec<String> = Vec::new();
    for schema in &schemas {
        let started = Instant::now();
        let tokens = std::panic::catch_unwind(|| -> Option<proc_macro2::TokenStream> {
            let root: schemars::schema::RootSchema = serde_json::from_value(schema.clone()).ok()?;
            let mut settings = typify::TypeSpaceSettings::default();
            settings
                .with_struct_builder(false)
                .with_derive("PartialEq".to_string())
                .with_map_type("::std::collections::BTreeMap");
            let mut space = typify::TypeSpace::new(&settings);
            space.add_root_schema(root).ok()?;
            Some(space.to_stream())
        });
        typify += started.elapsed();
        let Ok(Some(tokens)) = tokens else {
            failed += 1;
            continue;
        };
        let started = Instant::now();
        match syn::parse2::<syn::File>(tokens) {
            Ok(file) => {
                let text = prettyplease::unparse(&file);
                lines += text.lines().count();
                if args.crate_dir.is_some() {
                    modules.push(text);
                }
            }
            Err(_) => failed += 1,
        }
        format += started.elapsed();
    }
    if let Some(dir) = &args.crate_dir {
        write_crate(dir, &modules)?;
    }
    println!(
        "{}",
        serde_json::json!({
            "schemas": schemas.len(),
            "failed": failed,
            "lines": lines,
            "typify_seconds": typify.as_secs_f64(),
            "prettyplease_seconds": format.as_secs_f64(),
            "total_seconds": (typify + format).as_secs_f64(),
        })
    );
    Ok(())
}

/// Writes the crate of typify's output at `dir`: one module per schema (`src/m{i}.rs`; typify's
/// names are unique within one schema only), stale modules removed.
fn write_crate(dir: &Path, modules: &[String]) -> Result<()> {
    let src = dir.join("src");
    if src.exists() {
        std::fs::remove_dir_all(&src).with_context(|| format!("clearing {}", src.display()))?;
    }
    std::fs::create_dir_all(&src)?;
    crate::gate::write_if_changed(&dir.join("Cargo.toml"), TYPIFY_CRATE_MANIFEST)?;
    // typify's output as typify emits it: its own lints are not this benchmark's business.
    let mut lib = String::from(
        "//! typify 0.8's output for the schemas regen types (`cargo xtask bench-codegen`).\n\
         #![allow(warnings, clippy::all)]\n",
    );
    for (i, module) in modules.iter().enumerate() {
        lib.push_str(&format!("pub mod m{i};\n"));
        std::fs::write(src.join(format!("m{i}.rs")), module)?;
    }
    std::fs::write(src.join("lib.rs"), lib)?;
    Ok(())
}
