//! `cargo xtask test`: the whole check suite CI runs, in one command (README's test command).
//!
//! Steps: `cargo fmt --check`, `cargo clippy -D warnings` on every target and feature,
//! `cargo doc` with `-D warnings` (broken or private intra-doc links), `cargo package` of the
//! user-facing crates, `regen --check` (generated code and snapshots up to date), the
//! workspace's tests with every feature (the README's Rust blocks as doc tests, its shell
//! quickstart, the CLI's exit-code table), then a short bounded run of the `cargo fuzz` targets (`fuzz/run-ci.sh`). Without
//! cargo-fuzz installed the fuzz step is skipped with a message, except under `CI=true`, where
//! it fails: CI must not silently test less.

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

pub fn run(args: Args) -> Result<bool> {
    if !args.no_lint {
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
    let fresh = crate::regen(crate::RegenArgs {
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
    })?;
    if !fresh {
        bail!("generated/ is stale: run `cargo xtask regen`");
    }
    // The generator on schemas nobody here tuned it for: the repository's adversarial schemas
    // (strict: none may need the compile gate's fallback) and the public corpus beside the
    // repository; every valid instance must decode and re-serialize equal.
    eprintln!("==> cargo xtask corpus --corpus codegen/tests/corpus --strict");
    let adversarial = crate::workspace_root().join("codegen/tests/corpus");
    if !crate::corpus::run(crate::corpus::Args::new(Some(adversarial), true))? {
        bail!("the adversarial schema corpus failed");
    }
    eprintln!("==> cargo xtask corpus (../shared/schema-corpus)");
    if !crate::corpus::run(crate::corpus::Args::new(None, false))? {
        bail!("the public schema corpus failed");
    }
    cargo(&["test", "--workspace", "--all-features"])?;
    if !args.no_fuzz {
        fuzz(args.fuzz_seconds)?;
    }
    Ok(true)
}

fn fuzz(seconds: u64) -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !installed {
        if in_ci {
            bail!("cargo-fuzz is not installed (CI=true): `cargo install cargo-fuzz --locked`");
        }
        eprintln!(
            "==> fuzz: skipped (cargo-fuzz not installed: `cargo install cargo-fuzz --locked`)"
        );
        return Ok(());
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
    Ok(())
}
