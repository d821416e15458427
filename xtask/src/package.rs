//! `cargo xtask package` (a step of `cargo xtask test`): `cargo package` for every crate a user
//! installs, in one invocation so cargo packs them in dependency order against each other (a
//! local overlay of the crates just packed stands in for crates.io). Offline and `--no-verify`:
//! nothing is built or published; what it catches is a manifest crates.io would refuse
//! (a path dependency without `version`, a dependency cycle through versioned dev-dependencies,
//! a missing readme or license, a `publish = false` crate that another one needs).

use std::process::Command;

use anyhow::{bail, Context, Result};

/// The crates users depend on or install, in dependency order: the SDK (`passage-connect`) and
/// what it needs, and the `passage` CLI and what it needs.
pub(crate) const CRATES: &[&str] = &[
    "passage-catalog",
    "passage-generated-support",
    "passage-generated",
    "passage-connect",
    "passage-samples",
    "passage-serve",
    "passage-mock",
    "passage-cli",
];

/// The `cargo package` arguments for [`CRATES`].
pub(crate) fn args() -> Vec<String> {
    let mut args: Vec<String> = vec!["package".into()];
    for name in CRATES {
        args.push("-p".into());
        args.push((*name).into());
    }
    // Offline: the registry index cached by the build is enough. Dirty: a maintainer checks
    // before committing.
    args.extend(["--no-verify", "--offline", "--allow-dirty"].map(String::from));
    args
}

/// Runs it; fails with cargo's own message.
pub(crate) fn run() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let args = args();
    eprintln!("==> cargo {}", args.join(" "));
    let output = Command::new(&cargo)
        .args(&args)
        .current_dir(crate::workspace_root())
        .output()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("`cargo {}` failed:\n{stderr}", args.join(" "));
    }
    // Every crate of the list was packed (cargo prints one `Packaging` line per crate).
    for name in CRATES {
        if !stderr.contains(&format!("Packaging {name} v")) {
            bail!("`cargo package` did not pack {name}:\n{stderr}");
        }
    }
    eprintln!(
        "    packed {} crate(s): {}",
        CRATES.len(),
        CRATES.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user-facing crates pack in dependency order, offline (the check `cargo xtask test`
    /// runs). Fails on a manifest crates.io would refuse.
    #[test]
    fn the_user_facing_crates_pack_in_dependency_order() {
        run().unwrap();
    }
}
