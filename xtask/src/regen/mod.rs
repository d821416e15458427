//! `cargo xtask regen`: where the catalog comes from, the gated generation, the change report,
//! `--check`'s diagnosis, and writing the crate and snapshots.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use passage_catalog::Catalog;
use passage_codegen::{diff, Settings};

use crate::{cache, gate, progress, report, snapshots, staleness, typer, workspace_root};

pub(crate) mod on_disk;

/// The catalog an `--out-dir` crate was made from, kept beside it (`DIR/catalog.json`): the old
/// side of the next experiment's change report in that folder.
const EXPERIMENT_CATALOG: &str = "catalog.json";

/// Production base URL of the Passage Connect API.
const PRODUCTION_BASE_URL: &str = "https://connect.getpassage.ai";

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
    /// Use no cache (typify output, finished modules, gate verdicts): what a first regen costs
    /// (benchmarks).
    #[arg(long, hide = true)]
    pub(crate) no_cache: bool,
    /// Past this many types modules, write the crate as a facade over shard crates of about this
    /// many modules each (rustc holds a whole crate in memory; the paths stay the same); 0 keeps
    /// one crate whatever the size.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SHARD_MODULES)]
    pub(crate) shard_modules: usize,
    /// Also write the change report into DIR: `report.md` (for a pull-request comment, ending
    /// with `semver: major|minor|patch`) and `counterexamples/NN.json`.
    #[arg(long, value_name = "DIR")]
    pub(crate) report: Option<PathBuf>,
}

/// The default of `--shard-modules`: a shard of 150 modules builds (dev, all features) in about
/// 1.5 GB, so two at once (one per core here) stay well under 4 GB. See BENCHMARKS.md.
pub(crate) const DEFAULT_SHARD_MODULES: usize = 150;

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
pub(crate) enum Outcome {
    /// `--check`: everything up to date.
    UpToDate,
    /// `--check`: stale, and why.
    Stale(staleness::Diagnosis),
    /// Files written.
    Regenerated(WriteCounts),
}

