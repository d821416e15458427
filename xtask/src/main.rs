//! Maintainer tasks for passage-rs (`cargo xtask ...`), rust-analyzer style: plain Rust instead
//! of shell scripts. Thin: the work is done by `passage-codegen`; this binary does the I/O.
//!
//! - `cargo xtask regen [--catalog FILE | --fetch [--base-url URL]] [--check]`: regenerates
//!   `generated/` from the pinned `catalog/providers.json`, prints the change report, and in
//!   `--check` mode changes nothing but fails when `generated/` or the snapshots are stale.
//!   Offline unless `--fetch` is given (then `GET {base-url}/v1/providers` with
//!   `PASSAGE_API_KEY`, the base URL from `--base-url`, else `PASSAGE_BASE_URL`, else
//!   production, as the CLI reads them; `--base-url` without `--fetch` is a usage error); `--catalog FILE` and `--fetch` first pin the new catalog into
//!   `catalog/providers.json`, so a later `regen --check` agrees with what was generated.
//! - `cargo xtask synth-catalog --operations N --out FILE`: a synthetic catalog for benchmarks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use passage_catalog::Catalog;
use passage_codegen::{diff, Generated, Provenance, Settings};

mod baseline;
mod bench;
mod bench_regen;
mod cache;
mod corpus;
mod gate;
mod package;
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
    /// Run every check CI runs: fmt, clippy, docs, regen --check, the test suite.
    Test(test::Args),
    /// Run the public schema corpus through regen, the compile gate and an instance round trip.
    Corpus(corpus::Args),
    /// Internal: a typing worker of regen (one JSON request per line on stdin).
    #[command(name = "__type-schemas", hide = true)]
    TypeSchemas,
    /// Internal: typify alone + prettyplease on the schemas regen types (bench-codegen's baseline).
    #[command(name = "__typify-baseline", hide = true)]
    TypifyBaseline(baseline::Args),
    /// `cargo package` the crates users install, in dependency order (offline; publishes nothing).
    Package,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RegenArgs {
    /// Regenerate from this catalog file and pin it as `catalog/providers.json`.
    #[arg(long, value_name = "FILE", conflicts_with = "fetch")]
    pub(crate) catalog: Option<PathBuf>,
    /// Fetch the live catalog (`GET {base-url}/v1/providers`, key from `PASSAGE_API_KEY`) and pin
    /// it. Without this flag regen never touches the network.
    #[arg(long)]
    pub(crate) fetch: bool,
    /// Change nothing; exit non-zero with a summary when `generated/` or the snapshots are stale.
    #[arg(long)]
    pub(crate) check: bool,
    /// API base URL for `--fetch` (only with `--fetch`). Default: `PASSAGE_BASE_URL` when set,
    /// else production, exactly as the CLI and `Client::from_env()` read it.
    #[arg(long, value_name = "URL", requires = "fetch")]
    pub(crate) base_url: Option<String>,
    /// Accepted for old scripts; regen is offline unless `--fetch` is given.
    #[arg(long, hide = true, conflicts_with = "fetch")]
    pub(crate) offline: bool,
    /// Write into this directory instead of `generated/` (benchmarks, experiments); pins nothing.
    #[arg(long, value_name = "DIR", hide = true)]
    pub(crate) out_dir: Option<PathBuf>,
    /// With `--out-dir` only: write without the compile gate (benchmarks of crates too large to
    /// type-check within a memory limit; what is written may not build).
    #[arg(long, hide = true, requires = "out_dir")]
    pub(crate) no_gate: bool,
    /// Memory limit of each typing worker process; a schema over it becomes `serde_json::Value`.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    pub(crate) schema_memory_mib: u64,
    /// Time one schema may take in typify, in seconds; over it, it becomes `serde_json::Value`.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub(crate) schema_seconds: u64,
    /// Use no cache (typify output, gate verdicts): what a first regen costs (benchmarks).
    #[arg(long, hide = true)]
    pub(crate) no_cache: bool,
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
        Task::TypifyBaseline(args) => baseline::run(args).map(|()| true),
        Task::Package => package::run().map(|()| true),
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
#[derive(Debug, PartialEq, Eq)]
enum Source {
    /// `catalog/providers.json` as committed.
    Pinned,
    /// `--catalog FILE`: pinned before generating.
    File(PathBuf),
    /// `--fetch` with this key from this base URL: pinned before generating.
    Live { key: String, base_url: String },
}

/// The source the flags ask for. The environment alone never selects the network: a
/// `PASSAGE_API_KEY` exported for the SDK or the CLI must not make an offline regen go online.
///
/// The base URL of `--fetch` follows the CLI's rule: `--base-url`, else `PASSAGE_BASE_URL` when
/// set and not blank, else production.
fn choose_source(
    args: &RegenArgs,
    api_key: Option<String>,
    env_base_url: Option<String>,
) -> Result<Source> {
    match (&args.catalog, args.fetch) {
        (Some(_), true) => bail!("--catalog and --fetch exclude each other: give one"),
        (Some(file), false) => Ok(Source::File(file.clone())),
        (None, true) => match api_key.filter(|k| !k.trim().is_empty()) {
            Some(key) => {
                let base_url = args
                    .base_url
                    .clone()
                    .or(env_base_url)
                    .map(|url| url.trim().to_owned())
                    .filter(|url| !url.is_empty())
                    .unwrap_or_else(|| PRODUCTION_BASE_URL.to_owned());
                Ok(Source::Live {
                    key: key.trim().to_owned(),
                    base_url,
                })
            }
            None => bail!("--fetch needs the API key in PASSAGE_API_KEY"),
        },
        (None, false) => Ok(Source::Pinned),
    }
}

pub(crate) fn regen(args: RegenArgs) -> Result<bool> {
    regen_in(
        &workspace_root(),
        args,
        std::env::var("PASSAGE_API_KEY").ok(),
        std::env::var("PASSAGE_BASE_URL").ok(),
    )
}

/// `regen` on the workspace at `root` (tests run it on a copy).
fn regen_in(
    root: &Path,
    args: RegenArgs,
    api_key: Option<String>,
    env_base_url: Option<String>,
) -> Result<bool> {
    const PINNED: &str = "catalog/providers.json";
    let pinned_path = root.join(PINNED);
    let previous = std::fs::read(&pinned_path)
        .with_context(|| format!("reading the pinned catalog {}", pinned_path.display()))?;
    let source = choose_source(&args, api_key, env_base_url)?;
    let catalog_bytes = match &source {
        Source::Pinned => previous.clone(),
        Source::File(file) => {
            std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
        }
        Source::Live { key, base_url } => {
            eprintln!("fetching {}/v1/providers", base_url.trim_end_matches('/'));
            fetch_catalog(base_url, key)?
        }
    };
    let new_catalog = Catalog::from_slice(&catalog_bytes).context("the new catalog")?;
    let old_catalog = Catalog::from_slice(&previous).context("the pinned catalog")?;
    let report = diff::compare(&old_catalog, &new_catalog);
    print!("{report}");

    // Into generated/, the code is made from what is (or is about to be) pinned, so the header
    // names the pinned file. An experiment with --out-dir pins nothing and names its file. Either
    // way the label is repo-relative (or a bare file name): the same on every machine.
    let pins = args.out_dir.is_none() && source != Source::Pinned;
    let label = match &source {
        Source::File(file) if args.out_dir.is_some() => repo_label(root, file),
        _ => PINNED.to_string(),
    };
    let typer = typer::ProcessTyper::new(args.schema_memory_mib)?;
    let settings = Settings::default()
        .with_catalog_label(label)
        .with_schema_budget(std::time::Duration::from_secs(args.schema_seconds));
    let settings = if args.no_cache {
        settings.with_typer(std::sync::Arc::new(typer))
    } else {
        settings.with_typer(std::sync::Arc::new(cache::CachingTyper::new(
            typer,
            gate::target_dir().join("regen-cache"),
        )))
    };
    // One scratch workspace per output folder, so concurrent regens of different outputs
    // (tests, benchmarks) do not overwrite each other's crate.
    let scratch = {
        let out = args
            .out_dir
            .clone()
            .unwrap_or_else(|| root.join("generated"));
        let digest = sha_hex(out.display().to_string().as_bytes());
        gate::target_dir().join(format!("regen-gate/{}", &digest[..16]))
    };
    let verdicts = if args.no_cache {
        gate::Verdicts::disabled()
    } else {
        gate::Verdicts::open(gate::target_dir().join("regen-gate/verdicts"))
    };
    let generated = if args.no_gate {
        passage_codegen::generate(&catalog_bytes, &settings)?
    } else {
        gate::generate_gated(&catalog_bytes, settings, &scratch, &verdicts)?
    };
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
        if catalog_bytes != previous {
            match &source {
                Source::Pinned => {}
                Source::File(file) => stale.push(format!(
                    "{PINNED} differs from {} (pin it: `cargo xtask regen --catalog {}`)",
                    file.display(),
                    file.display()
                )),
                Source::Live { .. } => {
                    stale.push(format!("{PINNED} differs from the live catalog"))
                }
            }
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
        let fix = match &source {
            Source::Pinned => "cargo xtask regen".to_string(),
            Source::File(file) => format!("cargo xtask regen --catalog {}", file.display()),
            Source::Live { .. } => "cargo xtask regen --fetch".to_string(),
        };
        eprintln!("fix: run `{fix}` and review the snapshots (`cargo insta review`)");
        return Ok(false);
    }

    if pins && catalog_bytes != previous {
        std::fs::write(&pinned_path, &catalog_bytes)
            .with_context(|| format!("writing {}", pinned_path.display()))?;
        println!("pinned the new catalog as {PINNED}");
    }
    let written = write_generated(&out_dir, &generated)?;
    println!(
        "regenerated {} file(s) for {} operation(s): {} written, {} removed, {} unchanged",
        generated.files.len(),
        generated.snapshots.len(),
        written.written,
        written.removed,
        generated.files.len() - written.written,
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

/// `file` relative to the workspace root when it lies inside it, else its bare file name: never
/// an absolute path of the machine that ran regen.
fn repo_label(root: &Path, file: &Path) -> String {
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    match absolute.strip_prefix(&root) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "catalog.json".into()),
    }
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
    for extra in gate::module_files(out_dir)? {
        if !generated.files.contains_key(&extra) {
            stale.push(format!("generated/{extra} is no longer generated"));
        }
    }
    Ok(stale)
}

/// What [`write_generated`] did.
struct WriteCounts {
    /// Generated files whose contents changed (or were new).
    written: usize,
    /// Files under `src/types/` and `src/integrations/` the generator no longer produces,
    /// deleted.
    removed: usize,
}

fn write_generated(out_dir: &Path, generated: &Generated) -> Result<WriteCounts> {
    let mut counts = WriteCounts {
        written: 0,
        removed: 0,
    };
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
        counts.written += 1;
    }
    for extra in gate::module_files(out_dir)? {
        if !generated.files.contains_key(&extra) {
            std::fs::remove_file(out_dir.join(&extra))?;
            counts.removed += 1;
        }
    }
    Ok(counts)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> RegenArgs {
        RegenArgs {
            catalog: None,
            fetch: false,
            check: false,
            // Nothing listens on the discard port: a fetch would fail the test.
            base_url: Some("http://127.0.0.1:9".into()),
            offline: false,
            out_dir: None,
            no_gate: false,
            schema_memory_mib: 4096,
            schema_seconds: 60,
            no_cache: false,
        }
    }

    #[test]
    fn only_the_fetch_flag_goes_online() {
        let key = || Some("psg_exported_for_the_cli".to_string());
        let env = || Some("http://127.0.0.1:4010".to_string());
        assert_eq!(
            choose_source(&args(), key(), env()).unwrap(),
            Source::Pinned
        );
        let fetch = RegenArgs {
            fetch: true,
            ..args()
        };
        let live = |base_url: &str| Source::Live {
            key: "psg_exported_for_the_cli".into(),
            base_url: base_url.into(),
        };
        assert_eq!(
            choose_source(&fetch, key(), env()).unwrap(),
            live("http://127.0.0.1:9"),
            "--base-url wins over the environment"
        );
        let from_env = RegenArgs {
            base_url: None,
            fetch: true,
            ..args()
        };
        assert_eq!(
            choose_source(&from_env, key(), env()).unwrap(),
            live("http://127.0.0.1:4010"),
            "PASSAGE_BASE_URL is read as the CLI reads it"
        );
        assert_eq!(
            choose_source(&from_env, key(), Some("  ".into())).unwrap(),
            live(PRODUCTION_BASE_URL),
            "blank is unset"
        );
        let err = choose_source(&fetch, None, env()).unwrap_err().to_string();
        assert!(err.contains("PASSAGE_API_KEY"), "{err}");
        let both = RegenArgs {
            catalog: Some("x.json".into()),
            ..fetch
        };
        assert!(choose_source(&both, key(), env()).is_err());
    }

    /// A copy of the workspace's inputs: the pinned catalog only (regen creates the rest).
    fn workspace_copy() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
        std::fs::copy(
            workspace_root().join("catalog/providers.json"),
            dir.path().join("catalog/providers.json"),
        )
        .unwrap();
        dir
    }

    /// The pinned catalog with the first operation's description changed.
    fn changed_catalog() -> Vec<u8> {
        let text =
            std::fs::read_to_string(workspace_root().join("catalog/providers.json")).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let operations = value["providers"][0]["resources"][0]["operations"]
            .as_object_mut()
            .expect("the pinned catalog has operations");
        let first = operations.values_mut().next().unwrap();
        first["description"] = "Changed upstream.".into();
        let mut out = serde_json::to_string_pretty(&value).unwrap();
        out.push('\n');
        out.into_bytes()
    }

    /// `insta accept`: the pending snapshots become the accepted ones.
    fn accept_snapshots(root: &Path) {
        let dir = root.join("codegen/tests/snapshots");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "new") {
                std::fs::rename(&path, path.with_extension("")).unwrap();
            }
        }
    }

    #[test]
    fn catalog_file_is_pinned_labelled_relative_and_check_agrees_afterwards() {
        let root = workspace_copy();
        let elsewhere = tempfile::tempdir().unwrap();
        let file = elsewhere.path().join("providers-new.json");
        std::fs::write(&file, changed_catalog()).unwrap();
        let key = Some("psg_exported_for_the_cli".to_string());

        // Before pinning, `--check --catalog FILE` says the pin is stale and changes nothing.
        let pinned_before = std::fs::read(root.path().join("catalog/providers.json")).unwrap();
        let check_file = RegenArgs {
            catalog: Some(file.clone()),
            check: true,
            ..args()
        };
        assert!(!regen_in(root.path(), check_file, key.clone(), None).unwrap());
        assert_eq!(
            std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
            pinned_before
        );

        let from_file = RegenArgs {
            catalog: Some(file.clone()),
            ..args()
        };
        assert!(regen_in(root.path(), from_file, key.clone(), None).unwrap());
        assert_eq!(
            std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
            std::fs::read(&file).unwrap(),
            "--catalog FILE pins FILE"
        );
        let lib = std::fs::read_to_string(root.path().join("generated/src/lib.rs")).unwrap();
        let header: String = lib.lines().take_while(|l| l.starts_with("//")).collect();
        assert!(header.contains("catalog/providers.json"), "{header}");
        for machine_path in [root.path(), elsewhere.path()] {
            let text = machine_path.display().to_string();
            assert!(
                !header.contains(&text),
                "absolute path in the header: {header}"
            );
        }

        // `regen --check` (key exported, no --fetch: still offline) agrees with what was made.
        accept_snapshots(root.path());
        let check = RegenArgs {
            check: true,
            ..args()
        };
        assert!(regen_in(root.path(), check, key, None).unwrap());
    }

    #[test]
    fn an_experiment_with_out_dir_pins_nothing_and_names_only_its_file() {
        let root = workspace_copy();
        let elsewhere = tempfile::tempdir().unwrap();
        let file = elsewhere.path().join("synthetic.json");
        std::fs::write(&file, changed_catalog()).unwrap();
        let pinned_before = std::fs::read(root.path().join("catalog/providers.json")).unwrap();
        let out = elsewhere.path().join("out");
        let experiment = RegenArgs {
            catalog: Some(file),
            out_dir: Some(out.clone()),
            ..args()
        };
        assert!(regen_in(root.path(), experiment, None, None).unwrap());
        assert_eq!(
            std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
            pinned_before
        );
        let lib = std::fs::read_to_string(out.join("src/lib.rs")).unwrap();
        assert!(lib.contains("synthetic.json"), "{lib}");
        assert!(!lib.contains(&elsewhere.path().display().to_string()));
    }
}
