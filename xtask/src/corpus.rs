//! `cargo xtask corpus`: the generator on public real-world schemas nobody here wrote.
//!
//! Every schema of `../shared/schema-corpus/` (beside the repository; SchemaStore schemas with
//! their positive test instances, and typify's own test schemas) becomes one operation of a
//! catalog: integration = source (`schemastore`, `typify`), resource = file stem, action
//! `read`, result = the schema as is. The catalog goes through regen and its compile gate into a
//! scratch workspace under the target directory, then a harness built against the generated
//! crate decodes every instance with `decode_result`, re-serializes it and compares it with the
//! original (numbers by value). Prints a table per source; fails when an instance does not
//! decode or does not come back equal. Nothing is copied into the repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The corpus folder (default: `../shared/schema-corpus` beside the repository).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Memory limit of each typing worker process, MiB.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    schema_memory_mib: u64,
    /// Also fail when a schema needed the compile gate's fallback (for the repository's own
    /// adversarial schemas: each failure class they reproduce must stay fixed).
    #[arg(long)]
    strict: bool,
}

/// One schema of the corpus and its instances.
struct CorpusSchema {
    source: String,
    name: String,
    schema: Value,
    /// Valid instances (`NAME/N.json`).
    instances: Vec<PathBuf>,
    /// Instances that must be refused (`NAME/invalid-N.json`).
    invalid: Vec<PathBuf>,
}

impl Args {
    /// A run over `corpus` (default: the shared corpus), as `cargo xtask test` does it.
    pub fn new(corpus: Option<PathBuf>, strict: bool) -> Self {
        Self {
            corpus,
            schema_memory_mib: 4096,
            strict,
        }
    }
}

/// The default corpus location, beside the repository (as CI has it).
pub fn default_corpus_dir() -> PathBuf {
    crate::workspace_root().join("../shared/schema-corpus")
}

fn load(dir: &Path) -> Result<Vec<CorpusSchema>> {
    let mut out = Vec::new();
    let mut sources: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    sources.sort();
    for source in sources {
        let folder = dir.join(&source);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .with_context(|| format!("reading {}", folder.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let stem = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .trim_end_matches(".json")
                .trim_end_matches(".schema")
                .to_string();
            let schema: Value = serde_json::from_slice(&std::fs::read(&file)?)
                .with_context(|| format!("parsing {}", file.display()))?;
            let mut instances: Vec<PathBuf> = std::fs::read_dir(folder.join(&stem))
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "json"))
                        .collect()
                })
                .unwrap_or_default();
            instances.sort();
            let (invalid, instances) = instances.into_iter().partition(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("invalid-"))
            });
            out.push(CorpusSchema {
                source: source.to_string(),
                name: stem,
                schema,
                instances,
                invalid,
            });
        }
    }
    Ok(out)
}

fn catalog(schemas: &[CorpusSchema]) -> Value {
    let mut providers: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for s in schemas {
        providers.entry(&s.source).or_default().push(json!({
            "name": s.name,
            "operations": {"read": {"arguments": null, "result": s.schema}},
        }));
    }
    json!({"providers": providers.into_iter().map(|(id, resources)| json!({
        "id": id, "name": id, "resources": resources,
    })).collect::<Vec<_>>()})
}

const HARNESS_MANIFEST: &str = r#"[package]
name = "corpus-harness"
version.workspace = true
edition.workspace = true
publish = false

[dependencies]
passage-generated = { path = "../generated" }
serde_json.workspace = true
"#;

const HARNESS_MAIN: &str = r#"//! Written by `cargo xtask corpus`: decodes every corpus instance with the generated crate,
//! re-serializes it and compares it with the original. One JSON line per instance.
use serde_json::Value;

