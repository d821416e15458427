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

use clap::{Parser, Subcommand};
use regen::{regen, RegenArgs};

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
mod regen;
mod report;
mod snapshots;
mod staleness;
mod synth;
mod test;
mod tree_memory;
mod typer;

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
