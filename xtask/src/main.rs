//! Maintainer tasks for passage-rs (`cargo xtask ...`), rust-analyzer style: plain Rust instead
//! of shell scripts. Thin: the work is done by `passage-codegen`; this binary does the I/O.
//!
//! - `cargo xtask regen [--catalog FILE | --fetch [--base-url URL]] [--check] [--report DIR]`: regenerates
//!   `generated/` from the pinned `catalog/providers.json`, prints the change report, and in
//!   `--check` mode changes nothing but fails when `generated/` or the snapshots are stale.
//!   Offline unless `--fetch` is given (then `GET {base-url}/v1/providers` with
//!   `PASSAGE_API_KEY`, the base URL from `--base-url`, else `PASSAGE_BASE_URL`, else
//!   production, as the CLI reads them; `--base-url` without `--fetch` is a usage error); `--catalog FILE` and `--fetch` first pin the new catalog into
//!   `catalog/providers.json`, so a later `regen --check` agrees with what was generated.
//!   Stages (typing, the compile gate, writing) and the total time go to stderr: a progress bar
//!   on a terminal, plain lines otherwise; stdout holds the change report (wire verdicts by
//!   role with checked counterexamples, the generated crate's Rust API changes, the semver
//!   bump), which `--report DIR` also writes as `DIR/report.md` and `DIR/counterexamples/NN.json`
//!   (`report.rs`).
//! - `cargo xtask review [--accept] [--diff]`: lists the operation snapshots regen left pending
//!   review (`codegen/tests/snapshots/*.snap.new`, git-ignored) with a short diff; `--accept`
//!   accepts them as `cargo insta accept` does, without needing cargo-insta.
//! - `cargo xtask synth-catalog --operations N --out FILE`: a synthetic catalog for benchmarks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use passage_catalog::Catalog;
use passage_codegen::{diff, Generated, Settings};

mod baseline;
mod bench;
mod bench_regen;
mod cache;
mod corpus;
mod corpus_samples;
mod gate;
#[cfg(test)]
mod gated_crates;
mod package;
mod progress;
mod report;
mod snapshots;
mod staleness;
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
    /// List the operation snapshots pending review (`.snap.new`); `--accept` accepts them.
    Review(snapshots::ReviewArgs),
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
    /// Also write the change report into DIR: `report.md` (for a pull-request comment, ending
    /// with `semver: major|minor|patch`) and `counterexamples/NN.json`.
    #[arg(long, value_name = "DIR")]
    pub(crate) report: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Task::Regen(args) => regen(args),
        Task::Review(args) => snapshots::review(&workspace_root(), &args),
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
    let progress = std::sync::Arc::new(progress::Progress::for_stderr("regen"));
    let outcome = regen_in(
        &workspace_root(),
        args,
        std::env::var("PASSAGE_API_KEY").ok(),
        std::env::var("PASSAGE_BASE_URL").ok(),
        &progress,
    )?;
    let took = progress::seconds(progress.elapsed());
    Ok(match outcome {
        Outcome::UpToDate => {
            progress.note(format!("done in {took}: up to date"));
            true
        }
        Outcome::Stale(diagnosis) => {
            eprintln!("{diagnosis}");
            progress.note(format!("done in {took}: stale"));
            false
        }
        Outcome::Regenerated(counts) => {
            progress.note(format!(
                "done in {took}: {} file(s) written, {} removed, {} snapshot(s) pending review",
                counts.written.len(),
                counts.removed.len(),
                counts.pending_snapshots
            ));
            true
        }
    })
}

/// What one `regen` did.
#[derive(Debug)]
enum Outcome {
    /// `--check`: everything up to date.
    UpToDate,
    /// `--check`: stale, and why.
    Stale(staleness::Diagnosis),
    /// Files written.
    Regenerated(WriteCounts),
}