/// The first JSON path where `a` and `b` differ; numbers compare by value (`1` = `1.0`).
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let same = match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(p), Some(q), _, _) => p == q,
                (_, _, Some(p), Some(q)) => p == q,
                _ => x.as_f64() == y.as_f64(),
            };
            (!same).then(|| path.to_string())
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path} (length {} vs {})", x.len(), y.len()));
            }
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]")))
        }
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_difference(p, q, &format!("{path}.{key}")) {
                            return Some(d);
                        }
                    }
                    (Some(_), None) => return Some(format!("{path}.{key} (dropped)")),
                    (None, Some(_)) => return Some(format!("{path}.{key} (added)")),
                    (None, None) => {}
                }
            }
            None
        }
        _ => (a != b).then(|| path.to_string()),
    }
}

fn main() {
    let manifest = std::env::args().nth(1).expect("manifest path");
    let cases: Vec<[String; 5]> = serde_json::from_slice(&std::fs::read(manifest).expect("manifest")).expect("manifest JSON");
    for [integration, resource, action, file, _expect] in cases {
        let bytes = std::fs::read(&file).expect("instance");
        let original: Value = serde_json::from_slice(&bytes).expect("instance JSON");
        let line = match passage_generated::decode_result(&integration, &resource, &action, &bytes) {
            Ok(result) => {
                let again = serde_json::to_value(&result).expect("re-serialize");
                let difference = first_difference(&original, &again, "$");
                serde_json::json!({"file": file, "decoded": true, "typed": !result.is_unknown(), "equal": difference.is_none(), "detail": difference})
            }
            Err(err) => serde_json::json!({"file": file, "decoded": false, "typed": false, "equal": false, "detail": err.to_string(), "path": err.path}),
        };
        println!("{line}");
    }
}
"#;

/// Source (integration) → the number of `src/types/` modules of `generated` that type its
/// schemas: what the compile gate compiled, since `generate_gated` returns only a crate that
/// passed it. Read from each module's header (`as published by: schemastore, typify.`).
fn compiled_modules(generated: &passage_codegen::Generated) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (path, text) in &generated.files {
        if !path.starts_with("src/types/") {
            continue;
        }
        let Some(line) = text.lines().find_map(|l| l.split_once("as published by: ")) else {
            continue;
        };
        for source in line.1.trim_end_matches('.').split(", ") {
            *out.entry(source.to_string()).or_default() += 1;
        }
    }
    out
}