/// `regen` on the workspace at `root` (tests run it on a copy). Prints the change report and
/// the files written on stdout, the stages on stderr; returns the `--check` diagnosis unprinted.
pub(crate) fn regen_in(
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
        .with_shard_modules(args.shard_modules)
        .with_catalog_label(label)
        .with_schema_budget(std::time::Duration::from_secs(args.schema_seconds));
    let modules = (!args.no_cache).then(|| {
        std::sync::Arc::new(cache::ModuleStore::new(
            gate::target_dir().join("regen-cache/modules"),
        ))
    });
    let settings = match &modules {
        None => settings.with_typer(std::sync::Arc::new(typer)),
        Some(modules) => settings
            .with_typer(std::sync::Arc::new(
                cache::CachingTyper::new(typer, gate::target_dir().join("regen-cache"))
                    .with_progress(progress.clone()),
            ))
            .with_module_cache(modules.clone()),
    };
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| root.join("generated"));
    let scratch = scratch_dir(&out_dir);
    let verdicts = if args.no_cache {
        gate::Verdicts::disabled()
    } else {
        let verdicts = gate::Verdicts::open(gate::target_dir().join("regen-gate/verdicts"));
        if !verdicts.has_context() {
            progress.note(
                "compile gate: the toolchain, lockfile or support crate could not be read, so no \
                 verdict is kept: every change is checked as the whole crate",
            );
        }
        verdicts
    };
    let settings_for_old = settings.clone();
    // The crate the output replaces, read once for the gate, the report and the write.
    let on_disk = on_disk::CrateOnDisk::read(&out_dir)?;
    let generated = if args.no_gate {
        passage_codegen::generate(&catalog_bytes, &settings)?
    } else {
        gate::generate_gated(
            &catalog_bytes,
            settings,
            &scratch,
            &verdicts,
            match args.out_dir {
                None => gate::OnDisk::CheckedIn(&on_disk),
                Some(_) => gate::OnDisk::Written(&on_disk),
            },
            progress,
        )?
    };
    if let Some(modules) = &modules {
        let (looked_up, found) = modules.lookups();
        progress.note(format!(
            "module cache: {found} of {looked_up} types module(s) and formatted file(s) found, \
             not made again"
        ));
    }
    for warning in &generated.warnings {
        eprintln!("warning: {warning}");
    }
    // The old side is what the output replaces. For `generated/`: the crate users have, as
    // committed (made from the pinned catalog, ungated, when a workspace lacks it). For an
    // `--out-dir` experiment: the crate an earlier experiment wrote there with its catalog (kept
    // beside it as `EXPERIMENT_CATALOG`), so a benchmark's second run reports, and pays for,
    // what a user's regen of the same change would; a fresh folder compares with `generated/`.
    let stage = progress.waiting("checking the changes (counterexamples, Rust API)".to_string());
    let experiment_before = match &args.out_dir {
        Some(dir) => match std::fs::read(dir.join(EXPERIMENT_CATALOG)) {
            Ok(bytes) if on_disk.exists() => Some(bytes),
            _ => None,
        },
        None => None,
    };
    let (old_catalog, old_files) = match experiment_before {
        Some(bytes) => (
            Catalog::from_slice(&bytes)
                .with_context(|| format!("the catalog kept in {EXPERIMENT_CATALOG}"))?,
            on_disk.report_files(),
        ),
        None => {
            // `generated/` is the output folder itself unless this is an experiment.
            let checked_in = match &args.out_dir {
                None => None,
                Some(_) => Some(on_disk::CrateOnDisk::read(&root.join("generated"))?),
            };
            let checked_in = checked_in.as_ref().unwrap_or(&on_disk);
            if checked_in.exists() {
                (old_catalog, checked_in.report_files())
            } else {
                (
                    old_catalog,
                    passage_codegen::generate(&previous, &settings_for_old)?.written_files(),
                )
            }
        }
    };
    // Both sides as written (the old one is read from disk): in the sharded layout `lib.rs`
    // re-exports the types modules, and the two sides must agree on that.
    let report = diff::report(
        &old_catalog,
        &new_catalog,
        &old_files,
        &generated.written_files(),
    );
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
            stale_files: on_disk.stale(&generated),
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
    let mut counts = on_disk.write(&generated)?;
    if args.out_dir.is_some() {
        let kept = out_dir.join(EXPERIMENT_CATALOG);
        std::fs::write(&kept, &catalog_bytes)
            .with_context(|| format!("writing {}", kept.display()))?;
    }
    let total = counts.total;
    println!(
        "regenerated {total} file(s) for {} operation(s): {} written, {} removed, {} unchanged{}",
        generated.snapshots.len(),
        counts.written.len(),
        counts.removed.len(),
        total.saturating_sub(counts.written.len()),
        if generated.sharded.is_empty() {
            String::new()
        } else {
            format!(
                " (sharded: {} shard crate(s) of at most about {} types modules)",
                generated.shard_count(),
                args.shard_modules
            )
        },
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
/// The compile gate's scratch workspace for a regen into `out_dir`: one per output folder, so
/// concurrent regens of different outputs (tests, benchmarks) do not overwrite each other's
/// crate.
pub(crate) fn scratch_dir(out_dir: &Path) -> PathBuf {
    let digest = sha_hex(out_dir.display().to_string().as_bytes());
    gate::target_dir().join(format!("regen-gate/{}", &digest[..16]))
}

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

/// What [`on_disk::CrateOnDisk::write`] (and the snapshot step after it) did.
#[derive(Debug, Default)]
pub(crate) struct WriteCounts {
    /// Generated files (crate-relative paths) whose contents changed or were new.
    written: Vec<String>,
    /// Files under `src/types/` and `src/integrations/` the generator no longer produces,
    /// deleted.
    removed: Vec<String>,
    /// Operation snapshots left pending review.
    pending_snapshots: usize,
    /// The files of the crate as written.
    total: usize,
}

pub(crate) fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests;
