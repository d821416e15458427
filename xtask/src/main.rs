//! Maintainer tasks for passage-rs (`cargo xtask ...`), rust-analyzer style: plain Rust instead
//! of shell scripts. Thin: the work is done by `passage-codegen`; this binary does the I/O.
//!
//! - `cargo xtask regen [--catalog FILE] [--check] [--base-url URL]`: regenerates `generated/`
//!   from the provider catalog (fetched with `PASSAGE_API_KEY` when set, else the pinned
//!   `catalog/providers.json`), prints the change report, and in `--check` mode changes nothing
//!   but fails when `generated/` or the snapshots are stale.
//! - `cargo xtask synth-catalog --operations N --out FILE`: a synthetic catalog for benchmarks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use passage_catalog::Catalog;
use passage_codegen::{diff, Generated, Provenance, Settings};

mod bench;
mod corpus;
mod gate;
mod synth;
mod test;
mod typer;

/// Production base URL of the Passage Connect API.
const PRODUCTION_BASE_URL: &str = "https://connect.getpassage.ai";

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "passage-rs maintainer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Regenerate `generated/` from the provider catalog.
    Regen(RegenArgs),
    /// Write a synthetic catalog with N operations (for the codegen benchmark).
    SynthCatalog(synth::Args),
    /// Measure regen time at 200 and 2,000 operations and the generated crate's build time.
    BenchCodegen(bench::Args),
    /// Run every check CI runs: fmt, clippy, regen --check, the test suite.
    Test(test::Args),
    /// Run the public schema corpus through regen, the compile gate and an instance round trip.
    Corpus(corpus::Args),
    /// Internal: a typing worker of regen (one JSON request per line on stdin).
    #[command(name = "__type-schemas", hide = true)]
    TypeSchemas,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RegenArgs {
    /// Regenerate from this catalog file instead of the pinned one (or the live API).
    #[arg(long, value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
    /// Change nothing; exit non-zero with a summary when `generated/` or the snapshots are stale.
    #[arg(long)]
    pub(crate) check: bool,
    /// API base URL used to fetch the catalog when `PASSAGE_API_KEY` is set.
    #[arg(long, default_value = PRODUCTION_BASE_URL)]
    pub(crate) base_url: String,
    /// Ignore `PASSAGE_API_KEY`: regenerate from the pinned catalog.
    #[arg(long)]
    pub(crate) offline: bool,
    /// Write into this directory instead of `generated/` (benchmarks, experiments).
    #[arg(long, value_name = "DIR", hide = true)]
    pub(crate) out_dir: Option<PathBuf>,
    /// Memory limit of each typing worker process; a schema over it becomes `serde_json::Value`.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    pub(crate) schema_memory_mib: u64,
    /// Time one schema may take in typify, in seconds; over it, it becomes `serde_json::Value`.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub(crate) schema_seconds: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Task::Regen(args) => regen(args),
        Task::SynthCatalog(args) => synth::run(args).map(|()| true),
        Task::Test(args) => test::run(args),
        Task::BenchCodegen(args) => bench::run(args),
        Task::Corpus(args) => corpus::run(args),
        Task::TypeSchemas => typer::serve().map(|()| true),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Where the new catalog comes from.
enum Source {
    Pinned,
    File(PathBuf),
    Live(String),
}

pub(crate) fn regen(args: RegenArgs) -> Result<bool> {
    let root = workspace_root();
    let pinned_path = root.join("catalog/providers.json");
    let previous = std::fs::read(&pinned_path)
        .with_context(|| format!("reading the pinned catalog {}", pinned_path.display()))?;
    let api_key = std::env::var("PASSAGE_API_KEY")
        .ok()
        .filter(|k| !k.is_empty() && !args.offline);
    let source = match (&args.catalog, api_key) {
        (Some(file), _) => Source::File(file.clone()),
        (None, Some(key)) => Source::Live(key),
        (None, None) => Source::Pinned,
    };
    let (catalog_bytes, label) = match &source {
        Source::Pinned => (previous.clone(), "catalog/providers.json".to_string()),
        Source::File(file) => (
            std::fs::read(file).with_context(|| format!("reading {}", file.display()))?,
            file.display().to_string(),
        ),
        Source::Live(key) => {
            eprintln!(
                "fetching {}/v1/providers",
                args.base_url.trim_end_matches('/')
            );
            (
                fetch_catalog(&args.base_url, key)?,
                "catalog/providers.json".to_string(),
            )
        }
    };
    let new_catalog = Catalog::from_slice(&catalog_bytes).context("the new catalog")?;
    let old_catalog = Catalog::from_slice(&previous).context("the pinned catalog")?;
    let report = diff::compare(&old_catalog, &new_catalog);
    print!("{report}");

    let settings = Settings::default()
        .with_catalog_label(label)
        .with_schema_budget(std::time::Duration::from_secs(args.schema_seconds))
        .with_typer(std::sync::Arc::new(typer::ProcessTyper::new(
            args.schema_memory_mib,
        )?));
    // One scratch workspace per output folder, so concurrent regens of different outputs
    // (tests, benchmarks) do not overwrite each other's crate.
    let scratch = match &args.out_dir {
        None => gate::target_dir().join("regen-gate/generated"),
        Some(dir) => {
            let digest = sha_hex(dir.display().to_string().as_bytes());
            gate::target_dir().join(format!("regen-gate/out-{}", &digest[..16]))
        }
    };
    let generated = gate::generate_gated(&catalog_bytes, settings, &scratch)?;
    for warning in &generated.warnings {
        eprintln!("warning: {warning}");
    }
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| root.join("generated"));
    let snapshot_dir = root.join("codegen/tests/snapshots");

    if args.check {
        let mut stale = stale_generated(&out_dir, &generated)?;
        if args.out_dir.is_none() {
            stale.extend(stale_snapshots(&snapshot_dir, &generated)?);
        }
        if matches!(source, Source::Live(_)) && catalog_bytes != previous {
            stale.push("catalog/providers.json differs from the live catalog".into());
        }
        if stale.is_empty() {
            println!("generated/ and snapshots are up to date");
            return Ok(true);
        }
        eprintln!("stale ({} item(s)):", stale.len());
        for item in &stale {
            eprintln!("  {item}");
        }
        if let Some(reason) = staleness_reason(&out_dir, &generated.provenance) {
            eprintln!("why: {reason}");
        }
        eprintln!("fix: run `cargo xtask regen` and review the snapshots (`cargo insta review`)");
        return Ok(false);
    }

    if let Source::Live(_) = source {
        if catalog_bytes != previous {
            std::fs::write(&pinned_path, &catalog_bytes)?;
            println!("wrote catalog/providers.json");
        }
    }
    let written = write_generated(&out_dir, &generated)?;
    println!(
        "regenerated {} file(s) ({} changed) for {} operation(s)",
        generated.files.len(),
        written,
        generated.snapshots.len()
    );
    if args.out_dir.is_none() {
        let pending = write_pending_snapshots(&snapshot_dir, &generated)?;
        if pending > 0 {
            println!(
                "{pending} operation snapshot(s) changed: review them with `cargo insta review` \
                 (or accept with `cargo insta accept`)"
            );
        }
    }
    Ok(true)
}

