//! Ties a handler process's life to the worker's: a worker killed with SIGKILL (the OOM killer,
//! `kill -9`, a container runtime's last resort) runs no cleanup, so `kill_on_drop` never fires
//! and its handlers would live on as orphans. An orphan is an event run nobody waits for: it can
//! overlap the next owner's run of the same event, and one whose stdin was still being written
//! reads a cut-off document. On Linux the kernel kills the handler when the worker dies
//! (`PR_SET_PDEATHSIG`); elsewhere `kill_on_drop` is all there is. The signal reaches the
//! handler process itself, not processes it forks: a handler that starts others should `exec`
//! the last one (as `sh -c` does for a single command) or stop them when its parent goes.

/// Makes the process `command` spawns receive SIGKILL when this process dies.
///
/// Linux delivers the signal when the *thread* that spawned the child exits. Handlers are spawned
/// from the runtime's worker threads, which live as long as the runtime (the worker drains its
/// handlers before the runtime stops); were one to exit early, its handler is killed and the
/// attempt fails and is retried, so nothing is lost.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: `prctl` and `getppid` are plain system calls, and nothing here
    // allocates or takes a lock.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then no signal comes.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other(
                    "the worker exited while spawning its handler",
                ));
            }
            Ok(())
        });
    }
}

/// Without `PR_SET_PDEATHSIG`, `kill_on_drop` covers every exit but SIGKILL.
#[cfg(not(target_os = "linux"))]
pub fn die_with_parent(_command: &mut tokio::process::Command) {}
