//! The compile gate: regen type-checks the crate it is about to write, before writing it.
//!
//! The generated files go into a scratch workspace under the target directory
//! (`<target>/regen-gate/`, `Cargo.lock` copied from the repository so the check is offline and
//! uses the same dependency versions), and `cargo check --all-features` runs there with
//! `-D warnings`, all distinct schemas in one batch: split across the cores when no verdict
//! covers the crate ([`split`]), only the changed modules when the rest passed before
//! ([`delta`]). Each compiler error is traced to the
//! `src/types/<module>.rs` it points at; regen then types those modules as `serde_json::Value`
//! (with the compiler's first error in the warning) and checks again. An error outside a types
//! module is a generator bug: regen stops and writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use passage_codegen::Generated;

use crate::progress::Progress;

mod delta;
mod split;
mod verdicts;
mod workspace;

use delta::{delta_crate, delta_dir};
pub use verdicts::Verdicts;

use crate::regen::on_disk::CrateOnDisk;
#[cfg(test)]
pub(crate) use workspace::module_files;
use workspace::write_crate;
pub(crate) use workspace::{generator_owned_files, write_if_changed};
pub use workspace::{write_manifest, write_workspace, write_workspace_manifest};

/// What one check found.
#[derive(Debug, Default)]
pub struct GateReport {
    /// Module name (`src/types/{module}.rs`) → the compiler's first error there.
    pub failing_modules: BTreeMap<String, String>,
    /// Errors outside the types modules (generator bugs).
    pub other_errors: Vec<String>,
}

impl GateReport {
    /// Whether the crate compiled.
    pub fn is_clean(&self) -> bool {
        self.failing_modules.is_empty() && self.other_errors.is_empty()
    }
}

/// The target directory cargo uses for this workspace (`CARGO_TARGET_DIR` or `target/`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                crate::workspace_root().join(dir)
            }
        }
        _ => crate::workspace_root().join("target"),
    }
}

/// One build directory for every scratch workspace: the dependencies (serde, serde_json) are
/// built once, each workspace's own crates are told apart by their path.
pub fn shared_build_dir() -> PathBuf {
    target_dir().join("regen-gate/build")
}

/// Type-checks `generated` in the scratch workspace `dir`.
pub fn check(generated: &Generated, dir: &Path) -> Result<GateReport> {
    write_workspace(generated, dir, &[])?;
    let errors = run_cargo_check(dir, &["-p", "passage-generated"])?;
    Ok(report_of(&errors))
}

/// One compiler error: the file of its primary span (relative to the workspace), and a line
/// that says what and where.
#[derive(Debug, Clone)]
pub(super) struct CompilerError {
    pub file: Option<String>,
    pub summary: String,
}

/// `cargo check --all-features -D warnings` of the packages `select` names in the scratch
/// workspace `dir` (offline, the shared build directory): its compiler errors. Fails when cargo
/// fails without one.
pub(super) fn run_cargo_check(dir: &Path, select: &[&str]) -> Result<Vec<CompilerError>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "check",
            "--offline",
            "--quiet",
            "--all-features",
            "--message-format=json",
        ])
        .args(select)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_build_dir())
        .env("RUSTFLAGS", "-D warnings")
        // Incremental state costs time and memory to write (2,000 operations, one copy of a
        // split check: 125 s, 6.4 GB with it; 107 s, 6.1 GB without) and pays off only when
        // the same crate is checked again, which the gate does only after retyping a module.
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .with_context(|| format!("running {cargo} check in {}", dir.display()))?;
    let errors = compiler_errors(&String::from_utf8_lossy(&output.stdout));
    if !output.status.success() && errors.is_empty() {
        bail!(
            "cargo check in {} failed without a compiler error:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(errors)
}

/// The errors of `cargo check --message-format=json` output (not cargo's closing "aborting due
/// to" and "could not compile" lines).
fn compiler_errors(stdout: &str) -> Vec<CompilerError> {
    let mut errors = Vec::new();
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-message" {
            continue;
        }
        let diagnostic = &message["message"];
        if diagnostic["level"] != "error" {
            continue;
        }
        let spans = diagnostic["spans"].as_array().cloned().unwrap_or_default();
        let primary = spans
            .iter()
            .find(|s| s["is_primary"] == true)
            .or_else(|| spans.first());
        let text = diagnostic["message"].as_str().unwrap_or_default();
        let code = diagnostic["code"]["code"].as_str();
        let file = primary.and_then(|span| span["file_name"].as_str());
        if file.is_none()
            && (text.starts_with("aborting due to") || text.starts_with("could not compile"))
        {
            continue;
        }
        let location =
            primary.map(|span| format!("{}:{}", file.unwrap_or_default(), span["line_start"]));
        let summary = match (code, &location) {
            (Some(code), Some(at)) => format!("error[{code}]: {text} (at {at})"),
            (None, Some(at)) => format!("error: {text} (at {at})"),
            (Some(code), None) => format!("error[{code}]: {text}"),
            (None, None) => format!("error: {text}"),
        };
        errors.push(CompilerError {
            file: file.map(str::to_owned),
            summary,
        });
    }
    errors
}

