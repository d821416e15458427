//! `cargo xtask __typify-baseline --catalog FILE`: typify 0.8 alone, then prettyplease, on
//! exactly the schemas regen gives typify for FILE (normalized, one `TypeSpace` per distinct
//! schema, typify configured as regen configures it), one after another in this process. The
//! baseline `bench-codegen` reports regen against, measured in the same run; prints one JSON
//! line. Not a timed test.

use std::path::PathBuf;
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
}

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
            Ok(file) => lines += prettyplease::unparse(&file).lines().count(),
            Err(_) => failed += 1,
        }
        format += started.elapsed();
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
