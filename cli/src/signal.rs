//! Stopping on request: the long-running commands (`mock`, `webhook receive`, `webhook work`,
//! `webhook reconcile --every`) stop cleanly on Ctrl-C (SIGINT) and on SIGTERM, which systemd,
//! Docker and Kubernetes send before they kill a process.

use std::future::Future;

use anyhow::Context as _;

/// Installs the SIGTERM handler now and returns a future that resolves at the first SIGINT or
/// SIGTERM. Installing eagerly matters: a SIGTERM that arrives after a command said it is ready
/// but before the future is first polled must stop it cleanly, not kill it (the default action).
pub(crate) fn shutdown() -> anyhow::Result<impl Future<Output = ()> + Send> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
