//! A real `redis-server` for tests: started on 127.0.0.1 with AOF (`appendfsync always`) in its
//! own temporary directory, killed (SIGKILL), restarted on the same port with its data, paused
//! (SIGSTOP) and resumed (SIGCONT); killed and its directory removed on drop.
//!
//! Redis cannot take a listener from us nor bind port 0, so the port is chosen by binding
//! 127.0.0.1:0 and released for redis-server to bind; if another process takes it in between,
//! redis-server exits and we retry with another port.
//!
//! When `redis-server` is not installed the test fails under `CI` (any value but `false`/`0`),
//! and otherwise is skipped with a loud message (the caller returns early) and recorded for the
//! summary of `cargo xtask test` (`$PASSAGE_SKIP_DIR`).
#![allow(dead_code)]

#[path = "../../../tests/skip_record/mod.rs"]
mod skip_record;
use skip_record::record_skip;

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A `redis-server` child process with its data directory.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether `program` runs; under CI a missing program fails the test, elsewhere it prints a
/// loud skip notice and returns `false`.
pub fn require(program: &str) -> bool {
    match Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => true,
        Err(err) => {
            assert!(
                !under_ci(),
                "{program} is required under CI ({err}): apt-get install -y redis-server redis-tools"
            );
            record_skip(&format!(
                "{program} not found ({err}); install: apt-get install -y redis-server redis-tools"
            ));
            // Written to the stderr handle, not with eprintln!, so libtest's capture of a
            // passing test does not swallow it.
            let _ = writeln!(
                std::io::stderr(),
                "\n=============================================================\n\
                 SKIPPED: {program} not found ({err}); this test did NOT run.\n\
                 Install it: apt-get install -y redis-server redis-tools\n\
                 ============================================================="
            );
            false
        }
    }
}

impl RedisServer {
    /// Starts a server, or `None` when `redis-server` is missing outside CI.
    pub fn start() -> Option<Self> {
        if !require("redis-server") {
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "passage-redis-test-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the redis data directory");
        let mut server = Self {
            child: None,
            port: 0,
            dir,
        };
        for _ in 0..20 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("bind 127.0.0.1:0")
                .port();
            server.port = port;
            if server.spawn_and_wait() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 20 ports");
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data (AOF). Retries while the port
    /// is still in TIME_WAIT or taken (bounded).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.spawn_and_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "redis-server did not restart on port {} within 30 s",
            self.port
        );
    }

    /// SIGSTOP: the server keeps its connections but answers nothing.
    pub fn pause(&self) {
        signal("-STOP", self.pid());
    }

    /// SIGCONT.
    pub fn resume(&self) {
        signal("-CONT", self.pid());
    }

    /// Runs `redis-cli` style commands through a fresh synchronous connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to the test redis")
    }

    /// Spawns redis-server on `self.port`; `true` once it answers PING, `false` if it exited
    /// (port taken). Panics if it neither answers nor exits within 30 s.
    fn spawn_and_wait(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = redis::Client::open(self.url()).expect("url");
        while Instant::now() < deadline {
            if let Ok(Some(_status)) = child.try_wait() {
                return false;
            }
            if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) {
                // Loading the AOF answers LOADING errors until done.
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    self.child = Some(child);
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "redis-server on port {} did not answer within 30 s",
            self.port
        );
    }
}

fn signal(sig: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL also ends a stopped (SIGSTOP) process.
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
