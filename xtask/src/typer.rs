//! Types schemas in child processes (`xtask __type-schemas`), each under a memory limit
//! (`ulimit -v`) and a time budget, so a schema that exhausts either fails alone: it becomes
//! `serde_json::Value` with a warning, the worker is replaced, and regen goes on. Distinct
//! schemas are spread over a few workers, which also types them in parallel.
//!
//! A worker that dies is reported with its real cause, read from its exit status and the
//! stderr of the request it died on (see [`cause_of_death`]): a stack overflow, memory
//! exhaustion under the limit, a panic (with its message) or another signal.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use passage_codegen::typing::{self, SchemaTyper, TypedSchemaText};
use serde_json::Value;

/// Extra time a worker gets beyond the schema budget (start-up, serialization).
const SLACK: Duration = Duration::from_secs(10);

/// The typer `cargo xtask regen` uses.
#[derive(Debug, Clone)]
pub struct ProcessTyper {
    exe: PathBuf,
    memory_limit_mib: u64,
    workers: usize,
    progress: Option<Arc<crate::progress::Progress>>,
}

impl ProcessTyper {
    /// Workers run this executable (xtask itself) with `__type-schemas`.
    pub fn new(memory_limit_mib: u64) -> std::io::Result<Self> {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4);
        Ok(Self {
            exe: std::env::current_exe()?,
            memory_limit_mib,
            workers,
            progress: None,
        })
    }

    /// Shows a stage counting the schemas typed (typify can take seconds to minutes each).
    pub fn with_progress(mut self, progress: Arc<crate::progress::Progress>) -> Self {
        self.progress = Some(progress);
        self
    }
}

impl SchemaTyper for ProcessTyper {
    fn type_schemas(&self, schemas: &[Value], budget: Duration) -> Vec<TypedSchemaText> {
        let workers = self.workers.clamp(1, schemas.len().max(1));
        let mut results: Vec<Option<TypedSchemaText>> = vec![None; schemas.len()];
        let typing = self.progress.as_ref().map(|progress| {
            progress.counted(
                schemas.len() as u64,
                format!(
                    "typing {} schema(s) with typify in {workers} worker process(es)",
                    schemas.len()
                ),
            )
        });
        let stage = &typing;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    scope.spawn(move || {
                        let mut worker: Option<Worker> = None;
                        let mut out = Vec::new();
                        for i in (w..schemas.len()).step_by(workers) {
                            out.push((i, self.type_in_worker(&mut worker, &schemas[i], budget)));
                            if let Some(stage) = stage {
                                stage.step();
                            }
                        }
                        if let Some(worker) = worker {
                            worker.finish();
                        }
                        out
                    })
                })
                .collect();
            for handle in handles {
                for (i, typed) in handle.join().expect("typer thread panicked") {
                    results[i] = Some(typed);
                }
            }
        });
        if let Some(typing) = typing {
            typing.done(format!("typed {} schema(s)", schemas.len()));
        }
        results
            .into_iter()
            .zip(schemas)
            .map(|(typed, schema)| {
                typed.unwrap_or_else(|| typing::untyped(schema, "no typing result"))
            })
            .collect()
    }
}

impl ProcessTyper {
    fn type_in_worker(
        &self,
        worker: &mut Option<Worker>,
        schema: &Value,
        budget: Duration,
    ) -> TypedSchemaText {
        // A test binary is not xtask and cannot serve `__type-schemas` (it would answer with
        // libtest's output): xtask's own tests type in process.
        if cfg!(test) {
            return typing::type_one(schema, budget);
        }
        if worker.is_none() {
            match Worker::spawn(&self.exe, self.memory_limit_mib) {
                Ok(w) => *worker = Some(w),
                Err(err) => {
                    // Without a worker, type here (unbounded) rather than lose the schema.
                    eprintln!("warning: cannot start a typing worker ({err}); typing in process");
                    return typing::type_one(schema, budget);
                }
            }
        }
        let current = worker.as_mut().expect("worker just started");
        match current.request(schema, budget) {
            Ok(typed) => typed,
            Err(failure) => {
                if let Some(dead) = worker.take() {
                    dead.kill();
                }
                let reason = match failure {
                    WorkerFailure::Timeout => format!(
                        "over the time budget: typify ran longer than {} s",
                        budget.as_secs()
                    ),
                    WorkerFailure::Died { status, stderr } => {
                        cause_of_death(&status, &stderr, self.memory_limit_mib)
                    }
                    WorkerFailure::Protocol(message) => {
                        format!("typing worker failed: {message}")
                    }
                };
                typing::untyped(schema, &reason)
            }
        }
    }
}

enum WorkerFailure {
    Timeout,
    Died {
        status: std::process::ExitStatus,
        /// The worker's stderr since the request it died on was sent.
        stderr: String,
    },
    Protocol(String),
}

/// How much of a dead worker's stderr a warning quotes (its end: where it died).
const STDERR_TAIL: usize = 2048;