/// `regen` on the workspace at `root` (tests run it on a copy). Prints the change report and
/// the files written on stdout, the stages on stderr; returns the `--check` diagnosis unprinted.
fn regen_in(
    root: &Path,
    args: RegenArgs,
    api_key: Option<String>,
    env_base_url: Option<String>,
    progress: &std::sync::Arc<progress::Progress>,
) -> Result<Outcome> {
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
            let stage = progress.waiting(format!(
                "fetching {}/v1/providers",
                base_url.trim_end_matches('/')
            ));
            let bytes = fetch_catalog(base_url, key)?;
            stage.done(format!("fetched the catalog ({} bytes)", bytes.len()));
            bytes
        }
    };
    let new_catalog = Catalog::from_slice(&catalog_bytes).context("the new catalog")?;
    let old_catalog = Catalog::from_slice(&previous).context("the pinned catalog")?;

    // Into generated/, the code is made from what is (or is about to be) pinned, so the header
    // names the pinned file. An experiment with --out-dir pins nothing and names its file. Either
    // way the label is repo-relative (or a bare file name): the same on every machine.
    let pins = args.out_dir.is_none() && source != Source::Pinned;
    let label = match &source {
        Source::File(file) if args.out_dir.is_some() => repo_label(root, file),
        _ => PINNED.to_string(),
    };
    let typer = typer::ProcessTyper::new(args.schema_memory_mib)?.with_progress(progress.clone());
    let settings = Settings::default()
        .with_catalog_label(label)
        .with_schema_budget(std::time::Duration::from_secs(args.schema_seconds));
    let settings = if args.no_cache {
        settings.with_typer(std::sync::Arc::new(typer))
    } else {
        settings.with_typer(std::sync::Arc::new(
            cache::CachingTyper::new(typer, gate::target_dir().join("regen-cache"))
                .with_progress(progress.clone()),
        ))
    };
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| root.join("generated"));
    // One scratch workspace per output folder, so concurrent regens of different outputs
    // (tests, benchmarks) do not overwrite each other's crate.
    let scratch = {
        let digest = sha_hex(out_dir.display().to_string().as_bytes());
        gate::target_dir().join(format!("regen-gate/{}", &digest[..16]))
    };
    let verdicts = if args.no_cache {
        gate::Verdicts::disabled()
    } else {
        gate::Verdicts::open(gate::target_dir().join("regen-gate/verdicts"))
    };
    let settings_for_old = settings.clone();
    let generated = if args.no_gate {
        passage_codegen::generate(&catalog_bytes, &settings)?
    } else {
        gate::generate_gated(
            &catalog_bytes,
            settings,
            &scratch,
            &verdicts,
            Some(&out_dir),
            progress,
        )?
    };
    for warning in &generated.warnings {
        eprintln!("warning: {warning}");
    }
    // The old crate is the one users have: `generated/` as committed. A workspace without it
    // (a fresh experiment) gets it made from the pinned catalog, ungated.
    let stage = progress.waiting("checking the changes (counterexamples, Rust API)".to_string());
    let old_files = match read_crate(&root.join("generated"))? {
        Some(files) => files,
        None => passage_codegen::generate(&previous, &settings_for_old)?.files,
    };
    let report = diff::report(&old_catalog, &new_catalog, &old_files, &generated.files);
    stage.done(format!(
        "checked the changes: {} counterexample(s), semver {}",
        report.counterexamples.len(),
        report.semver().as_str()
    ));
    print!("{report}");
    if let Some(dir) = &args.report {
        report::write(dir, &report)?;
        println!(
            "wrote the change report to {}",
            dir.join("report.md").display()
        );
    }
    let snapshot_dir = root.join(snapshots::SNAPSHOT_DIR);

    if args.check {
        let pin_differs = (catalog_bytes != previous)
            .then(|| match &source {
                Source::Pinned => None,
                Source::File(file) => Some((
                    file.display().to_string(),
                    format!("cargo xtask regen --catalog {}", file.display()),
                )),
                Source::Live { .. } => Some((
                    "the live catalog".to_owned(),
                    "cargo xtask regen --fetch".to_owned(),
                )),
            })
            .flatten();
        let observed = staleness::Observed {
            out_dir: &out_dir,
            generated: &generated,
            pinned_sha256: sha_hex(&previous),
            pin_differs,
            stale_files: stale_generated(&out_dir, &generated)?,
            snapshots: match args.out_dir {
                None => Some(snapshots::compare(&snapshot_dir, &generated)?),
                Some(_) => None,
            },
        };
        return Ok(match staleness::diagnose(observed) {
            None => {
                println!("generated/ and snapshots are up to date");
                Outcome::UpToDate
            }
            Some(diagnosis) => Outcome::Stale(diagnosis),
        });
    }

    if pins && catalog_bytes != previous {
        std::fs::write(&pinned_path, &catalog_bytes)
            .with_context(|| format!("writing {}", pinned_path.display()))?;
        println!("pinned the new catalog as {PINNED}");
    }
    let mut counts = write_generated(&out_dir, &generated)?;
    println!(
        "regenerated {} file(s) for {} operation(s): {} written, {} removed, {} unchanged",
        generated.files.len(),
        generated.snapshots.len(),
        counts.written.len(),
        counts.removed.len(),
        generated.files.len() - counts.written.len(),
    );
    for path in &counts.written {
        println!("  wrote {path}");
    }
    for path in &counts.removed {
        println!("  removed {path}");
    }
    if args.out_dir.is_none() {
        counts.pending_snapshots = snapshots::write_pending(&snapshot_dir, &generated)?;
        if counts.pending_snapshots > 0 {
            println!(
                "{} operation snapshot(s) changed, pending review: `cargo xtask review` shows \
                 them, `cargo xtask review --accept` accepts them",
                counts.pending_snapshots
            );
        }
    }
    Ok(Outcome::Regenerated(counts))
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

