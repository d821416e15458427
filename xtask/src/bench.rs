//! `cargo xtask bench-codegen`: how regen cost grows with catalog size, and how long the
//! generated crate takes to build (all integrations vs one). Prints a markdown table for
//! BENCHMARKS.md. Not a timed test: it reports, it asserts nothing.
//!
//! Regen is timed as a maintainer runs it: the built `xtask regen --catalog FILE --out-dir DIR`
//! process, end to end (parse, normalize, typify, emit, format, compile gate, write), on
//! synthetic catalogs of 200 and 2,000 distinct operations (`xtask synth-catalog`), first run,
//! unchanged and with one schema changed, against typify alone (see `bench_regen`). Build times are `cargo build` of
//! the generated crate alone, dependencies already built, after `cargo clean -p`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Operation counts of the synthetic catalogs.
    #[arg(long, value_delimiter = ',', default_values_t = vec![200, 2000])]
    sizes: Vec<usize>,
    /// Runs per regen measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// Wall time and CPU time (user + system, of the child and its children) of one command. CPU
/// time is the steadier figure on a shared machine; wall time is what a person waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timing {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
}

/// CPU time of waited-for children, from `/proc/self/stat` (`cutime` + `cstime`, in clock
/// ticks of 1/100 s on Linux). Zero where /proc is unavailable.
pub(crate) fn children_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(13) + ticks(14)) * 10)
}

pub(crate) fn timed(mut command: Command) -> Result<Timing> {
    let cpu_before = children_cpu();
    let start = Instant::now();
    let output = command.output().context("spawning")?;
    let elapsed = start.elapsed();
    let cpu = children_cpu().saturating_sub(cpu_before);
    if !output.status.success() {
        bail!(
            "{:?} failed: {}",
            command,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(Timing { wall: elapsed, cpu })
}

pub(crate) fn median(mut values: Vec<Timing>) -> Timing {
    values.sort();
    values[values.len() / 2]
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(crate::workspace_root());
    command
}

pub fn run(args: Args) -> Result<bool> {
    let root = crate::workspace_root();
    let work = root.join("target/bench-codegen");
    std::fs::create_dir_all(&work)?;
    let xtask = std::env::current_exe()?;
    println!("| measurement | value |\n|---|---|");
    for &size in &args.sizes {
        let catalog = work.join(format!("synthetic-{size}.json"));
        let status = Command::new(&xtask)
            .args(["synth-catalog", "--operations", &size.to_string(), "--out"])
            .arg(&catalog)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("synth-catalog failed");
        }
        crate::bench_regen::rows(&xtask, &work, &catalog, size, args.runs.max(1))?;
    }
    for (label, features) in [
        ("all integrations (`full`)", vec![]),
        (
            "one integration (`tmobile`)",
            vec!["--no-default-features", "--features", "tmobile"],
        ),
    ] {
        let status = cargo()
            .args(["clean", "-p", "passage-generated"])
            .status()?;
        if !status.success() {
            bail!("cargo clean failed");
        }
        // Dependencies first, so only the generated crate itself is timed.
        let mut deps = cargo();
        deps.args(["build", "-p", "passage-generated"])
            .args(&features);
        let _ = deps.output();
        let _ = cargo().args(["clean", "-p", "passage-generated"]).status();
        let mut build = cargo();
        build
            .args(["build", "-p", "passage-generated"])
            .args(&features);
        let time = timed(build)?;
        println!(
            "| build of generated crate (pinned catalog), {label} | {:.2} s wall, {:.2} s CPU |",
            time.wall.as_secs_f64(),
            time.cpu.as_secs_f64()
        );
    }
    let lines = count_lines(&root.join("generated/src"))?;
    println!("| generated lines (pinned catalog) | {lines} |");
    Ok(true)
}

fn count_lines(dir: &Path) -> Result<usize> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            total += count_lines(&path)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            total += std::fs::read_to_string(&path)?.lines().count();
        }
    }
    Ok(total)
}
