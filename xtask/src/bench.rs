//! `cargo xtask bench-codegen`: how regen cost grows with catalog size, and how long the
//! generated crate takes to build (all integrations vs one). Prints a markdown table for
//! BENCHMARKS.md. Not a timed test: it reports, it asserts nothing.
//!
//! Regen is timed as a maintainer runs it: the built `xtask regen --catalog FILE --out-dir DIR`
//! process, end to end (parse, normalize, typify, emit, format, compile gate, write), on
//! synthetic catalogs of 200 and 2,000 distinct operations (`xtask synth-catalog`): a first run,
//! an unchanged one and one with one schema changed, against typify alone + prettyplease on the
//! same schemas in the same run (see `bench_regen`). Build times are `cargo build` of
//! the generated crate alone, dependencies already built, after `cargo clean -p`: the pinned
//! catalog's crate in this workspace, and the synthetic crates (`--build-sizes`) in scratch
//! workspaces, each with all features, with one integration's feature, and as a crate generated
//! from that integration alone. Synthetic builds report wall time and peak RSS (GNU time's
//! maximum resident set: the largest of cargo and the rustc processes it waited for; and the
//! peak of their sum, sampled, since a sharded crate's compilers run at once) and run
//! under `ulimit -v` (`--memory-limit-mib`) so a runaway build fails instead of exhausting the
//! machine. Where both all-features builds fit, it also counts each crate's monomorphized items
//! (`-Zprint-mono-items`) and gives lines, items and build seconds per operation.

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
    /// Operation counts of the synthetic catalogs whose generated crate is built (each must be
    /// one of `--sizes`).
    #[arg(long, value_delimiter = ',', default_values_t = vec![2000])]
    build_sizes: Vec<usize>,
    /// Regenerate the synthetic catalogs without the compile gate (its `cargo check` of a
    /// 2,000-operation crate needs more memory than a shared machine may have); the regen rows
    /// then say so.
    #[arg(long)]
    regen_without_gate: bool,
    /// Virtual memory limit (`ulimit -v`) of each process of a synthetic crate's build.
    #[arg(long, value_name = "MIB", default_value_t = 10_000)]
    memory_limit_mib: u64,
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

pub(crate) fn timed(command: Command) -> Result<Timing> {
    timed_with_output(command).map(|(timing, _)| timing)
}

/// [`timed`], keeping what the command printed on stdout.
pub(crate) fn timed_with_output(mut command: Command) -> Result<(Timing, Vec<u8>)> {
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
    Ok((Timing { wall: elapsed, cpu }, output.stdout))
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
        let out = work.join(format!("crate-{size}/generated"));
        let status = Command::new(&xtask)
            .args(["synth-catalog", "--operations", &size.to_string(), "--out"])
            .arg(&catalog)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("synth-catalog failed");
        }
        crate::bench_regen::rows(
            &xtask,
            &crate::bench_regen::Catalog {
                path: &catalog,
                size,
                out: &out,
                gate: !args.regen_without_gate,
            },
            &work,
            args.runs.max(1),
        )?;
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
    for &size in &args.build_sizes {
        if !args.sizes.contains(&size) {
            bail!("--build-sizes {size} is not one of --sizes");
        }
        synthetic_builds(&xtask, &work, size, args.memory_limit_mib, args.runs.max(1))?;
    }
    Ok(true)
}

/// Wall time and peak resident set of one build.
#[derive(Debug, Clone, Copy)]
struct BuildCost {
    wall_secs: f64,
    /// GNU time's: the largest single process.
    peak_rss_kib: u64,
    /// The peak of the summed resident memory of every process of the build at once, sampled
    /// every 200 ms ([`crate::tree_memory`]).
    tree_peak_kib: u64,
}

impl std::fmt::Display for BuildCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let gb = |kib: u64| kib as f64 * 1024.0 / 1e9;
        write!(
            f,
            "{:.1} s wall, {:.2} GB peak RSS (largest process), {:.2} GB all processes at once",
            self.wall_secs,
            gb(self.peak_rss_kib),
            gb(self.tree_peak_kib)
        )
    }
}

