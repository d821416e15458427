//! The regen rows of `cargo xtask bench-codegen`: regen as a user runs it (the built `xtask
//! regen --catalog FILE --out-dir DIR` process) against typify alone + prettyplease on the same
//! schemas (`xtask __typify-baseline`), in the same run, in three situations:
//!
//! * **first regen**: `--no-cache`, nothing remembered; the compile gate `cargo check`s the
//!   whole generated crate, split across the cores (its dependencies already built);
//! * **nothing changed**: every schema's typify output and the gate's verdict come from the
//!   caches in `target/`;
//! * **one schema changed**: one operation's result schema gains a property; typify runs for that
//!   schema only, and the gate checks the changed crate.
//!
//! Reports, asserts nothing.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::bench::{check_time, median, timed, timed_with_output, Timing, TYPIFY_OUTPUT};

/// A synthetic catalog to measure regen on.
pub struct Catalog<'a> {
    /// The catalog file.
    pub path: &'a Path,
    /// Its number of operations.
    pub size: usize,
    /// Where regen writes the crate (left there for the build measurements).
    pub out: &'a Path,
    /// Whether regen runs its compile gate (`--no-gate` otherwise: the rows say so).
    pub gate: bool,
}

/// Prints the rows for `catalog`, `runs` runs per median, edited catalogs written in `work`.
pub fn rows(xtask: &Path, catalog: &Catalog<'_>, work: &Path, runs: usize) -> Result<()> {
    let size = catalog.size;
    let out = catalog.out;
    let regen = |file: &Path, no_cache: bool| {
        let mut command = Command::new(xtask);
        command
            .args(["regen", "--catalog"])
            .arg(file)
            .arg("--out-dir")
            .arg(out);
        if no_cache {
            command.arg("--no-cache");
        }
        if !catalog.gate {
            command.arg("--no-gate");
        }
        command
    };
    let gate_note = if catalog.gate {
        ""
    } else {
        " **without the compile gate**"
    };
    let catalog_path = catalog.path;

    let mut baseline_runs = Vec::new();
    let mut baseline_inner = Vec::new();
    for _ in 0..runs {
        let mut command = Command::new(xtask);
        command
            .args(["__typify-baseline", "--catalog"])
            .arg(catalog_path);
        let (timing, stdout) = timed_with_output(command)?;
        let report: Value = serde_json::from_slice(&stdout).context("baseline output")?;
        baseline_inner.push(report["total_seconds"].as_f64().unwrap_or(f64::NAN));
        baseline_runs.push(timing);
    }
    baseline_inner.sort_by(f64::total_cmp);
    let baseline = median(baseline_runs);
    println!(
        "| typify 0.8 alone + prettyplease, {size} operations (one process, one schema after another; median of {runs}) | {:.2} s wall, {:.2} s CPU ({:.2} s inside typify + prettyplease) |",
        baseline.wall.as_secs_f64(),
        baseline.cpu.as_secs_f64(),
        baseline_inner[baseline_inner.len() / 2]
    );
    let ratio = |t: Timing| t.wall.as_secs_f64() / baseline.wall.as_secs_f64();

    // The anchor of a first regen: typify alone, then `cargo check` of typify's output (its
    // dependencies checked before), as a tool that types and then checks everything would.
    let typify_dir = typify_workspace(work, size);
    let mut command = Command::new(xtask);
    command
        .args(["__typify-baseline", "--catalog"])
        .arg(catalog_path)
        .arg("--crate-dir")
        .arg(typify_dir.join(crate::baseline::TYPIFY_CRATE));
    timed(command)?;
    crate::gate::write_workspace_manifest(&typify_dir, &[crate::baseline::TYPIFY_CRATE])?;
    let typify_check = check_time(&typify_dir, &TYPIFY_OUTPUT, &work.join("build"))?;
    let anchor = baseline.wall + typify_check.wall;
    println!(
        "| `cargo check` of typify's output, {size} operations (dependencies checked before) | {:.2} s wall, {:.2} s CPU; with typify alone: **{:.2} s** |",
        typify_check.wall.as_secs_f64(),
        typify_check.cpu.as_secs_f64(),
        anchor.as_secs_f64()
    );

    // Every run reads the same file name, edits included: the generated files' header names the
    // catalog file, and a user's regen always names `catalog/providers.json`. Another name per
    // edit would rewrite every file's header, which no user's one-schema change does.
    let input = work.join(format!("regen-input-{size}.json"));
    std::fs::copy(catalog_path, &input)
        .with_context(|| format!("copying {}", catalog_path.display()))?;
    let catalog_path = input.as_path();

    let _ = std::fs::remove_dir_all(out);
    forget_gate_checks(out)?;
    let first = timed(regen(catalog_path, true))?;
    println!(
        "| regen{gate_note}, {size} operations, first run (no cache) | {:.2} s wall, {:.2} s CPU (**{:.1}×** the baseline; **{:.2}×** typify alone + `cargo check` of its output) |",
        first.wall.as_secs_f64(),
        first.cpu.as_secs_f64(),
        ratio(first),
        first.wall.as_secs_f64() / anchor.as_secs_f64()
    );

    // Fill the caches, then time regens that change nothing. The crate the first run wrote is
    // removed first: an `--out-dir` crate equal to the output is not checked and yields no
    // verdict, and the one-schema-changed runs need the verdicts a user has after a regen.
    let _ = std::fs::remove_dir_all(out);
    timed(regen(catalog_path, false))?;
    let mut warm = Vec::new();
    for _ in 0..runs {
        warm.push(timed(regen(catalog_path, false))?);
    }
    let warm = median(warm);
    println!(
        "| regen{gate_note}, {size} operations, nothing changed (median of {runs}) | {:.2} s wall, {:.2} s CPU (**{:.2}×** the baseline) |",
        warm.wall.as_secs_f64(),
        warm.cpu.as_secs_f64(),
        ratio(warm)
    );

    let mut changed = Vec::new();
    for run in 0..runs {
        edit_one_schema(
            catalog.path,
            catalog_path,
            &format!("benchEdit{}", unique_suffix(run)),
        )?;
        changed.push(timed(regen(catalog_path, false))?);
    }
    let changed = median(changed);
    println!(
        "| regen{gate_note}, {size} operations, one schema changed (median of {runs}) | {:.2} s wall, {:.2} s CPU (**{:.2}×** the baseline) |",
        changed.wall.as_secs_f64(),
        changed.cpu.as_secs_f64(),
        ratio(changed)
    );
    // Leave the crate of the catalog itself for the build measurements.
    std::fs::copy(catalog.path, catalog_path)?;
    timed(regen(catalog_path, false))?;
    Ok(())
}

