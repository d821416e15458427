//! Runs the shell quickstart of the repository's README.md as pasted, with the built `passage`
//! binary on `PATH`: the block marked `<!-- quickstart-test: server -->` (the emulator) in the
//! background, then, once the emulator says it listens, the block marked
//! `<!-- quickstart-test: client -->`. Both run in a private network namespace (`unshare -n`), so
//! the README's fixed addresses (127.0.0.1:4010, :9000) cannot collide with anything else on the
//! machine. Bounded: the whole run is killed after [`DEADLINE`].

#[path = "../../tests/skip_record/mod.rs"]
mod skip_record;
use skip_record::record_skip;

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(120);

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body of the first fenced block after the marker comment `<!-- quickstart-test: NAME -->`.
fn marked_block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- quickstart-test: {name} -->");
    let after = &readme[readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README.md has no `{marker}`"))
        + marker.len()..];
    let fence = after.trim_start();
    assert!(
        fence.starts_with("```sh\n"),
        "`{marker}` must be followed by a ```sh block"
    );
    let body = &fence["```sh\n".len()..];
    body[..body.find("\n```").expect("an unclosed block")].to_string() + "\n"
}

/// Whether `program args` runs and exits 0.
fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn readme_shell_quickstart_runs_against_the_emulator() {
    let readme = readme();
    let server = marked_block(&readme, "server");
    let client = marked_block(&readme, "client");

    let tools_ok =
        works("unshare", &["-n", "true"]) && works("curl", &["--version"]) && works("ip", &["-V"]);
    if !tools_ok {
        let why = "needs `unshare -n` (root or user namespaces), `ip` and `curl`";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and the README quickstart test cannot run: {why}");
        }
        eprintln!("\n!!! SKIPPED readme_shell_quickstart_runs_against_the_emulator: {why}\n");
        record_skip(why);
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let bin_dir: PathBuf = Path::new(env!("CARGO_BIN_EXE_passage"))
        .parent()
        .unwrap()
        .to_path_buf();
    // The server block runs as its own background shell, its output to server.log; the client
    // block starts when the emulator has printed that it listens (polled, with a deadline).
    let script = format!(
        r#"set -euo pipefail
cd "{dir}"
ip link set lo up
cat > server.sh <<'PASSAGE_SERVER_BLOCK'
{server}PASSAGE_SERVER_BLOCK
bash server.sh > server.log 2>&1 &
for _ in $(seq 1 600); do
  grep -q 'listening on' server.log && break
  sleep 0.05
done
grep -q 'listening on' server.log || {{ echo 'the emulator did not start:'; cat server.log; exit 90; }}
echo '--- client block ---'
{client}
echo '--- end of client block ---'
# The link named a webhook URL nobody listens on here: the emulator logs the failed attempt.
for _ in $(seq 1 200); do
  grep -q 'webhook delivery failed' server.log && break
  sleep 0.05
done
"#,
        dir = dir.path().display(),
    );
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("unshare")
        .args(["-n", "bash", "-c", &script])
        .env("PATH", path)
        .env_remove("PASSAGE_API_KEY")
        .env_remove("PASSAGE_BASE_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so the emulator left in the background is killed with it.
        .process_group(0)
        .spawn()
        .expect("unshare runs");
    let pgid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The script is done (or out of time): end everything it started, the emulator included.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    let _ = child.wait();
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let server_log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    let report = format!(
        "--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- server.log ---\n{server_log}"
    );
    let status = status.unwrap_or_else(|| panic!("the quickstart ran past {DEADLINE:?}\n{report}"));
    assert!(
        status.success(),
        "the quickstart failed ({status})\n{report}"
    );

    let client_out = stdout
        .split("--- client block ---")
        .nth(1)
        .unwrap_or_default();
    // `links wait --pretty`: the link completed and its result printed per operation.
    assert!(
        client_out.contains("status") && client_out.contains("complete"),
        "{report}"
    );
    assert!(
        client_out.contains("result 0 (mobileBillingStatement/read)")
            && client_out.contains("\"billing\""),
        "{report}"
    );
    // Each delivery attempt is logged at info: link, event, URL, status, attempt, next retry.
    let delivery = server_log
        .lines()
        .find(|l| l.contains("webhook delivery failed"))
        .unwrap_or_else(|| panic!("no delivery logged\n{report}"));
    for field in [
        " INFO ",
        "event=link.complete",
        "url=http://127.0.0.1:9000/webhook",
        "status=error",
        "attempt=1/3",
        "next_retry=in 1 s",
    ] {
        assert!(delivery.contains(field), "{field} missing: {delivery}");
    }
    // The emulator's banner names what a user needs next.
    assert!(
        server_log.contains("listening on http://127.0.0.1:4010")
            && server_log.contains("export PASSAGE_API_KEY=psg_test_mock")
            && server_log.contains("POST http://127.0.0.1:4010/sandbox/links/{id}/complete"),
        "{report}"
    );
}
