//! Types schemas in child processes (`xtask __type-schemas`), each under a memory limit
//! (`ulimit -v`) and a time budget, so a schema that exhausts either fails alone: it becomes
//! `serde_json::Value` with a warning, the worker is replaced, and regen goes on. Distinct
//! schemas are spread over a few workers, which also types them in parallel.

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
                    WorkerFailure::Died(status) => format!(
                        "over the memory budget: typify's process ended ({status}) under a {} MiB limit",
                        self.memory_limit_mib
                    ),
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
    Died(String),
    Protocol(String),
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Worker {
    fn spawn(exe: &std::path::Path, memory_limit_mib: u64) -> std::io::Result<Self> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -v "$1" && exec "$2" __type-schemas"#)
            .arg("sh")
            .arg((memory_limit_mib * 1024).to_string())
            .arg(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
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
        })
    }

    fn request(
        &mut self,
        schema: &Value,
        budget: Duration,
    ) -> Result<TypedSchemaText, WorkerFailure> {
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
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        WorkerFailure::Died(status)
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
