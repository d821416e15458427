//! `cargo xtask test`: the whole check suite CI runs, in one command (README's test command).
//!
//! Steps: `cargo fmt --check`, `cargo clippy -D warnings` on every target and feature,
//! `cargo doc` with `-D warnings` (broken or private intra-doc links), `cargo package` of the
//! user-facing crates, `regen --check` (generated code and snapshots up to date), the
//! workspace's tests with every feature (the README's Rust blocks as doc tests, its shell
//! quickstart, the CLI's exit-code table), then a short bounded run of the `cargo fuzz` targets (`fuzz/run-ci.sh`). Without
//! cargo-fuzz installed the fuzz step is skipped with a message, except under `CI=true`, where
//! it fails: CI must not silently test less.
//!
//! Tests that need a program this machine may lack (redis-server, Chromium, `unshare`) skip
//! themselves outside CI, and libtest hides their notice when they pass; so each also appends
//! `binary::test: reason` to a file in `$PASSAGE_SKIP_DIR`, which this task sets to a fresh
//! `target/test-skips/`. The run ends with a summary of everything skipped and why (steps of
//! its own included), and fails under `CI` when anything was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip fmt and clippy (quicker local runs).
    #[arg(long)]
    no_lint: bool,
    /// Skip the fuzz step.
    #[arg(long)]
    no_fuzz: bool,
    /// Seconds each fuzz target runs.
    #[arg(long, default_value_t = 30)]
    fuzz_seconds: u64,
}

fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("==> cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(crate::workspace_root())
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Whether this runs under CI: `CI` set to anything but empty, `false` or `0` (the rule the
/// tests' own skip helpers use).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

pub fn run(args: Args) -> Result<bool> {
    let skip_dir = crate::gate::target_dir().join("test-skips");
    // Fresh, so the summary holds this run's skips only.
    match std::fs::remove_dir_all(&skip_dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(err).with_context(|| format!("clearing {}", skip_dir.display()));
        }
        _ => {}
    }
    std::fs::create_dir_all(&skip_dir)
        .with_context(|| format!("creating {}", skip_dir.display()))?;
    let mut own_skips = OwnSkips::default();
    let outcome = steps(&args, &skip_dir, &mut own_skips);
    let skipped = summarize_skips(&read_skips(&skip_dir), &own_skips);
    outcome?;
    if skipped > 0 && in_ci() {
        bail!("{skipped} test(s) or step(s) skipped under CI: CI must not silently test less");
    }
    Ok(true)
}

/// Steps this task itself skipped.
#[derive(Debug, Default)]
struct OwnSkips {
    /// For want of something (a program, the corpus): what CI must not do.
    missing: Vec<String>,
    /// Asked for by a flag (`--no-lint`, `--no-fuzz`): listed, never silent, never a failure.
    chosen: Vec<String>,
}

/// The checks, in order; `own_skips` collects the steps this task itself skipped.
fn steps(args: &Args, skip_dir: &Path, own_skips: &mut OwnSkips) -> Result<()> {
    if args.no_lint {
        own_skips.chosen.push("fmt, clippy: --no-lint".to_owned());
    } else {
        cargo(&["fmt", "--all", "--", "--check"])?;
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ])?;
        // The generated crate's feature gates: no integration, and one, must build warning-free.
        for features in [&[][..], &["--features", "tmobile"][..]] {
            let mut args = vec!["clippy", "-p", "passage-generated", "--no-default-features"];
            args.extend_from_slice(features);
            args.extend_from_slice(&["--", "-D", "warnings"]);
            cargo(&args)?;
        }
    }
    // Docs without warnings, every feature on (as docs.rs builds them).
    cargo_with_env(
        &["doc", "--workspace", "--all-features", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    crate::package::run()?;
    eprintln!("==> cargo xtask regen --check");
    let fresh = crate::regen::regen(crate::regen::RegenArgs {
        catalog: None,
        fetch: false,
        check: true,
        base_url: None,
        offline: true,
        out_dir: None,
        no_gate: false,
        schema_memory_mib: 4096,
        schema_seconds: 60,
        no_cache: false,
        shard_modules: crate::regen::DEFAULT_SHARD_MODULES,
        report: None,
    })?;
    if !fresh {
        bail!("regen --check failed: generated/ or the snapshots are stale (why and fix above)");
    }
    // The generator on schemas nobody here tuned it for: the repository's adversarial schemas
    // (strict: none may need the compile gate's fallback) and the public corpus beside the
    // repository; every valid instance must decode and re-serialize equal.
    eprintln!("==> cargo xtask corpus --corpus codegen/tests/corpus --strict");
    let adversarial = crate::workspace_root().join("codegen/tests/corpus");
    if !crate::corpus::run(crate::corpus::Args::new(Some(adversarial), true))? {
        bail!("the adversarial schema corpus failed");
    }
    eprintln!("==> cargo xtask corpus --strict (../shared/schema-corpus)");
    if !crate::corpus::default_corpus_dir().is_dir() {
        own_skips.missing.push(format!(
            "corpus: no public schema corpus at {}",
            crate::corpus::default_corpus_dir().display()
        ));
    }
    // Strict too: every public schema's module compiles today, so one that needs the compile
    // gate's fallback is a generator regression (an unused variable in emitted code once made
    // three of them `Value` without failing anything).
    if !crate::corpus::run(crate::corpus::Args::new(None, true))? {
        bail!("the public schema corpus failed");
    }
    let skip_dir = skip_dir.display().to_string();
    cargo_with_env(
        &["test", "--workspace", "--all-features"],
        &[("PASSAGE_SKIP_DIR", skip_dir.as_str())],
    )?;
    if args.no_fuzz {
        own_skips.chosen.push("fuzz: --no-fuzz".to_owned());
    } else if !fuzz(args.fuzz_seconds)? {
        own_skips
            .missing
            .push("fuzz: cargo-fuzz not installed (`cargo install cargo-fuzz --locked`)".into());
    }
    Ok(())
}

/// The `binary::test: reason` lines the tests recorded in `dir`, sorted.
fn read_skips(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut lines: Vec<String> = files
        .iter()
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .flat_map(|text| {
            text.lines()
                .filter(|line| !line.trim().is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// Prints what was skipped, grouped by reason; returns how many tests and steps were skipped
/// for want of something (not by a flag).
fn summarize_skips(tests: &[String], own: &OwnSkips) -> usize {
    for step in &own.chosen {
        eprintln!("==> skipped by request: {step}");
    }
    let missing = tests.len() + own.missing.len();
    if missing == 0 {
        eprintln!("==> skipped for want of a program or file: nothing");
        return 0;
    }
    // Reason → tests skipped for it.
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in tests {
        let (test, reason) = line
            .split_once(": ")
            .unwrap_or((line.as_str(), "no reason given"));
        by_reason.entry(reason).or_default().push(test);
    }
    eprintln!(
        "==> SKIPPED, did NOT run: {} test(s), {} step(s){}",
        tests.len(),
        own.missing.len(),
        if in_ci() {
            ""
        } else {
            " (under CI this fails the run)"
        }
    );
    for (reason, names) in &by_reason {
        eprintln!("  {} test(s): {reason}", names.len());
        for name in names {
            eprintln!("    {name}");
        }
    }
    for step in &own.missing {
        eprintln!("  step {step}");
    }
    missing
}

/// Runs the fuzz targets; `false` when cargo-fuzz is missing (outside CI).
fn fuzz(seconds: u64) -> Result<bool> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !installed {
        if in_ci() {
            bail!("cargo-fuzz is not installed (CI=true): `cargo install cargo-fuzz --locked`");
        }
        eprintln!(
            "==> fuzz: skipped (cargo-fuzz not installed: `cargo install cargo-fuzz --locked`)"
        );
        return Ok(false);
    }
    eprintln!("==> fuzz/run-ci.sh ({seconds} s per target)");
    let status = Command::new("bash")
        .arg(crate::workspace_root().join("fuzz/run-ci.sh"))
        .env("FUZZ_SECONDS", seconds.to_string())
        .status()
        .context("running fuzz/run-ci.sh")?;
    if !status.success() {
        bail!("fuzzing failed ({status}): see fuzz/artifacts/");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_skips_are_read_from_every_file_once_each() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("10.skips"),
            "queue_redis::a: redis-server not found\nqueue_redis::b: redis-server not found\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("11.skips"),
            "sandbox_page::browser: no Chromium found\n\nqueue_redis::a: redis-server not found\n",
        )
        .unwrap();
        let lines = read_skips(dir.path());
        assert_eq!(
            lines,
            [
                "queue_redis::a: redis-server not found",
                "queue_redis::b: redis-server not found",
                "sandbox_page::browser: no Chromium found",
            ]
        );
        let own = OwnSkips {
            missing: vec!["fuzz: cargo-fuzz not installed".into()],
            chosen: vec!["fuzz: --no-fuzz".into()],
        };
        assert_eq!(
            summarize_skips(&lines, &own),
            4,
            "flag-chosen steps do not count"
        );
        assert_eq!(summarize_skips(&[], &OwnSkips::default()), 0);
    }
}