/// Builds the crate generated from the `size`-operation synthetic catalog (regenerated by the
/// regen measurement into `crate-{size}/generated`) with all features and with its first
/// integration's feature, and a crate generated from that integration alone (those two
/// alternated `runs` times, the median of each and of the per-pair ratios reported: the machine
/// is shared, and alternating spreads its load over both).
fn synthetic_builds(
    xtask: &Path,
    work: &Path,
    size: usize,
    limit_mib: u64,
    runs: usize,
) -> Result<()> {
    let full = work.join(format!("crate-{size}"));
    crate::gate::write_manifest(&full, &[])?;
    let catalog: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join(format!("synthetic-{size}.json")))?)?;
    let first = catalog["providers"]
        .as_array()
        .and_then(|providers| providers.first())
        .context("the synthetic catalog has no integration")?;
    let integration = first["id"]
        .as_str()
        .context("an integration without an id")?
        .to_string();
    let alone_catalog = work.join(format!("synthetic-{size}-{integration}.json"));
    std::fs::write(
        &alone_catalog,
        serde_json::to_vec_pretty(&serde_json::json!({ "providers": [first] }))?,
    )?;
    let alone = work.join(format!("crate-{size}-{integration}"));
    let status = Command::new(xtask)
        .args(["regen", "--catalog"])
        .arg(&alone_catalog)
        .arg("--out-dir")
        .arg(alone.join("generated"))
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("regen of {} failed", alone_catalog.display());
    }
    crate::gate::write_manifest(&alone, &[])?;
    let target = work.join("build");
    let one = ["--no-default-features", "--features", integration.as_str()];
    // A build over the memory limit is a result, not the end of the benchmark.
    let row = |label: String, cost: &Result<BuildCost>| match cost {
        Ok(cost) => println!("| {label} | {cost} |"),
        Err(err) => println!(
            "| {label} | failed: {} |",
            err.to_string().replace('\n', " ")
        ),
    };
    let all = build_cost(&full, &[], &target, limit_mib);
    row(
        format!("build of generated crate, {size} operations, all integrations (`full`)"),
        &all,
    );
    // typify's own output for the same schemas, built the same way: the anchor of the build goal.
    let typify_dir = crate::bench_regen::typify_workspace(work, size);
    let typify = build_cost_of(&typify_dir, TYPIFY_OUTPUT, &[], &target, limit_mib);
    row(
        format!(
            "build of a crate of typify 0.8's own output for the same {size} operations' schemas"
        ),
        &typify,
    );
    if let (Ok(all), Ok(typify)) = (&all, &typify) {
        // With the shards' `lib.rs` (their modules are the files under `src/`).
        let lines = count_lines(&full.join("generated/src"))?
            + match std::fs::exists(full.join("generated/shards")) {
                Ok(true) => count_lines(&full.join("generated/shards"))?,
                _ => 0,
            };
        let typify_lines =
            count_lines(&typify_dir.join(crate::baseline::TYPIFY_CRATE).join("src"))?;
        println!(
            "| generated crate (all integrations) / typify's output, {size} operations | {:.2}x wall, {:.2}x peak RSS (largest process), {:.2}x all processes at once; {lines} / {typify_lines} lines |",
            all.wall_secs / typify.wall_secs.max(0.001),
            all.peak_rss_kib as f64 / typify.peak_rss_kib.max(1) as f64,
            all.tree_peak_kib as f64 / typify.tree_peak_kib.max(1) as f64,
        );
        // Only where both builds fit the limit: the counting build costs as much again.
        let mono = work.join("build-mono-items");
        let items = mono_items(&full, &GENERATED, &mono)?;
        let typify_items = mono_items(&typify_dir, &TYPIFY_OUTPUT, &mono)?;
        let per_op = |n: f64| n / size as f64;
        println!(
            "| per operation, {size} operations: generated crate / typify's output | {:.1} / {:.1} lines; {:.0} / {:.0} monomorphized items ({} / {} in all, **{:.2}x**; {} of ours name `serde_path_to_error`; typify's crate has no function that decodes, so its derives are never instantiated, while `decode_result` instantiates every type's); {:.3} / {:.3} s of dev build |",
            per_op(lines as f64),
            per_op(typify_lines as f64),
            per_op(items.total as f64),
            per_op(typify_items.total as f64),
            items.total,
            typify_items.total,
            items.total as f64 / typify_items.total.max(1) as f64,
            items.path_tracking,
            per_op(all.wall_secs),
            per_op(typify.wall_secs),
        );
    }
    let mut pairs = Vec::new();
    for _ in 0..runs {
        let with_one = build_cost(&full, &one, &target, limit_mib)?;
        let by_itself = build_cost(&alone, &[], &target, limit_mib)?;
        pairs.push((with_one, by_itself));
    }
    let median_of = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let median_cost = |pick: fn(&(BuildCost, BuildCost)) -> BuildCost| BuildCost {
        wall_secs: median_of(pairs.iter().map(|p| pick(p).wall_secs).collect()),
        peak_rss_kib: median_of(pairs.iter().map(|p| pick(p).peak_rss_kib as f64).collect()) as u64,
        tree_peak_kib: median_of(pairs.iter().map(|p| pick(p).tree_peak_kib as f64).collect())
            as u64,
    };
    println!(
        "| build of generated crate, {size} operations, one integration (`--features {integration}`), median of {runs} | {} |",
        median_cost(|p| p.0)
    );
    println!(
        "| build of a crate generated from `{integration}` alone, median of {runs} | {} |",
        median_cost(|p| p.1)
    );
    println!(
        "| one feature of the {size}-operation crate / that integration alone (median of per-pair ratios) | {:.2}x wall, {:.2}x peak RSS |",
        median_of(pairs.iter().map(|(a, b)| a.wall_secs / b.wall_secs.max(0.001)).collect()),
        median_of(
            pairs
                .iter()
                .map(|(a, b)| a.peak_rss_kib as f64 / b.peak_rss_kib.max(1) as f64)
                .collect()
        )
    );
    Ok(())
}