fn fetch_catalog(base_url: &str, api_key: &str) -> Result<Vec<u8>> {
    let url = format!("{}/v1/providers", base_url.trim_end_matches('/'));
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("passage-rs-xtask/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    // The key goes only into the header; errors below name the URL, never the key.
    let response = client
        .get(&url)
        .bearer_auth(api_key)
        .send()
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.bytes().with_context(|| format!("reading {url}"))?;
    if !status.is_success() {
        bail!(
            "GET {url} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    // Pin it pretty-printed so reviews diff line by line.
    let value: serde_json::Value = serde_json::from_slice(&body).context("catalog is not JSON")?;
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text.into_bytes())
}

/// Files under `generated/` that differ from, are missing from, or are extra to the output.
fn stale_generated(out_dir: &Path, generated: &Generated) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for (path, contents) in &generated.files {
        match std::fs::read_to_string(out_dir.join(path)) {
            Ok(existing) if existing == *contents => {}
            Ok(_) => stale.push(format!("generated/{path} differs")),
            Err(_) => stale.push(format!("generated/{path} is missing")),
        }
    }
    for extra in existing_type_files(out_dir)? {
        if !generated.files.contains_key(&extra) {
            stale.push(format!("generated/{extra} is no longer generated"));
        }
    }
    Ok(stale)
}

fn existing_type_files(out_dir: &Path) -> Result<Vec<String>> {
    let dir = out_dir.join("src/types");
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") {
                out.push(format!("src/types/{name}"));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_generated(out_dir: &Path, generated: &Generated) -> Result<usize> {
    let mut written = 0;
    for (path, contents) in &generated.files {
        let target = out_dir.join(path);
        if std::fs::read_to_string(&target).ok().as_deref() == Some(contents.as_str()) {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, contents)
            .with_context(|| format!("writing {}", target.display()))?;
        written += 1;
    }
    for extra in existing_type_files(out_dir)? {
        if !generated.files.contains_key(&extra) {
            std::fs::remove_file(out_dir.join(&extra))?;
            written += 1;
        }
    }
    Ok(written)
}

/// Says whether the catalog or the generator changed, from the committed header's provenance.
fn staleness_reason(out_dir: &Path, new: &Provenance) -> Option<String> {
    let text = std::fs::read_to_string(out_dir.join("src/lib.rs")).ok()?;
    let Some(old) = Provenance::parse_header(&text) else {
        return Some("generated/src/lib.rs has no provenance header".into());
    };
    let mut reasons = Vec::new();
    if old.catalog_sha256 != new.catalog_sha256 {
        reasons.push(format!(
            "the catalog changed (sha256 {} -> {})",
            short(&old.catalog_sha256),
            short(&new.catalog_sha256)
        ));
    }
    if old.codegen_version != new.codegen_version || old.typify_version != new.typify_version {
        reasons.push(format!(
            "the generator version changed (passage-codegen {} -> {}, typify {} -> {})",
            old.codegen_version, new.codegen_version, old.typify_version, new.typify_version
        ));
    }
    if reasons.is_empty() {
        reasons.push("same catalog and generator versions: the generator's code changed".into());
    }
    Some(reasons.join("; "))
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

// --- insta snapshots -------------------------------------------------------------------------
// The snapshots are asserted by `codegen/tests/operation_snapshots.rs` with insta. Here we only
// read them (for --check) and write pending `.snap.new` files in insta's format (for review).

const SNAPSHOT_TEST: &str = "operation_snapshots";

fn snapshot_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{SNAPSHOT_TEST}__{name}.snap"))
}

/// The body of an insta snapshot file (after its `---` front matter).
fn snapshot_body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

fn render_snapshot(code: &str) -> String {
    format!(
        "---\nsource: codegen/tests/{SNAPSHOT_TEST}.rs\nexpression: \"&snapshot.code\"\n---\n{}\n",
        code.trim_end()
    )
}

fn expected_snapshots(generated: &Generated) -> BTreeMap<String, &str> {
    generated
        .snapshots
        .iter()
        .map(|s| (s.name.clone(), s.code.as_str()))
        .collect()
}

fn stale_snapshots(dir: &Path, generated: &Generated) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    let expected = expected_snapshots(generated);
    for (name, code) in &expected {
        let path = snapshot_file(dir, name);
        match std::fs::read_to_string(&path) {
            Ok(text) if snapshot_body(&text).map(str::trim_end) == Some(code.trim_end()) => {}
            Ok(_) => stale.push(format!("snapshot {name} differs")),
            Err(_) => stale.push(format!("snapshot {name} is missing")),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let file = entry?.file_name().to_string_lossy().into_owned();
            if let Some(name) = file
                .strip_prefix(&format!("{SNAPSHOT_TEST}__"))
                .and_then(|n| n.strip_suffix(".snap"))
            {
                if !expected.contains_key(name) {
                    stale.push(format!("snapshot {name} belongs to no operation"));
                }
            }
        }
    }
    Ok(stale)
}

fn write_pending_snapshots(dir: &Path, generated: &Generated) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut pending = 0;
    for (name, code) in expected_snapshots(generated) {
        let path = snapshot_file(dir, &name);
        let current = std::fs::read_to_string(&path).ok();
        if current
            .as_deref()
            .and_then(snapshot_body)
            .map(str::trim_end)
            == Some(code.trim_end())
        {
            continue;
        }
        let mut new_path = path.into_os_string();
        new_path.push(".new");
        std::fs::write(&new_path, render_snapshot(code))?;
        pending += 1;
    }
    Ok(pending)
}

fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
