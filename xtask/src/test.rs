//! `cargo xtask test`: the whole check suite CI runs, in one command (README's test command).
//!
//! Steps: `cargo fmt --check`, `cargo clippy -D warnings` on every target and feature,
//! `regen --check` (generated code and snapshots up to date), then the workspace's tests.

use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip fmt and clippy (quicker local runs).
    #[arg(long)]
    no_lint: bool,
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("==> cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
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
    }
    eprintln!("==> cargo xtask regen --check");
    let fresh = crate::regen(crate::RegenArgs {
        catalog: None,
        check: true,
        base_url: String::new(),
        offline: true,
        out_dir: None,
    })?;
    if !fresh {
        bail!("generated/ is stale: run `cargo xtask regen`");
    }
    cargo(&["test", "--workspace", "--all-features"])?;
    Ok(true)
}