/// The Rust files of a generated crate (`src/lib.rs`, its types and integrations modules),
/// keyed as `Generated::files`; `None` when there is no crate at `dir`.
fn read_crate(dir: &Path) -> Result<Option<std::collections::BTreeMap<String, String>>> {
    let lib = dir.join("src/lib.rs");
    if !lib.exists() {
        return Ok(None);
    }
    let mut files = std::collections::BTreeMap::new();
    for path in std::iter::once("src/lib.rs".to_owned()).chain(gate::module_files(dir)?) {
        let text = std::fs::read_to_string(dir.join(&path))
            .with_context(|| format!("reading {}", dir.join(&path).display()))?;
        files.insert(path, text);
    }
    Ok(Some(files))
}

/// Files under `generated/` that differ from, are missing from, or are extra to the output.
pub(crate) fn stale_generated(out_dir: &Path, generated: &Generated) -> Result<Vec<String>> {
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

/// What [`write_generated`] (and the snapshot step after it) did.
#[derive(Debug, Default)]
struct WriteCounts {
    /// Generated files (crate-relative paths) whose contents changed or were new.
    written: Vec<String>,
    /// Files under `src/types/` and `src/integrations/` the generator no longer produces,
    /// deleted.
    removed: Vec<String>,
    /// Operation snapshots left pending review.
    pending_snapshots: usize,
}

pub(crate) fn write_generated(out_dir: &Path, generated: &Generated) -> Result<WriteCounts> {
    let mut counts = WriteCounts::default();
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
        counts.written.push(path.clone());
    }
    for extra in gate::module_files(out_dir)? {
        if !generated.files.contains_key(&extra) {
            std::fs::remove_file(out_dir.join(&extra))?;
            counts.removed.push(extra);
        }
    }
    Ok(counts)
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
            report: None,
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

    /// `regen_in` with plain progress lines (never a bar, whatever the test's stderr is).
    fn run(root: &Path, args: RegenArgs, api_key: Option<String>) -> Outcome {
        let progress = std::sync::Arc::new(progress::Progress::lines("regen"));
        regen_in(root, args, api_key, None, &progress).unwrap()
    }

    fn check() -> RegenArgs {
        RegenArgs {
            check: true,
            ..args()
        }
    }

    /// The diagnosis of a `--check` that must find something stale.
    fn stale(outcome: Outcome) -> staleness::Diagnosis {
        match outcome {
            Outcome::Stale(diagnosis) => diagnosis,
            other => panic!("expected stale, got {other:?}"),
        }
    }

    fn written(outcome: Outcome) -> WriteCounts {
        match outcome {
            Outcome::Regenerated(counts) => counts,
            other => panic!("expected files written, got {other:?}"),
        }
    }

    /// `cargo xtask review --accept`.
    fn accept_snapshots(root: &Path) {
        let accept = snapshots::ReviewArgs {
            accept: true,
            diff: false,
        };
        assert!(snapshots::review(root, &accept).unwrap());
    }

    /// A workspace copy as a maintainer has it after a clean clone: generated/ and the
    /// snapshots made from the pinned catalog, reviewed, `--check` clean.
    fn up_to_date_workspace() -> tempfile::TempDir {
        let root = workspace_copy();
        written(run(root.path(), args(), None));
        accept_snapshots(root.path());
        assert!(matches!(run(root.path(), check(), None), Outcome::UpToDate));
        root
    }

    fn pinned_catalog() -> serde_json::Value {
        let text =
            std::fs::read_to_string(workspace_root().join("catalog/providers.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn to_bytes(value: &serde_json::Value) -> Vec<u8> {
        let mut out = serde_json::to_string_pretty(value).unwrap();
        out.push('\n');
        out.into_bytes()
    }

    /// The pinned catalog with the first operation's description changed.
    fn changed_catalog() -> Vec<u8> {
        let mut value = pinned_catalog();
        let operations = value["providers"][0]["resources"][0]["operations"]
            .as_object_mut()
            .expect("the pinned catalog has operations");
        let first = operations.values_mut().next().unwrap();
        first["description"] = "Changed upstream.".into();
        to_bytes(&value)
    }

    /// The pinned catalog with two fields added to one schema: doordash's `orderHistory/read`
    /// result, which no other integration shares.
    fn one_schema_changed() -> Vec<u8> {
        let mut value = pinned_catalog();
        let doordash = value["providers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["id"] == "doordash")
            .expect("doordash in the pinned catalog");
        let order = doordash["resources"][0]["operations"]["read"]["result"]["$defs"]["Order"]
            ["properties"]
            .as_object_mut()
            .expect("doordash's Order has properties");
        order.insert("tipAmount".into(), serde_json::json!({"type": "number"}));
        order.insert(
            "loyaltyPoints".into(),
            serde_json::json!({"type": "integer"}),
        );
        to_bytes(&value)
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
        let diagnosis = stale(run(root.path(), check_file, key.clone()));
        assert!(
            matches!(diagnosis.state, staleness::State::PinDiffers { .. }),
            "{diagnosis}"
        );
        assert!(diagnosis
            .to_string()
            .contains("cargo xtask regen --catalog"));
        assert_eq!(
            std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
            pinned_before
        );

        let from_file = RegenArgs {
            catalog: Some(file.clone()),
            ..args()
        };
        written(run(root.path(), from_file, key.clone()));
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
        assert!(matches!(run(root.path(), check(), key), Outcome::UpToDate));
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
        written(run(root.path(), experiment, None));
        assert_eq!(
            std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
            pinned_before
        );
        let lib = std::fs::read_to_string(out.join("src/lib.rs")).unwrap();
        assert!(lib.contains("synthetic.json"), "{lib}");
        assert!(!lib.contains(&elsewhere.path().display().to_string()));
    }

    #[test]
    fn check_after_the_pinned_catalog_changed_says_the_catalog_changed() {
        let root = up_to_date_workspace();
        // A pull that brings a new pinned catalog without the regen that goes with it.
        std::fs::write(
            root.path().join("catalog/providers.json"),
            changed_catalog(),
        )
        .unwrap();
        let diagnosis = stale(run(root.path(), check(), None));
        assert!(
            matches!(diagnosis.state, staleness::State::CatalogChanged { .. }),
            "{diagnosis}"
        );
        let text = diagnosis.to_string();
        assert!(text.contains("why: the catalog changed"), "{text}");
        assert!(text.contains("run `cargo xtask regen`"), "{text}");
        assert!(!text.contains("generator"), "{text}");

        // The fix it names works.
        written(run(root.path(), args(), None));
        accept_snapshots(root.path());
        assert!(matches!(run(root.path(), check(), None), Outcome::UpToDate));
    }

    #[test]
    fn check_with_snapshots_waiting_says_pending_review_and_review_accept_settles_it() {
        let root = up_to_date_workspace();
        let file = root.path().join("providers-new.json");
        std::fs::write(&file, one_schema_changed()).unwrap();
        let fetched = RegenArgs {
            catalog: Some(file),
            ..args()
        };
        assert_eq!(
            written(run(root.path(), fetched, None)).pending_snapshots,
            1
        );

        let diagnosis = stale(run(root.path(), check(), None));
        assert_eq!(
            diagnosis.state,
            staleness::State::SnapshotsPending { count: 1 },
            "{diagnosis}"
        );
        let text = diagnosis.to_string();
        assert!(text.contains("snapshots pending review"), "{text}");
        assert!(text.contains("`cargo xtask review`"), "{text}");
        assert!(text.contains("`cargo xtask review --accept`"), "{text}");
        assert!(
            !text.contains("generator") && !text.contains("cargo xtask regen"),
            "names neither a generator change nor a regen that would change nothing: {text}"
        );

        accept_snapshots(root.path());
        assert!(matches!(run(root.path(), check(), None), Outcome::UpToDate));
    }

    #[test]
    fn a_hand_edited_generated_file_is_not_called_a_catalog_change() {
        let root = up_to_date_workspace();
        let path = root.path().join("generated/src/integrations/doordash.rs");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("// edited by hand\n");
        std::fs::write(&path, text).unwrap();
        let diagnosis = stale(run(root.path(), check(), None));
        assert_eq!(diagnosis.state, staleness::State::GeneratorChanged);
        assert_eq!(
            diagnosis.items,
            ["generated/src/integrations/doordash.rs differs"]
        );
        assert!(diagnosis.to_string().contains("edited by hand"));
    }

    /// Before provenance moved into `src/provenance.rs`, every file's header held the catalog's
    /// SHA-256, so any schema change rewrote all 19 files of the generated crate. Now a change to
    /// a schema one integration publishes rewrites 3 of its 20: the schema's types module, the
    /// integration's file (its registry holds the schema) and the provenance file; and one
    /// snapshot, the operation's.
    #[test]
    fn one_schema_change_rewrites_only_its_module_its_integration_and_the_provenance() {
        let root = up_to_date_workspace();
        let file = root.path().join("providers-new.json");
        std::fs::write(&file, one_schema_changed()).unwrap();
        let counts = written(run(
            root.path(),
            RegenArgs {
                catalog: Some(file),
                ..args()
            },
            None,
        ));
        assert_eq!(
            counts.written,
            [
                "src/integrations/doordash.rs",
                "src/provenance.rs",
                "src/types/doordash_order_history_read_result.rs",
            ],
        );
        assert!(counts.removed.is_empty());
        assert_eq!(counts.pending_snapshots, 1);
        let pending: Vec<String> = std::fs::read_dir(root.path().join(snapshots::SNAPSHOT_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".snap.new"))
            .collect();
        assert_eq!(
            pending,
            ["operation_snapshots__doordash__orderHistory__read.snap.new"]
        );
        // Only the provenance file names the catalog's hash.
        let sha = sha_hex(&one_schema_changed());
        let generated = root.path().join("generated");
        let naming_it: Vec<String> = std::iter::once("Cargo.toml".to_owned())
            .chain(["src/lib.rs".to_owned(), "src/provenance.rs".to_owned()])
            .chain(gate::module_files(&generated).unwrap())
            .filter(|path| {
                std::fs::read_to_string(generated.join(path))
                    .unwrap()
                    .contains(&sha)
            })
            .collect();
        assert_eq!(naming_it, ["src/provenance.rs"]);
    }

    /// The maintainer's `PASSAGE_BASE_URL=... cargo xtask regen --fetch` against the emulator:
    /// the base URL comes from the environment (no `--base-url`), the key goes in the header,
    /// and what the emulator serves is what gets pinned and generated.
    #[test]
    fn fetch_from_passage_base_url_pins_the_catalog_the_emulator_serves() {
        let served = Catalog::from_slice(&one_schema_changed()).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mock = runtime
            .block_on(passage_mock::MockServer::start(
                passage_mock::MockConfig::default().with_catalog(served.clone()),
            ))
            .unwrap();
        let root = up_to_date_workspace();
        let fetch = RegenArgs {
            fetch: true,
            base_url: None,
            ..args()
        };
        let progress = std::sync::Arc::new(progress::Progress::lines("regen"));
        let outcome = regen_in(
            root.path(),
            fetch,
            Some(mock.api_key().to_owned()),
            Some(mock.base_url()),
            &progress,
        )
        .unwrap();
        assert_eq!(written(outcome).pending_snapshots, 1);
        let pinned = std::fs::read(root.path().join("catalog/providers.json")).unwrap();
        assert_eq!(Catalog::from_slice(&pinned).unwrap(), served);

        // A wrong key is refused by the emulator, and nothing is pinned.
        let refused = regen_in(
            root.path(),
            RegenArgs {
                fetch: true,
                base_url: None,
                ..args()
            },
            Some("psg_test_wrong".into()),
            Some(mock.base_url()),
            &progress,
        )
        .unwrap_err();
        assert!(refused.to_string().contains("401"), "{refused:#}");
        assert_eq!(
            std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
            pinned
        );
        runtime.block_on(mock.shutdown());
    }

    /// `regen --catalog FILE --report DIR` on a catalog with a result field made optional and
    /// an argument made required in every carrier: `report.md` ends with the bump, and each
    /// `counterexamples/NN.json` has exactly the contract's fields and really is valid under the
    /// schema it names and refused by the other.
    #[test]
    fn report_dir_holds_the_markdown_and_one_file_per_counterexample() {
        let root = workspace_copy();
        let mut value = pinned_catalog();
        for provider in value["providers"].as_array_mut().unwrap() {
            for resource in provider["resources"].as_array_mut().unwrap() {
                if resource["name"] != "paymentMethod" {
                    continue;
                }
                let read = &mut resource["operations"]["read"]["result"];
                read["properties"]["paymentMethods"]["items"]["required"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|name| name != "order");
                let write = &mut resource["operations"]["write"]["arguments"];
                write["required"]
                    .as_array_mut()
                    .unwrap()
                    .push("billingAddress".into());
            }
        }
        let file = root.path().join("providers-new.json");
        std::fs::write(&file, to_bytes(&value)).unwrap();
        let report_dir = root.path().join("report");
        // A stale file of an earlier run must not survive.
        std::fs::create_dir_all(report_dir.join("counterexamples")).unwrap();
        std::fs::write(report_dir.join("counterexamples/09.json"), "{}").unwrap();
        let experiment = RegenArgs {
            catalog: Some(file),
            out_dir: Some(root.path().join("out")),
            no_gate: true,
            report: Some(report_dir.clone()),
            ..args()
        };
        let progress = std::sync::Arc::new(progress::Progress::lines("regen"));
        let outcome = regen_in(root.path(), experiment, None, None, &progress).unwrap();
        written(outcome);

        let markdown = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
        assert!(
            markdown.starts_with("## Catalog change report"),
            "{markdown}"
        );
        assert!(markdown.ends_with("semver: major\n"), "{markdown}");
        assert!(
            markdown.contains("`types::payment_method_read_result::"),
            "{markdown}"
        );

        let old_catalog = Catalog::from_value(pinned_catalog()).unwrap();
        let new_catalog = Catalog::from_value(value).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(report_dir.join("counterexamples"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["01.json", "02.json"],
            "one per proof, numbered in report order"
        );
        let mut roles = Vec::new();
        for name in names {
            let text =
                std::fs::read_to_string(report_dir.join("counterexamples").join(&name)).unwrap();
            let example: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut keys: Vec<&String> = example.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(
                keys,
                ["operation", "payload", "role", "valid_under"],
                "{name}"
            );
            let operation = example["operation"].as_str().unwrap();
            let (integration, rest) = operation.split_once(' ').unwrap();
            let (resource, action) = rest.split_once('/').unwrap();
            let role = example["role"].as_str().unwrap();
            let schema = |catalog: &Catalog| {
                let op = catalog
                    .operations()
                    .find(|op| {
                        op.integration == integration
                            && op.resource == resource
                            && op.action == action
                    })
                    .unwrap();
                match role {
                    "result" => op.spec.result.clone().unwrap(),
                    _ => op.spec.arguments.clone().unwrap(),
                }
            };
            let (valid, refused) = match example["valid_under"].as_str().unwrap() {
                "old" => (schema(&old_catalog), schema(&new_catalog)),
                "new" => (schema(&new_catalog), schema(&old_catalog)),
                other => panic!("valid_under {other}"),
            };
            assert!(jsonschema::is_valid(&valid, &example["payload"]), "{text}");
            assert!(
                !jsonschema::is_valid(&refused, &example["payload"]),
                "{text}"
            );
            roles.push((
                role.to_owned(),
                example["valid_under"].as_str().unwrap().to_owned(),
            ));
            assert!(
                markdown.contains(&format!("`counterexamples/{name}`")),
                "{markdown}"
            );
        }
        // Results are read by old code (the payload is the new schema's); arguments are
        // written by it (the payload is the old schema's).
        assert_eq!(
            roles,
            [
                ("result".into(), "new".into()),
                ("arguments".into(), "old".into())
            ]
        );
    }
}