/// A suffix no earlier run used, so the edited schema is never in the typing cache.
fn unique_suffix(run: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos}x{run}")
}

/// Writes `catalog` to `out` with the first operation's result schema given one more optional
/// property, `property`.
fn edit_one_schema(catalog: &Path, out: &Path, property: &str) -> Result<()> {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(catalog)?)?;
    let Some(properties) = doc
        .pointer_mut("/providers/0/resources/0/operations/read/result/properties")
        .and_then(Value::as_object_mut)
    else {
        bail!("the synthetic catalog has no /providers/0/resources/0/operations/read/result/properties");
    };
    properties.insert(property.to_owned(), serde_json::json!({ "type": "string" }));
    std::fs::write(out, serde_json::to_vec(&doc)?)?;
    Ok(())
}

/// The scratch workspace holding the crate of typify's output for the `size`-operation catalog
/// (`xtask __typify-baseline --crate-dir`), written by [`rows`].
pub fn typify_workspace(work: &Path, size: usize) -> std::path::PathBuf {
    work.join(format!("typify-{size}"))
}

/// Makes the compile gate's next `cargo check` of the crate regen writes into `out` a first one:
/// its scratch workspaces keep cargo's results of an earlier run (another benchmark run, the
/// same crate), with which cargo would find the crate fresh and check nothing. Its dependencies
/// stay built, as the first-regen row says.
fn forget_gate_checks(out: &Path) -> Result<()> {
    crate::gate::forget_checks(&crate::regen::scratch_dir(out))
}