/// Traces the errors of a check of the workspace's `generated` crate to the types module they
/// point at.
fn report_of(errors: &[CompilerError]) -> GateReport {
    let mut report = GateReport::default();
    for error in errors {
        let module = error
            .file
            .as_deref()
            .and_then(|file| file.strip_prefix("generated/"))
            .and_then(types_module);
        match module {
            Some(module) => {
                report
                    .failing_modules
                    .entry(module.to_owned())
                    .or_insert_with(|| error.summary.clone());
            }
            None => report.other_errors.push(error.summary.clone()),
        }
    }
    report
}

/// Forgets cargo's results of the gate's checks in the scratch workspace `scratch` and its split
/// workspace (their generated crates only; dependencies stay built), so the next check is a
/// first one: for benchmarks.
pub fn forget_checks(scratch: &Path) -> Result<()> {
    let split = split::split_dir(scratch);
    for (dir, packages) in [
        (scratch.to_path_buf(), vec!["passage-generated".to_owned()]),
        (split.clone(), split::packages_in(&split)),
    ] {
        if !dir.join("Cargo.toml").is_file() || packages.is_empty() {
            continue;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["clean", "--offline", "--quiet"])
            .args(packages.iter().flat_map(|package| ["-p", package]))
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", shared_build_dir())
            .status()
            .with_context(|| format!("cargo clean in {}", dir.display()))?;
        if !status.success() {
            bail!(
                "cargo clean -p {} in {} failed",
                packages.join(" -p "),
                dir.display()
            );
        }
    }
    Ok(())
}

/// The crate already where regen is about to write, and how far it is trusted.
#[derive(Debug, Clone, Copy)]
pub enum OnDisk<'a> {
    /// Nothing to compare with (the corpus harness judges every crate).
    Ignored,
    /// A folder an earlier regen wrote (`--out-dir`, maybe with `--no-gate`): an output equal to
    /// it is not checked (nothing is written), but it is not known to compile, so no verdict is
    /// derived from it.
    Written(&'a CrateOnDisk),
    /// The repository's `generated/`, which the workspace's own build and clippy compile (CI
    /// refuses a change where it does not): an output equal to it is recorded as passed, crate,
    /// skeleton and modules. These are the verdicts derived from the checked-in crate: on a
    /// fresh clone, `regen --check` checks nothing, and a later change of one schema is checked
    /// as a delta crate of its module, not as the whole crate.
    CheckedIn(&'a CrateOnDisk),
}

impl<'a> OnDisk<'a> {
    fn crate_on_disk(self) -> Option<&'a CrateOnDisk> {
        match self {
            OnDisk::Ignored => None,
            OnDisk::Written(on_disk) | OnDisk::CheckedIn(on_disk) => Some(on_disk),
        }
    }
}

/// Generates from `catalog` and runs the compile gate until the crate compiles: modules that do
/// not compile are typed as `serde_json::Value` (with the compiler's first error as their
/// warning) and the crate is generated and checked again. Fails, writing nothing, when an error
/// lies outside the types modules.
///
/// Verdicts are remembered (see [`Verdicts`]): a crate that passed before is not checked again,
/// and a module that failed before is typed as `Value` at once, with the error it had.
///
/// `on_disk` is the crate where the output is about to be written (see [`OnDisk`]). When the
/// output is exactly that crate, regen writes nothing, so there is nothing to gate: no check
/// runs.
pub fn generate_gated(
    catalog: &[u8],
    settings: passage_codegen::Settings,
    scratch: &Path,
    verdicts: &Verdicts,
    on_disk: OnDisk<'_>,
    progress: &Progress,
) -> Result<Generated> {
    let (generated, on_disk_already) = gate_crate(
        catalog,
        settings.clone(),
        scratch,
        verdicts,
        on_disk,
        progress,
    )?;
    if generated.sharded.is_empty() {
        return Ok(generated);
    }
    // As for the crate: an output equal to what is on disk writes nothing and needs no check,
    // and the checked-in crate, which the workspace builds, is a pass.
    if on_disk_already {
        if let OnDisk::CheckedIn(_) = on_disk {
            verdicts.record_layout_pass(&generated);
        }
        return Ok(generated);
    }
    check_layout(catalog, &settings, &generated, scratch, verdicts, progress)?;
    Ok(generated)
}

