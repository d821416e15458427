//! One helper shared by every test that skips for a missing program (included with `#[path]` by
//! `runtime/tests/redis_support`, `cli/tests/readme_quickstart.rs`, `mock/tests/sandbox_page.rs`).
#![allow(dead_code)]

/// Records a skipped test for the summary `cargo xtask test` ends with: appends a line
/// `binary::test: reason` to a file of this process in `$PASSAGE_SKIP_DIR` (which `cargo xtask
/// test` sets to a fresh `target/test-skips/`). Without the variable nothing is written; a write
/// that fails is ignored (the loud notice on stderr still says the test did not run).
pub fn record_skip(reason: &str) {
    use std::io::Write as _;
    let Some(dir) = std::env::var_os("PASSAGE_SKIP_DIR") else {
        return;
    };
    // Test binaries are named `<name>-<hash>`; the test's thread is named after the test.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.file_stem()?.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, _)) => name.to_owned(),
            None => stem,
        })
        .unwrap_or_default();
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned();
    let line = format!("{binary}::{test}: {}\n", reason.replace('\n', " "));
    let dir = std::path::PathBuf::from(dir);
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{}.skips", std::process::id())))
    {
        let _ = file.write_all(line.as_bytes());
    }
}