/// Why a typing worker died, for the warning of the schema it was typing: from what it wrote
/// last (Rust's own messages for a stack overflow, a failed allocation, a panic), else from
/// how it ended (the signal, or the exit code).
fn cause_of_death(
    status: &std::process::ExitStatus,
    stderr: &str,
    memory_limit_mib: u64,
) -> String {
    use std::os::unix::process::ExitStatusExt;
    let tail = {
        let text = stderr.trim();
        let mut start = text.len().saturating_sub(STDERR_TAIL);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].replace('\n', " | ")
    };
    let said = if tail.is_empty() {
        String::new()
    } else {
        format!("; stderr: {tail}")
    };
    let signal = status.signal();
    if stderr.contains("has overflowed its stack") || signal == Some(11) {
        return format!("typify overflowed its stack (worker ended: {status}){said}");
    }
    if stderr.contains("memory allocation of") {
        return format!(
            "over the memory budget: typify could not allocate under the {memory_limit_mib} MiB \
             limit (worker ended: {status}){said}"
        );
    }
    if signal == Some(9) {
        return format!(
            "typing worker killed (SIGKILL: the system ran out of memory, or someone killed \
             it){said}"
        );
    }
    if let Some(at) = stderr.rfind("panicked at") {
        let message = stderr[at..].lines().take(2).collect::<Vec<_>>().join(" ");
        return format!("typify panicked outside its guard ({message}; worker ended: {status})");
    }
    format!("typing worker died ({status}){said}")
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// What the worker wrote on stderr, cleared at each request.
    stderr: Arc<std::sync::Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn spawn(exe: &std::path::Path, memory_limit_mib: u64) -> std::io::Result<Self> {
        Self::spawn_command(
            Command::new("sh")
                .arg("-c")
                .arg(r#"ulimit -v "$1" && exec "$2" __type-schemas"#)
                .arg("sh")
                .arg((memory_limit_mib * 1024).to_string())
                .arg(exe),
        )
    }

    /// Starts `command` as a worker, its stdin, stdout and stderr piped to this process.
    fn spawn_command(command: &mut Command) -> std::io::Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                let Ok(mut text) = sink.lock() else { break };
                text.push_str(&line);
                text.push('\n');
                // Keep the end: a worker that loops on warnings must not grow this forever.
                if text.len() > 4 * STDERR_TAIL {
                    let mut cut = text.len() - 2 * STDERR_TAIL;
                    while !text.is_char_boundary(cut) {
                        cut += 1;
                    }
                    text.drain(..cut);
                }
            }
        });
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            stdin,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
        })
    }

    fn request(
        &mut self,
        schema: &Value,
        budget: Duration,
    ) -> Result<TypedSchemaText, WorkerFailure> {
        if let Ok(mut text) = self.stderr.lock() {
            text.clear();
        }
        let request = serde_json::json!({"schema": schema, "budgetMs": budget.as_millis() as u64});
        let sent = serde_json::to_writer(&mut self.stdin, &request)
            .map_err(std::io::Error::from)
            .and_then(|()| self.stdin.write_all(b"\n"))
            .and_then(|()| self.stdin.flush());
        if sent.is_err() {
            return Err(self.died());
        }
        match self.lines.recv_timeout(budget + SLACK) {
            Ok(line) => serde_json::from_str(&line)
                .map_err(|err| WorkerFailure::Protocol(format!("unreadable answer: {err}"))),
            Err(RecvTimeoutError::Timeout) => Err(WorkerFailure::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(self.died()),
        }
    }

    fn died(&mut self) -> WorkerFailure {
        let status = match self.child.wait() {
            Ok(status) => status,
            Err(err) => return WorkerFailure::Protocol(format!("worker gone: {err}")),
        };
        // The pipe closes with the process: the reader has the last lines once it ends.
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let stderr = self
            .stderr
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default();
        WorkerFailure::Died { status, stderr }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn finish(self) {
        let Worker {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let _ = child.wait();
    }
}

/// The worker side: one JSON request per line on stdin, one JSON answer per line on stdout.
pub fn serve() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let request: Value = serde_json::from_str(&line?)?;
        let budget = Duration::from_millis(request["budgetMs"].as_u64().unwrap_or(30_000));
        let typed = typing::type_one(&request["schema"], budget);
        serde_json::to_writer(&mut stdout, &typed)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_dead_worker_is_reported_with_its_real_cause() {
        // Raw wait statuses: a signal number alone, or an exit code shifted by 8.
        let signal = |n: i32| std::process::ExitStatus::from_raw(n);
        let code = |n: i32| std::process::ExitStatus::from_raw(n << 8);
        let overflow =
            "\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow\n";
        let text = cause_of_death(&signal(6), overflow, 4096);
        assert!(text.starts_with("typify overflowed its stack"), "{text}");
        assert!(
            text.contains("fatal runtime error: stack overflow"),
            "{text}"
        );
        assert!(cause_of_death(&signal(11), "", 4096).contains("overflowed its stack"));
        let oom = "memory allocation of 8589934592 bytes failed\n";
        let text = cause_of_death(&signal(6), oom, 512);
        assert!(text.starts_with("over the memory budget"), "{text}");
        assert!(text.contains("512 MiB"), "{text}");
        let text = cause_of_death(&signal(9), "", 4096);
        assert!(text.contains("SIGKILL"), "{text}");
        let panic = "thread 'main' panicked at src/x.rs:1:1:\nindex out of bounds\n";
        let text = cause_of_death(&code(101), panic, 4096);
        assert!(
            text.contains("panicked at src/x.rs:1:1: index out of bounds"),
            "{text}"
        );
        let text = cause_of_death(&code(3), "", 4096);
        assert_eq!(text, "typing worker died (exit status: 3)");
    }

    #[test]
    fn a_worker_that_dies_says_why_and_is_replaced() {
        // `sh` stands in for xtask: it writes a panic and exits as a panicking process does.
        let mut worker = Worker::spawn_command(
            Command::new("sh")
                .arg("-c")
                .arg("read line; echo \"thread 'main' panicked at here: boom\" >&2; exit 101"),
        )
        .unwrap();
        let Err(WorkerFailure::Died { status, stderr }) =
            worker.request(&serde_json::json!({}), Duration::from_secs(10))
        else {
            panic!("the worker must be reported dead");
        };
        assert_eq!(status.code(), Some(101));
        assert!(cause_of_death(&status, &stderr, 1).contains("panicked at here: boom"));
    }
}