/// The sharded layout's glue (the facade's manifest, `lib.rs` and integrations, the shards'
/// manifests and `lib.rs`) checked with every types module as its `serde_json::Value` stand-in:
/// the types modules passed [`gate_crate`] as one crate and name nothing of each other, so they
/// compile the same in any shard; what is left to prove is that the glue names them rightly and
/// forwards the features, which the stand-ins (same modules, same type names) show at a fraction
/// of the cost (16 s at 2,000 operations, against minutes for the real modules). A failure is a
/// generator bug: nothing is written. Remembered by the glue's shape (string literals aside), so
/// a changed schema, which changes no glue, costs no check.
fn check_layout(
    catalog: &[u8],
    settings: &passage_codegen::Settings,
    generated: &Generated,
    scratch: &Path,
    verdicts: &Verdicts,
    progress: &Progress,
) -> Result<()> {
    if verdicts.layout_passed(generated) {
        return Ok(());
    }
    let stand_ins = passage_codegen::generate(catalog, &all_untyped(settings, generated))?;
    // The glue names modules and types only, so it is the same text over the stand-ins; were it
    // not, checking it would prove nothing of the real one.
    if stand_ins.sharded != generated.sharded {
        bail!(
            "the sharded layout's glue differs over stand-in types modules (a generator bug); \
             nothing was written"
        );
    }
    let stage = progress.waiting(format!(
        "compile gate: cargo check of the sharded layout ({} shard crate(s)) with stand-in types \
         modules",
        generated.shard_count()
    ));
    let dir = layout_dir(scratch);
    write_crate(&stand_ins.written_files(), &dir.join("generated"))?;
    workspace::write_manifest(&dir, &[])?;
    let errors = run_cargo_check(&dir, &["--workspace"])?;
    if !errors.is_empty() {
        stage.done("compile gate: the sharded layout does not compile".to_string());
        bail!(
            "the sharded layout of the generated crate does not compile (a generator bug;              nothing was written; `--shard-modules 0` writes one crate):\n  {}",
            errors
                .iter()
                .take(10)
                .map(|error| error.summary.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    verdicts.record_layout_pass(generated);
    stage.done("compile gate: the sharded layout compiles".to_string());
    Ok(())
}

/// The scratch workspace of [`check_layout`] beside `scratch`.
fn layout_dir(scratch: &Path) -> PathBuf {
    let mut name = scratch.as_os_str().to_owned();
    name.push("-layout");
    PathBuf::from(name)
}

/// The gate proper, on the crate as one package ([`generate_gated`]): the output, and whether
/// it is exactly the crate on disk (then nothing was checked).
fn gate_crate(
    catalog: &[u8],
    mut settings: passage_codegen::Settings,
    scratch: &Path,
    verdicts: &Verdicts,
    on_disk: OnDisk<'_>,
    progress: &Progress,
) -> Result<(Generated, bool)> {
    const MAX_ROUNDS: usize = 4;
    let mut checks = 0;
    // Every module retyped so far and why, for the error when the rounds run out (a crate that
    // still fails after retyping is a generator bug: the maintainer needs the module and error).
    let mut retyped: Vec<String> = Vec::new();
    let mut retype = |settings: passage_codegen::Settings,
                      module: String,
                      error: &str|
     -> Result<passage_codegen::Settings> {
        let first_line = error.lines().next().unwrap_or_default();
        // Its `serde_json::Value` form failed too: no later round can fix that (a generator
        // bug), so stop now rather than after more checks of the whole crate.
        if settings.untyped_modules().contains_key(&module) {
            bail!(
                "types module `{module}` does not compile even as serde_json::Value (a generator \
                 bug); nothing was written. The compiler's first error: {first_line}\nModules \
                 retyped before, in order:\n  {}",
                retyped.join("\n  ")
            );
        }
        retyped.push(format!("{module}: {first_line}"));
        Ok(settings.with_untyped_module(
            module,
            format!("its generated code does not compile: {error}"),
        ))
    };
    loop {
        let generated = passage_codegen::generate(catalog, &settings)?;
        if let Some(crate_on_disk) = on_disk.crate_on_disk() {
            if crate_on_disk.is(&generated) {
                if let OnDisk::CheckedIn(_) = on_disk {
                    verdicts.record_crate_pass(&generated);
                }
                progress.note(
                    "compile gate: the crate on disk is exactly this output, nothing to write, \
                     no cargo check needed",
                );
                return Ok((generated, true));
            }
        }
        // Were a module's `Value` form recorded as failing too (a generator bug), `retype`
        // says so at once instead of looping.
        let known_failures = verdicts.known_failures(&generated);
        if !known_failures.is_empty() {
            for (module, error) in known_failures {
                settings = retype(settings, module, &error)?;
            }
            continue;
        }
        if verdicts.passed(&generated) {
            progress.note(if checks == 0 {
                "compile gate: this exact crate compiled before, no cargo check needed"
            } else {
                "compile gate: the retyped crate compiled before, no cargo check needed"
            });
            return Ok((generated, false));
        }
        if checks == MAX_ROUNDS {
            break;
        }
        checks += 1;
        // When the rest of the crate passed before, only the modules that changed are checked,
        // in a small crate of their own (a changed schema costs a check of its module, not of
        // the whole crate); anything that crate cannot settle falls back to the full check.
        if verdicts.skeleton_passed(&generated) {
            let unverified = verdicts.unverified_modules(&generated);
            if let Some(delta) = delta_crate(&generated, &unverified) {
                let stage = progress.waiting(format!(
                    "compile gate: cargo check of {} changed types module(s) of {} (the rest \
                     compiled before)",
                    unverified.len(),
                    types_count(&generated)
                ));
                let report = check(&delta, &delta_dir(scratch))?;
                stage.done(gate_summary(&report, unverified.len()));
                if report.other_errors.is_empty() {
                    for module in &unverified {
                        if !report.failing_modules.contains_key(module) {
                            verdicts.record_module_pass(&generated, module);
                        }
                    }
                    if report.is_clean() {
                        verdicts.record_pass(&generated);
                        return Ok((generated, false));
                    }
                    for (module, error) in report.failing_modules {
                        verdicts.record_failure(&generated, &module, &error);
                        settings = retype(settings, module, &error)?;
                    }
                    continue;
                }
            }
        }
        // No verdict covers the rest of the crate (a first regen): the check is split across
        // the cores; what the split cannot settle falls back to the whole crate.
        let parts = split::parts_for(types_count(&generated));
        if parts > 1 {
            let stubs = passage_codegen::generate(catalog, &all_untyped(&settings, &generated))?;
            if let Some(copies) = split::split_crates(&generated, &stubs, parts) {
                let stage = progress.waiting(format!(
                    "compile gate: cargo check of {} types module(s) in {parts} copies of the crate, \
                     each with its share of the modules, one per core at a time (the first run \
                     also builds serde and serde_json)",
                    types_count(&generated)
                ));
                match split::check(&copies, &split::split_dir(scratch))? {
                    split::SplitOutcome::Clean => {
                        stage.done(gate_summary(
                            &GateReport::default(),
                            types_count(&generated),
                        ));
                        verdicts.record_crate_pass(&generated);
                        return Ok((generated, false));
                    }
                    split::SplitOutcome::Failing(failing_modules) => {
                        let report = GateReport {
                            failing_modules,
                            other_errors: Vec::new(),
                        };
                        stage.done(gate_summary(&report, types_count(&generated)));
                        for (module, error) in report.failing_modules {
                            verdicts.record_failure(&generated, &module, &error);
                            settings = retype(settings, module, &error)?;
                        }
                        continue;
                    }
                    split::SplitOutcome::Unsettled(errors) => stage.done(format!(
                        "compile gate: the split check found {} error(s) outside the modules it \
                         checks (first: {}); checking the whole crate",
                        errors.len(),
                        errors.first().map_or("", String::as_str)
                    )),
                }
            }
        }
        let stage = progress.waiting(format!(
            "compile gate: cargo check of the whole generated crate ({} types module(s); the \
             first run also builds serde and serde_json)",
            types_count(&generated)
        ));
        let report = check(&generated, scratch)?;
        stage.done(gate_summary(&report, types_count(&generated)));
        if report.is_clean() {
            verdicts.record_crate_pass(&generated);
            return Ok((generated, false));
        }
        for (module, error) in &report.failing_modules {
            verdicts.record_failure(&generated, module, error);
        }
        if !report.other_errors.is_empty() {
            bail!(
                "the generated crate does not compile outside its types modules (a generator \
                 bug); nothing was written:\n  {}",
                report.other_errors.join("\n  ")
            );
        }
        for (module, error) in report.failing_modules {
            settings = retype(settings, module, &error)?;
        }
    }
    bail!(
        "the generated crate still does not compile after {MAX_ROUNDS} rounds of the compile \
         gate (a generator bug); nothing was written. Modules retyped as serde_json::Value, in \
         order, with the compiler's first error:\n  {}",
        retyped.join("\n  ")
    )
}

/// `settings` with every types module of `generated` typed as `serde_json::Value`: the stubs
/// of a split check.
fn all_untyped(
    settings: &passage_codegen::Settings,
    generated: &Generated,
) -> passage_codegen::Settings {
    generated
        .files
        .keys()
        .filter_map(|path| types_module(path))
        .fold(settings.clone(), |settings, module| {
            if settings.untyped_modules().contains_key(module) {
                settings
            } else {
                settings.with_untyped_module(
                    module.to_owned(),
                    "a stand-in while another copy of the split compile gate checks this module",
                )
            }
        })
}

/// The number of `src/types/` modules of `generated`.
fn types_count(generated: &Generated) -> usize {
    generated
        .files
        .keys()
        .filter(|path| types_module(path).is_some())
        .count()
}

/// `compile gate: 11 module(s) compiled`, or what failed.
fn gate_summary(report: &GateReport, checked: usize) -> String {
    if report.is_clean() {
        format!("compile gate: {checked} types module(s) compiled")
    } else if report.other_errors.is_empty() {
        format!(
            "compile gate: {} of {checked} types module(s) do not compile; retyping them as \
             serde_json::Value",
            report.failing_modules.len()
        )
    } else {
        format!(
            "compile gate: {} error(s) outside the types modules",
            report.other_errors.len()
        )
    }
}

/// `src/types/{module}.rs` → `module`.
fn types_module(path: &str) -> Option<&str> {
    path.strip_prefix("src/types/")?.strip_suffix(".rs")
}

#[cfg(test)]
mod tests {
    use super::verdicts::{code_shape, without_header};
    use super::*;

    /// The pinned catalog, and settings that type it in this process.
    pub(super) fn pinned() -> (Vec<u8>, passage_codegen::Settings) {
        let catalog = std::fs::read(crate::workspace_root().join("catalog/providers.json"))
            .expect("the pinned catalog");
        let settings = passage_codegen::Settings::default()
            .with_typer(std::sync::Arc::new(passage_codegen::typing::InProcessTyper));
        (catalog, settings)
    }

    /// A crate of `files` (path, text), for tests.
    pub(super) fn crate_of(files: &[(&str, &str)]) -> Generated {
        Generated {
            sharded: Default::default(),
            files: files
                .iter()
                .map(|(path, text)| (path.to_string(), text.to_string()))
                .collect(),
            snapshots: Vec::new(),
            warnings: Vec::new(),
            provenance: passage_codegen::Provenance {
                catalog_sha256: String::new(),
                codegen_version: String::new(),
                typify_version: String::new(),
            },
        }
    }

    #[test]
    fn an_output_equal_to_the_crate_on_disk_is_not_checked_and_any_difference_is() {
        let (catalog, settings) = pinned();
        let generated = passage_codegen::generate(&catalog, &settings).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        CrateOnDisk::read(&out).unwrap().write(&generated).unwrap();
        let on_disk = CrateOnDisk::read(&out).unwrap();
        // A scratch folder under a plain file: any attempt to check the crate fails loudly.
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, "").unwrap();
        let scratch = blocker.join("scratch");
        let progress = Progress::lines("test");
        let verdicts = Verdicts::with_context(dir.path().join("verdicts"), "test context");
        let gated = generate_gated(
            &catalog,
            settings.clone(),
            &scratch,
            &verdicts,
            OnDisk::Written(&on_disk),
            &progress,
        )
        .expect("the crate on disk is the output: no check");
        assert_eq!(gated.files, generated.files);
        assert!(
            !verdicts.passed(&generated) && !verdicts.skeleton_passed(&generated),
            "a folder regen wrote is not known to compile: no verdict from it"
        );
        generate_gated(
            &catalog,
            settings.clone(),
            &scratch,
            &verdicts,
            OnDisk::CheckedIn(&on_disk),
            &progress,
        )
        .expect("the checked-in crate is the output: no check");
        assert!(
            verdicts.passed(&generated)
                && verdicts.skeleton_passed(&generated)
                && verdicts.unverified_modules(&generated).is_empty(),
            "the checked-in crate's verdicts are recorded"
        );

        let lib = out.join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap();
        std::fs::write(&lib, format!("{text}\n// edited\n")).unwrap();
        let err = generate_gated(
            &catalog,
            settings,
            &scratch,
            &Verdicts::disabled(),
            OnDisk::CheckedIn(&CrateOnDisk::read(&out).unwrap()),
            &progress,
        )
        .expect_err("a crate on disk that differs is checked (here: the check cannot start)");
        assert!(
            err.chain()
                .any(|cause| cause.downcast_ref::<std::io::Error>().is_some()),
            "the check was attempted and failed on the scratch folder: {err:#}"
        );
    }

    #[test]
    fn scratch_workspaces_sharing_the_build_directory_do_not_share_a_crate() {
        let manifest = "[package]\nname = \"passage-generated\"\nversion.workspace = true\n";
        let good = crate_of(&[
            ("Cargo.toml", manifest),
            ("src/lib.rs", "pub fn f() -> u8 { 1 }\n"),
        ]);
        let broken = crate_of(&[
            ("Cargo.toml", manifest),
            ("src/lib.rs", "pub fn f() -> u8 { \"x\" }\n"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        // The broken crate is written first, and its file made older than any build to come:
        // the order in which a workspace checked earlier meets one checked later.
        write_workspace(&broken, &b, &[]).unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for file in ["generated/src/lib.rs", "generated/Cargo.toml", "Cargo.toml"] {
            std::fs::File::options()
                .write(true)
                .open(b.join(file))
                .and_then(|f| f.set_modified(hour_ago))
                .unwrap();
        }
        assert!(check(&good, &a).unwrap().is_clean());
        let report = check(&broken, &b).unwrap();
        assert!(
            !report.is_clean(),
            "the broken crate in another workspace was taken for the one built: {report:?}"
        );
    }

    #[test]
    fn a_module_whose_value_form_fails_too_stops_the_gate_at_once() {
        let (catalog, settings) = pinned();
        let typed = passage_codegen::generate(&catalog, &settings).unwrap();
        let module = typed
            .files
            .keys()
            .find_map(|path| types_module(path))
            .expect("a types module")
            .to_owned();
        let as_value = passage_codegen::generate(
            &catalog,
            &settings
                .clone()
                .with_untyped_module(module.clone(), "recorded by the test"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let verdicts = Verdicts::with_context(dir.path().join("verdicts"), "test context");
        verdicts.record_failure(&typed, &module, "error[E0308]: the typed form");
        verdicts.record_failure(&as_value, &module, "error[E0277]: the Value form");
        // Any attempt to check the crate fails on the scratch folder instead.
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, "").unwrap();
        let err = generate_gated(
            &catalog,
            settings,
            &blocker.join("scratch"),
            &verdicts,
            OnDisk::Ignored,
            &Progress::lines("test"),
        )
        .expect_err("a module that fails in both forms is a generator bug");
        let message = format!("{err:#}");
        assert!(
            message.contains(&format!(
                "`{module}` does not compile even as serde_json::Value"
            )) && message.contains("error[E0277]: the Value form")
                && message.contains("error[E0308]: the typed form"),
            "{message}"
        );
    }

    #[test]
    fn the_delta_crate_holds_the_changed_modules_their_support_and_the_names_used_elsewhere() {
        let generated = crate_of(&[
            ("Cargo.toml", "[package]\nname = \"passage-generated\"\n"),
            (
                "src/lib.rs",
                "pub mod types { pub mod a; pub mod b; pub mod c; }\n\
                 pub type X = crate::types::a::Alpha;\n\
                 #[doc(hidden)] pub mod __private { pub fn helper() {} }\n",
            ),
            (
                "src/integrations/one.rs",
                "pub type Y = crate::types::a::AlphaItem;",
            ),
            ("src/types/a.rs", "pub struct Alpha; pub struct AlphaItem;"),
            ("src/types/b.rs", "pub struct Beta;"),
            ("src/types/c.rs", "pub struct Gamma;"),
        ]);
        let delta = delta_crate(&generated, &["a".to_string()]).expect("a delta crate");
        assert_eq!(
            delta.files.keys().collect::<Vec<_>>(),
            ["Cargo.toml", "src/lib.rs", "src/types/a.rs"]
        );
        let lib = &delta.files["src/lib.rs"];
        assert!(lib.contains("pub mod types {\n    pub mod a;\n}"), "{lib}");
        assert!(
            lib.contains("pub use crate::types::a::Alpha as _;"),
            "{lib}"
        );
        assert!(
            lib.contains("pub use crate::types::a::AlphaItem as _;"),
            "{lib}"
        );
        assert!(lib.contains("pub mod __private"), "{lib}");
        assert!(!lib.contains("Beta") && !lib.contains("pub mod b"), "{lib}");

        assert!(
            delta_crate(&generated, &["a".into(), "b".into()]).is_none(),
            "past half the modules the whole crate is checked"
        );
        assert!(delta_crate(&generated, &[]).is_none());
        let without_support = crate_of(&[
            ("Cargo.toml", ""),
            (
                "src/lib.rs",
                "pub mod types { pub mod a; pub mod b; pub mod c; }",
            ),
            ("src/types/a.rs", ""),
            ("src/types/b.rs", ""),
            ("src/types/c.rs", ""),
        ]);
        assert!(delta_crate(&without_support, &["a".into()]).is_none());
    }

    #[test]
    fn the_skeleton_ignores_string_contents_but_not_code_attributes_or_macro_input() {
        let shape = |text: &str| code_shape("src/integrations/x.rs", text);
        let base = r#"#[path = "a.rs"] mod a; const S: Option<&str> = Some("{\"type\":\"object\"}");
            fn f(r: &str) -> u8 { match r { "read" => 1, _ => 0 } }"#;
        let other_strings = r#"#[path = "a.rs"] mod a; const S: Option<&str> = Some("{\"type\":\"array\"}");
            fn f(r: &str) -> u8 { match r { "write" => 1, _ => 0 } }"#;
        assert_eq!(shape(base), shape(other_strings));
        let other_path = base.replace("a.rs", "b.rs");
        assert_ne!(
            shape(base),
            shape(&other_path),
            "#[path] decides what compiles"
        );
        let other_type = base.replace("Option<&str>", "Option<String>");
        assert_ne!(shape(base), shape(&other_type));
        let with_macro = |file: &str| format!("const T: &str = include_str!(\"{file}\");");
        assert_ne!(shape(&with_macro("x.json")), shape(&with_macro("y.json")));
        assert_ne!(
            code_shape("Cargo.toml", "a = \"1\""),
            code_shape("Cargo.toml", "a = \"2\"")
        );
    }

    #[test]
    fn the_verdict_context_is_established_in_this_workspace() {
        // Without a context nothing is remembered and every regen checks the whole crate (as
        // when the support crate's sources gained a subfolder the context did not read).
        let verdicts = Verdicts::open(tempfile::tempdir().unwrap().path().to_path_buf());
        assert!(
            verdicts.has_context(),
            "no verdict context: nothing would be remembered"
        );
    }

    #[test]
    fn verdicts_hold_for_the_exact_crate_and_context_only() {
        let dir = tempfile::tempdir().unwrap();
        let verdicts = Verdicts::with_context(dir.path().to_path_buf(), "toolchain A");
        let one = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/a.rs", "pub struct A;"),
        ]);
        assert!(!verdicts.passed(&one), "nothing recorded yet");
        verdicts.record_pass(&one);
        assert!(verdicts.passed(&one));

        let edited = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/a.rs", "pub struct B;"),
        ]);
        assert!(
            !verdicts.passed(&edited),
            "a changed module is checked again"
        );
        let moved = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/b.rs", "pub struct A;"),
        ]);
        assert!(!verdicts.passed(&moved), "a renamed file is checked again");
        let other_toolchain = Verdicts::with_context(dir.path().to_path_buf(), "toolchain B");
        assert!(
            !other_toolchain.passed(&one),
            "another context trusts nothing"
        );
    }

    #[test]
    fn failures_are_remembered_per_module_text_and_corrupt_verdicts_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let verdicts = Verdicts::with_context(dir.path().to_path_buf(), "ctx");
        assert_eq!(
            without_header("// @generated\n// catalog sha256: 00\n//! Types.\npub struct A;\n"),
            "//! Types.\npub struct A;\n"
        );
        assert_eq!(
            without_header("# @generated\n# sha: 1\n[package]\n"),
            "[package]\n"
        );
        let generated = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/bad.rs", "pub struct X { a: u8, a: u8 }"),
            ("src/types/good.rs", "pub struct Y;"),
        ]);
        verdicts.record_failure(
            &generated,
            "bad",
            "error[E0124]: field `a` is already declared",
        );
        assert_eq!(
            verdicts.known_failures(&generated),
            vec![(
                "bad".to_string(),
                "error[E0124]: field `a` is already declared".to_string()
            )]
        );
        // Another provenance header (another catalog) is the same module.
        let other_header = crate_of(&[(
            "src/types/bad.rs",
            "// catalog sha256: ff\npub struct X { a: u8, a: u8 }",
        )]);
        assert_eq!(verdicts.known_failures(&other_header).len(), 1);
        // The same module name with other text is not the module that failed.
        let fixed = crate_of(&[("src/types/bad.rs", "pub struct X { a: u8 }")]);
        assert!(verdicts.known_failures(&fixed).is_empty());

        // Every verdict file overwritten with garbage: none is trusted, pass or failure.
        verdicts.record_pass(&generated);
        assert!(verdicts.passed(&generated));
        let mut files = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"\xff\x00garbage").unwrap();
            files += 1;
        }
        assert_eq!(files, 2, "one pass and one failure verdict");
        assert!(!verdicts.passed(&generated));
        assert!(verdicts.known_failures(&generated).is_empty());
    }

    #[test]
    fn stale_integration_files_are_removed_like_stale_types_modules() {
        let dir = tempfile::tempdir().unwrap();
        let crate_dir = dir.path().join("generated");
        for file in [
            "src/types/kept.rs",
            "src/types/gone.rs",
            "src/integrations/kept.rs",
            "src/integrations/gone.rs",
            "src/integrations/notes.txt",
        ] {
            write_if_changed(&crate_dir.join(file), "// old\n").unwrap();
        }
        assert_eq!(
            module_files(&crate_dir).unwrap(),
            [
                "src/integrations/gone.rs",
                "src/integrations/kept.rs",
                "src/types/gone.rs",
                "src/types/kept.rs"
            ]
        );
        let generated = Generated {
            sharded: Default::default(),
            files: [
                ("src/types/kept.rs".to_string(), "// new\n".to_string()),
                (
                    "src/integrations/kept.rs".to_string(),
                    "// new\n".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
            snapshots: Vec::new(),
            warnings: Vec::new(),
            provenance: passage_codegen::Provenance {
                catalog_sha256: String::new(),
                codegen_version: String::new(),
                typify_version: String::new(),
            },
        };
        write_workspace(&generated, dir.path(), &[]).unwrap();
        assert_eq!(
            module_files(&crate_dir).unwrap(),
            ["src/integrations/kept.rs", "src/types/kept.rs"]
        );
        assert_eq!(
            std::fs::read_to_string(crate_dir.join("src/integrations/kept.rs")).unwrap(),
            "// new\n"
        );
    }

    #[test]
    fn errors_are_traced_to_their_types_module() {
        let lines = [
            r#"{"reason":"compiler-message","message":{"level":"error","message":"field `any` is already declared","code":{"code":"E0124"},"spans":[{"is_primary":true,"file_name":"generated/src/types/x_read_result.rs","line_start":12}]}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"second error","code":null,"spans":[{"is_primary":true,"file_name":"generated/src/types/x_read_result.rs","line_start":30}]}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"mismatched types","code":{"code":"E0308"},"spans":[{"is_primary":true,"file_name":"generated/src/lib.rs","line_start":5}]}}"#,
            r#"{"reason":"compiler-message","message":{"level":"warning","message":"unused","spans":[]}}"#,
            r#"{"reason":"build-finished","success":false}"#,
        ]
        .join("\n");
        let report = report_of(&compiler_errors(&lines));
        assert_eq!(report.failing_modules.len(), 1);
        assert_eq!(
            report.failing_modules["x_read_result"],
            "error[E0124]: field `any` is already declared (at generated/src/types/x_read_result.rs:12)"
        );
        assert_eq!(
            report.other_errors,
            vec!["error[E0308]: mismatched types (at generated/src/lib.rs:5)".to_string()]
        );
        assert!(!report.is_clean());
    }
}
