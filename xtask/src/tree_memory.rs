//! The peak of the summed resident memory of a process and all its descendants, sampled from
//! `/proc`. GNU time's maximum resident set is the largest *single* process it waited for, which
//! undercounts a build whose compilers run at once (the generated crate's shards compile one per
//! core): the benchmark reports both.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Samples the resident memory of the process tree under `root` until [`TreeSampler::finish`].
pub(crate) struct TreeSampler {
    stop: Arc<AtomicBool>,
    /// Samples taken so far: the test waits for samples rather than for time (a loaded machine
    /// delays the sampler); nothing else reads it.
    #[cfg_attr(not(test), allow(dead_code))]
    samples: Arc<AtomicU64>,
    handle: JoinHandle<u64>,
}

impl TreeSampler {
    /// Starts sampling the tree of process `root` every `every`.
    pub(crate) fn start(root: u32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(AtomicU64::new(0));
        let (flag, count) = (stop.clone(), samples.clone());
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            loop {
                peak = peak.max(tree_rss_kib(root));
                count.fetch_add(1, Ordering::Relaxed);
                if flag.load(Ordering::Relaxed) {
                    return peak;
                }
                std::thread::sleep(every);
            }
        });
        TreeSampler {
            stop,
            samples,
            handle,
        }
    }

    /// Samples taken so far.
    #[cfg(test)]
    fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    /// Stops sampling: the largest sum seen, in KiB (0 where `/proc` cannot be read).
    pub(crate) fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

/// The summed `VmRSS` of `root` and its descendants now, in KiB. A process that exits while it
/// is read counts as nothing.
fn tree_rss_kib(root: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(parent) = parent_of(pid) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut total = 0;
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        total += rss_kib(pid);
        if let Some(kids) = children.get(&pid) {
            queue.extend(kids);
        }
    }
    total
}

/// The parent of `pid`: the field after the state in `/proc/{pid}/stat`, after the command name
/// (which may hold spaces and parentheses, so the last `)` ends it).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// `VmRSS` of `pid` in KiB (0 for a process gone or a kernel thread).
fn rss_kib(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "../../tests/skip_record/mod.rs"]
mod skip_record;

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Instant;

    use super::*;

    /// Bytes each holder keeps resident.
    const HELD: usize = 50_000_000;

    /// A Python holder: makes `HELD` bytes resident in one allocation (no transient peak),
    /// writes `DIR/ready/NAME` and holds them until `DIR/release` exists.
    const HOLDER: &str = "import os, sys, time
dir, name = sys.argv[1], sys.argv[2]
held = b'x' * int(sys.argv[3])
open(os.path.join(dir, 'ready', name), 'w').close()
while not os.path.exists(os.path.join(dir, 'release')):
    time.sleep(0.02)
print(len(held))
";

    /// The sampled peak of a shell running `holders` Python holders at once. The holders are
    /// released only once all of them have their memory and the sampler has taken three samples
    /// since: the sum is seen whatever the machine's load (a fixed sleep was not enough under a
    /// loaded CI). Prints the state on a timeout.
    fn peak_of(holders: usize) -> u64 {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("ready")).expect("ready dir");
        std::fs::write(dir.path().join("holder.py"), HOLDER).expect("holder script");
        // `$0` is the temp dir: no quoting of its path inside the script.
        let script: Vec<String> = (0..holders)
            .map(|k| format!("python3 \"$0/holder.py\" \"$0\" h{k} {HELD} & p{k}=$!"))
            .chain([(0..holders)
                .map(|k| format!("wait $p{k}"))
                .collect::<Vec<_>>()
                .join(" && ")])
            .collect();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script.join("\n"))
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("sh runs");
        let sampler = TreeSampler::start(child.id(), Duration::from_millis(20));
        let started = Instant::now();
        let ready = || std::fs::read_dir(dir.path().join("ready")).map_or(0, |d| d.count());
        while ready() < holders {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{} of {holders} holders ready after 120 s; the child: {:?}",
                ready(),
                child.try_wait()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let seen = sampler.samples();
        while sampler.samples() < seen + 3 {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::write(dir.path().join("release"), b"").expect("release");
        assert!(child.wait().expect("wait").success(), "a holder failed");
        let peak = sampler.finish();
        // Nothing is left of the tree once it exited.
        assert_eq!(tree_rss_kib(child.id()), 0);
        peak
    }

    /// Whether python3 runs: under CI its absence fails the test; elsewhere the test says it
    /// did not run.
    fn python_runs() -> bool {
        let found = Command::new("python3").arg("--version").output().is_ok();
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(found || !ci, "python3 is required under CI");
        if !found {
            super::skip_record::record_skip("python3 not found (the memory holders)");
            eprintln!("SKIPPED: python3 not found; the summed-memory test did not run");
        }
        found
    }

    #[test]
    fn the_memory_of_processes_running_at_once_is_summed() {
        if !python_runs() {
            return;
        }
        let held_kib = (HELD / 1024) as u64;
        let one = peak_of(1);
        let two = peak_of(2);
        assert!(one >= held_kib, "one holder: {one} KiB, holding {held_kib}");
        // Two holders at once: at least the second one's bytes more than one (their
        // interpreters add as much again, which is not counted on).
        assert!(
            two >= one + held_kib * 9 / 10,
            "two holders at once: {two} KiB, one: {one} KiB: not summed"
        );
    }

    #[test]
    fn a_process_parent_and_resident_memory_are_read() {
        let me = std::process::id();
        let parent = parent_of(me).expect("this process has a parent");
        assert_ne!(parent, me);
        assert!(rss_kib(me) > 0);
    }
}
