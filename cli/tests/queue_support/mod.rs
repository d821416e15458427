//! What the queue tests share: `passage webhook receive|work|reconcile` as child processes, the
//! queue's state in Redis for failure messages, and deadlines that follow the machine's load.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::redis_support::RedisServer;

pub const BIN: &str = env!("CARGO_BIN_EXE_passage");

/// Child processes killed (SIGKILL) on drop.
#[derive(Default)]
pub struct Children(pub Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port free right now on 127.0.0.1 (for a process that must be restarted on the same port).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `passage webhook receive --addr ADDR` (port 0: any) and returns its webhook URL (the
/// bound address is the first line it prints).
pub fn start_receiver(
    children: &mut Children,
    addr: &str,
    redis: &str,
    stream: &str,
    partitions: &str,
    base_url: &str,
) -> String {
    let mut child = Command::new(BIN)
        .args(["webhook", "receive", "--addr", addr, "--redis", redis])
        .args(["--stream", stream, "--partitions", partitions])
        .args(["--redis-timeout-ms", "500", "--base-url", base_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn passage webhook receive");
    let stdout = child.stdout.take().expect("stdout");
    children.0.push(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the receiver's address");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    format!("{url}/webhooks/passage")
}

/// Which queue a process works on: the Redis URL, the stream name, the partition count.
#[derive(Debug, Clone, Copy)]
pub struct Queue<'a> {
    pub redis: &'a str,
    pub stream: &'a str,
    pub partitions: &'a str,
}

/// Starts `passage webhook work` with `extra` flags; its log (queue events at info) goes to
/// `<logs>/<consumer>.log`, and the handler sees `PASSAGE_TEST_WORKER=<consumer>`.
pub fn start_worker(
    queue: Queue<'_>,
    consumer: &str,
    base_url: &str,
    extra: &[&str],
    handler: &[String],
    logs: &Path,
) -> Child {
    let log = std::fs::File::create(logs.join(format!("{consumer}.log"))).expect("worker log");
    Command::new(BIN)
        .args(["webhook", "work", "--redis", queue.redis])
        .args(["--stream", queue.stream, "--partitions", queue.partitions])
        .args(["--redis-timeout-ms", "500"])
        .args(["--group", "workers", "--consumer", consumer])
        .args(extra)
        .args(["--base-url", base_url])
        .env("PASSAGE_API_KEY", "psg_test_mock")
        .env("PASSAGE_TEST_WORKER", consumer)
        .env("RUST_LOG", "passage_connect::queue=info,passage=info")
        .arg("--")
        .args(handler)
        .stdout(Stdio::inherit())
        .stderr(log)
        .spawn()
        .expect("spawn passage webhook work")
}

/// What the queue holds, for a failure message: per partition the stream length, the pending
/// entries by consumer, the lease owner; the dead-letter stream's length; the live workers.
pub fn queue_state(server: &RedisServer, stream: &str, partitions: u16) -> String {
    let mut conn = server.client();
    let mut out = String::new();
    for p in 0..partitions {
        let key = format!("{stream}:{p}");
        let len: i64 = redis::cmd("XLEN").arg(&key).query(&mut conn).unwrap_or(-1);
        let pending: redis::Value = redis::cmd("XPENDING")
            .arg(&key)
            .arg("workers")
            .query(&mut conn)
            .unwrap_or(redis::Value::Nil);
        let groups: redis::Value = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&key)
            .query(&mut conn)
            .unwrap_or(redis::Value::Nil);
        let owner: Option<String> = redis::cmd("GET")
            .arg(format!("{stream}:owner:{p}"))
            .query(&mut conn)
            .unwrap_or(None);
        out.push_str(&format!(
            "\n  {key}: XLEN {len}, owner {owner:?}, XPENDING {pending:?}, XINFO GROUPS {groups:?}"
        ));
    }
    let dead: i64 = redis::cmd("XLEN")
        .arg(format!("{stream}:dead"))
        .query(&mut conn)
        .unwrap_or(-1);
    let workers: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{stream}:workers"))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut conn)
        .unwrap_or_default();
    out.push_str(&format!("\n  dead letters: {dead}; workers: {workers:?}"));
    out
}

/// The total length of the partition streams.
pub fn stream_length(server: &RedisServer, stream: &str, partitions: u16) -> i64 {
    let mut conn = server.client();
    (0..partitions)
        .map(|p| {
            redis::cmd("XLEN")
                .arg(format!("{stream}:{p}"))
                .query::<i64>(&mut conn)
                .unwrap_or(-1)
        })
        .sum()
}

/// The last `n` lines of a log file.
/// The last `n` lines of each named process's log (`dir/<name>.log`), each under a `--- name:`
/// header, for a failure message.
pub fn log_tails(dir: &Path, names: &[&str], n: usize) -> String {
    names
        .iter()
        .map(|name| format!("--- {name}:\n{}", tail(&dir.join(format!("{name}.log")), n)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A temporary directory, removed on drop (also when the test fails).
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("passage-queue-{name}-"))
        .tempdir()
        .expect("temporary directory")
}

/// How much slower than an idle machine this one runs now (1 to 8): the 1-minute load average
/// per core, rounded up. Deadlines are multiplied by it, so a loaded CI runner is not a failure.
pub fn load_factor() -> u32 {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(1.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (load / cores).ceil().clamp(1.0, 8.0) as u32
}