pub fn run(args: Args) -> Result<bool> {
    let dir = args.corpus.unwrap_or_else(default_corpus_dir);
    if !dir.is_dir() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            bail!(
                "the schema corpus is missing at {} (CI=true)",
                dir.display()
            );
        }
        eprintln!(
            "==> corpus: SKIPPED, no schema corpus at {} (CI fails here)",
            dir.display()
        );
        return Ok(true);
    }
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let schemas = load(&dir)?;
    let catalog_bytes = serde_json::to_vec(&catalog(&schemas))?;
    let digest = crate::regen::sha_hex(dir.display().to_string().as_bytes());
    let scratch = crate::gate::target_dir().join(format!("schema-corpus/{}", &digest[..16]));
    let started = std::time::Instant::now();
    let settings = passage_codegen::Settings::default()
        .with_catalog_label("../shared/schema-corpus")
        .with_typer(std::sync::Arc::new(crate::cache::CachingTyper::new(
            crate::typer::ProcessTyper::new(args.schema_memory_mib)?,
            crate::gate::target_dir().join("regen-cache"),
        )))
        .with_module_cache(std::sync::Arc::new(crate::cache::ModuleStore::new(
            crate::gate::target_dir().join("regen-cache/modules"),
        )));
    let verdicts =
        crate::gate::Verdicts::open(crate::gate::target_dir().join("regen-gate/verdicts"));
    let progress = crate::progress::Progress::for_stderr("corpus");
    let generated = crate::gate::generate_gated(
        &catalog_bytes,
        settings,
        &scratch,
        &verdicts,
        crate::gate::OnDisk::Ignored,
        &progress,
    )?;
    for warning in &generated.warnings {
        eprintln!("warning: {warning}");
    }
    eprintln!(
        "==> corpus: {} schema(s) generated, {} types module(s) compiled by the gate, in {:.1} s",
        schemas.len(),
        compiled_modules(&generated).values().sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    crate::gate::write_workspace(&generated, &scratch, &["harness"])?;
    crate::gate::write_if_changed(&scratch.join("harness/Cargo.toml"), HARNESS_MANIFEST)?;
    crate::gate::write_if_changed(&scratch.join("harness/src/main.rs"), HARNESS_MAIN)?;
    let mut generated_notes = Vec::new();
    let mut samples = Vec::new();
    for s in &schemas {
        let dir = scratch.join("generated").join(&s.source).join(&s.name);
        let made = crate::corpus_samples::generate(&s.schema, &dir)?;
        if let Some(reason) = &made.skipped {
            generated_notes.push(format!("{}/{}: {reason}", s.source, s.name));
        }
        samples.push(made);
    }
    let cases: Vec<[String; 5]> = schemas
        .iter()
        .zip(&samples)
        .flat_map(|(s, made)| {
            let valid = s.instances.iter().map(|f| (f, "valid"));
            let invalid = s.invalid.iter().map(|f| (f, "invalid"));
            let generated = made.files.iter().map(|f| (f, "generated"));
            valid.chain(invalid).chain(generated).map(|(file, expect)| {
                [
                    s.source.clone(),
                    s.name.clone(),
                    "read".to_string(),
                    file.display().to_string(),
                    expect.to_string(),
                ]
            })
        })
        .collect();
    let manifest = scratch.join("instances.json");
    std::fs::write(&manifest, serde_json::to_vec(&cases)?)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(["run", "--offline", "--quiet", "-p", "corpus-harness", "--"])
        .arg(&manifest)
        .current_dir(&scratch)
        .env("CARGO_TARGET_DIR", crate::gate::shared_build_dir())
        .env("RUSTFLAGS", "-D warnings")
        .output()
        .context("running the corpus harness")?;
    if !output.status.success() {
        bail!(
            "the corpus harness failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let outcomes: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("reading the harness output")?;
    if outcomes.len() != cases.len() {
        bail!(
            "the harness answered {} of {} instances",
            outcomes.len(),
            cases.len()
        );
    }

    // Per-source table.
    #[derive(Default)]
    struct Row {
        schemas: usize,
        /// Types modules of the source in the crate the compile gate passed.
        compiled_modules: usize,
        compiled_typed: usize,
        subschemas: usize,
        untyped_subschemas: usize,
        instances: usize,
        decoded: usize,
        equal: usize,
        refused_expected: usize,
        refused: usize,
        gate_fallbacks: usize,
        /// Instances made by `passage-samples` that the validator accepted, and of those how
        /// many came back equal; samples the validator refused; schemas with none.
        generated: usize,
        generated_equal: usize,
        generated_refused_by_validator: usize,
        generated_skipped: usize,
    }
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (source, modules) in compiled_modules(&generated) {
        rows.entry(source).or_default().compiled_modules = modules;
    }
    let mut failures_gate: Vec<String> = Vec::new();
    for (s, made) in schemas.iter().zip(&samples) {
        let row = rows.entry(s.source.clone()).or_default();
        row.schemas += 1;
        row.generated_refused_by_validator += made.refused_by_validator;
        if made.files.is_empty() {
            row.generated_skipped += 1;
        }
        let title = passage_codegen::naming::type_name(&s.name, "read", "Result");
        let normalized = passage_codegen::normalize::normalize(
            &s.schema,
            &title,
            passage_codegen::SchemaRole::Result,
        );
        let untyped: Vec<String> = generated
            .warnings
            .iter()
            .filter(|w| w.integrations.contains(&s.source) && w.resource == s.name)
            .filter(|w| w.message.starts_with("typed as serde_json::Value"))
            .map(|w| w.pointer.clone())
            .collect();
        if !untyped.iter().any(String::is_empty) {
            row.compiled_typed += 1;
        }
        let gated = generated
            .warnings
            .iter()
            .filter(|w| w.integrations.contains(&s.source) && w.resource == s.name)
            .any(|w| w.message.contains("does not compile"));
        if gated {
            row.gate_fallbacks += 1;
            if args.strict {
                failures_gate.push(format!("{}/{}", s.source, s.name));
            }
        }
        let pointers = passage_codegen::typing::subschema_pointers(&normalized.schema);
        let under_fallback = |pointer: &String| {
            untyped
                .iter()
                .any(|p| p.is_empty() || pointer == p || pointer.starts_with(&format!("{p}/")))
        };
        row.subschemas += pointers.len();
        row.untyped_subschemas += pointers.iter().filter(|p| under_fallback(p)).count();
    }
    let mut failures = Vec::new();
    for (case, outcome) in cases.iter().zip(&outcomes) {
        let row = rows.entry(case[0].clone()).or_default();
        if case[4] == "invalid" {
            row.refused_expected += 1;
            if outcome["decoded"] == true {
                failures.push(format!("{}: decoded, but must be refused", case[3]));
            } else {
                row.refused += 1;
                println!("refused as expected: {}: {}", case[3], outcome["detail"]);
            }
            continue;
        }
        if case[4] == "generated" {
            row.generated += 1;
            if outcome["equal"] == true {
                row.generated_equal += 1;
            } else {
                failures.push(format!("{} (generated): {}", case[3], outcome["detail"]));
            }
            continue;
        }
        row.instances += 1;
        if outcome["decoded"] == true {
            row.decoded += 1;
        }
        if outcome["equal"] == true {
            row.equal += 1;
        } else {
            failures.push(format!("{}: {}", case[3], outcome["detail"]));
        }
    }
    println!("| source | schemas in | modules compiled by the gate | typed at the root | untyped by the compile gate | subschemas typed | subschemas as `Value` | valid instances | decoded | equal after re-serialize | invalid instances refused |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (source, row) in &rows {
        println!(
            "| {source} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
            row.schemas,
            row.compiled_modules,
            row.compiled_typed,
            row.gate_fallbacks,
            row.subschemas - row.untyped_subschemas,
            row.untyped_subschemas,
            row.instances,
            row.decoded,
            row.equal,
            row.refused,
            row.refused_expected,
        );
    }
    println!();
    println!(
        "Generated instances (`passage-samples`, seeds 0..{}, kept when the `jsonschema` validator accepts them):",
        crate::corpus_samples::SEEDS
    );
    println!("| source | schema-valid instances | equal after re-serialize | refused by the validator (not used) | schemas without any |");
    println!("|---|---|---|---|---|");
    for (source, row) in &rows {
        println!(
            "| {source} | {} | {} | {} | {} |",
            row.generated,
            row.generated_equal,
            row.generated_refused_by_validator,
            row.generated_skipped
        );
    }
    for note in &generated_notes {
        println!("no generated instances for {note}");
    }
    for schema in &failures_gate {
        failures.push(format!(
            "{schema}: needed the compile gate's fallback (--strict)"
        ));
    }
    if !failures.is_empty() {
        eprintln!("{} instance(s) did not round-trip:", failures.len());
        for failure in &failures {
            eprintln!("  {failure}");
        }
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_modules_are_counted_per_source_from_the_crate() {
        let catalog = json!({"providers": [
            {"id": "a", "name": "A", "resources": [
                {"name": "x", "operations": {"read": {"arguments": null, "result": {"type": "object"}}}},
                {"name": "y", "operations": {"read": {"arguments": null, "result": {"type": "string"}}}}]},
            {"id": "b", "name": "B", "resources": [
                {"name": "x", "operations": {"read": {"arguments": null, "result": {"type": "object"}}}}]}]});
        let generated = passage_codegen::generate(
            &serde_json::to_vec(&catalog).unwrap(),
            &passage_codegen::Settings::default(),
        )
        .unwrap();
        // `a/x` and `b/x` share one module; `a/y` has its own.
        let counts = compiled_modules(&generated);
        assert_eq!(counts.get("a"), Some(&2), "{counts:?}");
        assert_eq!(counts.get("b"), Some(&1), "{counts:?}");
    }
}