/// `cargo build -p passage-generated FEATURES` in the scratch workspace `dir`, dependencies
/// built first, the crate itself cleaned: its wall time and peak RSS, by GNU time under
/// `ulimit -v`.
fn build_cost(dir: &Path, features: &[&str], target: &Path, limit_mib: u64) -> Result<BuildCost> {
    build_cost_of(dir, GENERATED, features, target, limit_mib)
}

/// A crate of a scratch workspace whose build the benchmark times: its package name and the
/// dependencies built before the timed build.
pub(crate) struct Package {
    pub(crate) name: &'static str,
    pub(crate) dependencies: &'static [&'static str],
}

/// The generated crate.
const GENERATED: Package = Package {
    name: "passage-generated",
    dependencies: &["serde", "serde_json", "passage-generated-support"],
};

/// The crate of typify's own output (`xtask __typify-baseline --crate-dir`).
pub(crate) const TYPIFY_OUTPUT: Package = Package {
    name: crate::baseline::TYPIFY_CRATE,
    dependencies: &["serde", "serde_json", "chrono", "uuid", "regress"],
};

/// Runs `cargo ARGS` in the scratch workspace `dir` with `target` as its target directory and
/// the extra environment variables `env`; returns cargo's standard output.
fn cargo_in_env(dir: &Path, target: &Path, env: &[(&str, &str)], args: &[&str]) -> Result<Vec<u8>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .envs(env.iter().copied())
        .output()?;
    if !output.status.success() {
        bail!(
            "cargo {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output.stdout)
}

/// `subcommand` (`build`, `check`) of `package`'s dependencies, then `cargo clean -p` of the
/// package itself: what is timed next is the package alone.
fn prepare(dir: &Path, target: &Path, subcommand: &str, package: &Package) -> Result<()> {
    prepare_env(dir, target, &[], subcommand, package)
}

/// [`prepare`] with extra environment variables `env` (which a later build with the same
/// variables then reuses).
fn prepare_env(
    dir: &Path,
    target: &Path,
    env: &[(&str, &str)],
    subcommand: &str,
    package: &Package,
) -> Result<()> {
    let mut args = vec![subcommand, "--offline"];
    for dependency in package.dependencies {
        args.extend(["-p", dependency]);
    }
    cargo_in_env(dir, target, env, &args)?;
    // The generated crate's shards (a large catalog) are part of what is timed: cleaned too.
    let mut clean = vec!["clean", "--offline", "-p", package.name];
    let shards = shard_packages(dir, package);
    for shard in &shards {
        clean.extend(["-p", shard.as_str()]);
    }
    cargo_in_env(dir, target, env, &clean).map(drop)
}

/// The shard packages of the generated crate in the scratch workspace `dir` (none for another
/// package, or a crate written as one package).
fn shard_packages(dir: &Path, package: &Package) -> Vec<String> {
    if package.name != GENERATED.name {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(dir.join("generated/shards")) else {
        return Vec::new();
    };
    let mut shards: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.parse::<usize>().is_ok())
        .map(|k| format!("passage-generated-shard-{k}"))
        .collect();
    shards.sort();
    shards
}

/// `cargo check` of `package` alone in the scratch workspace `dir`, its dependencies checked
/// first: wall and CPU time.
pub(crate) fn check_time(dir: &Path, package: &Package, target: &Path) -> Result<Timing> {
    prepare(dir, target, "check", package)?;
    let mut check = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    check
        .args(["check", "--offline", "-p", package.name])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target);
    timed(check)
}

/// [`build_cost`] of any [`Package`].
fn build_cost_of(
    dir: &Path,
    package: Package,
    features: &[&str],
    target: &Path,
    limit_mib: u64,
) -> Result<BuildCost> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    prepare(dir, target, "build", &package)?;
    let report = target.join("build-cost.txt");
    let child = Command::new("sh")
        .arg("-c")
        // Lowers the limit only: an outer `ulimit -v` below it (set by whoever runs the
        // benchmark) stays in force.
        .arg(
            r#"limit=$(ulimit -v) && { [ "$limit" != unlimited ] && [ "$limit" -le "$1" ] || ulimit -v "$1"; } && report="$2" && shift 2 && exec /usr/bin/time -f "%e %M" -o "$report" "$@""#,
        )
        .arg("sh")
        .arg((limit_mib * 1024).to_string())
        .arg(&report)
        .arg(&cargo)
        .args(["build", "--offline", "-p", package.name])
        .args(features)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running the build under /usr/bin/time (GNU time: apt-get install time)")?;
    // GNU time gives the largest single process; the tree's sum is what the machine needs when
    // compilers run at once (the shards of a large catalog's crate).
    let sampler = crate::tree_memory::TreeSampler::start(child.id(), Duration::from_millis(200));
    let output = child.wait_with_output();
    let tree_peak_kib = sampler.finish();
    let output = output.context("waiting for the build")?;
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    if !output.status.success() {
        // GNU time's report (exit status, then wall time and peak RSS) and cargo's first error.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_error = stderr
            .lines()
            .find(|line| line.starts_with("error"))
            .unwrap_or_default();
        bail!(
            "under a {limit_mib} MiB memory limit; GNU time: `{}` (wall s, peak KiB); {first_error}",
            text.trim().replace('\n', "; "),
        );
    }
    let last = text.lines().last().unwrap_or_default();
    let (wall, rss) = last
        .split_once(' ')
        .with_context(|| format!("unexpected GNU time output {text:?}"))?;
    Ok(BuildCost {
        wall_secs: wall
            .parse()
            .with_context(|| format!("wall time in {text:?}"))?,
        peak_rss_kib: rss
            .parse()
            .with_context(|| format!("peak RSS in {text:?}"))?,
        tree_peak_kib,
    })
}

/// Monomorphized items of one crate's library.
struct MonoItems {
    total: usize,
    /// Those naming `serde_path_to_error` (path tracking instantiated per type).
    path_tracking: usize,
}

/// The monomorphized items of `package`'s library in the scratch workspace `dir`: a build with
/// `-Zprint-mono-items=yes` (an unstable flag: `RUSTC_BOOTSTRAP=1` on this stable toolchain),
/// in its own target directory `target` since its flags differ from the timed builds', counting
/// the `MONO_ITEM` lines rustc prints.
fn mono_items(dir: &Path, package: &Package, target: &Path) -> Result<MonoItems> {
    let bootstrap = [("RUSTC_BOOTSTRAP", "1")];
    prepare_env(dir, target, &bootstrap, "build", package)?;
    // `cargo rustc` passes the flag to one package: each shard (all its features, which are the
    // integrations' that `full` turns on) and then the facade.
    let mut stdout = Vec::new();
    for name in shard_packages(dir, package)
        .iter()
        .map(String::as_str)
        .chain([package.name])
    {
        let mut args = vec!["rustc", "--offline", "-p", name, "--lib"];
        if name != package.name {
            args.push("--all-features");
        }
        args.extend(["--", "-Zprint-mono-items=yes"]);
        stdout.extend(cargo_in_env(dir, target, &bootstrap, &args)?);
        stdout.push(b'\n');
    }
    let items: Vec<&[u8]> = stdout
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"MONO_ITEM"))
        .collect();
    if items.is_empty() {
        bail!("rustc printed no MONO_ITEM line for {}", package.name);
    }
    let needle = b"serde_path_to_error";
    Ok(MonoItems {
        total: items.len(),
        path_tracking: items
            .iter()
            .filter(|line| line.windows(needle.len()).any(|w| w == needle))
            .count(),
    })
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
