//! `passage mock`: runs the local Passage Connect emulator (`passage-mock`) until Ctrl-C.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::exit::{Code, OrExit as _};
use passage_mock::{MockConfig, MockServer, WebhookSigningKey};

/// Options of `passage mock`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Catalog to serve and validate links against (a `GET /v1/providers` JSON file); default: the pinned one.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4010", value_name = "IP:PORT")]
    addr: SocketAddr,
    /// Accepted API key (repeat for several); default `psg_test_mock`.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// Webhook signing key: a PEM file (PKCS#8 or SEC1 P-256 private key) or the PEM text itself;
    /// default: a fresh key.
    #[arg(long, value_name = "PEM", allow_hyphen_values = true)]
    signing_key: Option<String>,
    /// Seed of the generated sample results.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Base URL to put in `appClipUrl` when the emulator is reached through another address.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

fn config_from(args: Args) -> anyhow::Result<MockConfig> {
    let mut config = MockConfig::default()
        .with_addr(args.addr)
        .with_seed(args.seed);
    if let Some(path) = &args.catalog {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the catalog {}", path.display()))
            .or_exit(Code::BadInput)?;
        let catalog = passage_catalog::Catalog::from_slice(&bytes)
            .with_context(|| format!("invalid catalog {}", path.display()))
            .or_exit(Code::BadInput)?;
        config = config.with_catalog(catalog);
    }
    if !args.api_keys.is_empty() {
        config = config.with_api_keys(args.api_keys);
    }
    if let Some(value) = &args.signing_key {
        let pem = if value.trim_start().starts_with("-----BEGIN") {
            value.clone()
        } else {
            std::fs::read_to_string(value)
                .with_context(|| format!("cannot read the signing key file {value}"))
                .or_exit(Code::BadInput)?
        };
        let key = WebhookSigningKey::from_pem(&pem)
            .context("invalid --signing-key")
            .or_exit(Code::BadInput)?;
        config = config.with_signing_key(key);
    }
    if let Some(url) = args.public_url {
        config = config.with_public_url(url);
    }
    Ok(config)
}

/// Runs the subcommand.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The delivery log (one info line per webhook attempt) is how the emulator talks: give it a
    // subscriber on stderr, `info` unless RUST_LOG says otherwise. `try_init` leaves a subscriber
    // that `main` already installed in place.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let config = config_from(args)?;
    let keys = config.api_keys.clone();
    let mock = match MockServer::start(config).await {
        Ok(mock) => mock,
        Err(err) => {
            let hint = match &err {
                passage_mock::MockError::Bind { source, .. } => {
                    crate::hints::bind_hint(source, "--addr")
                }
                _ => None,
            };
            let err = anyhow::Error::new(err).context("cannot start the emulator");
            return Err(match hint {
                // On its own line after the error: what to do about it.
                Some(hint) => anyhow::anyhow!("{}\nhint: {hint}", crate::exit::render(&err)),
                None => err,
            });
        }
    };
    // To stderr: stdout stays free for anything a script may want to read.
    eprint!("{}", banner(&mock.base_url(), &keys, &mock.key_id()));
    crate::signal::shutdown()?.await;
    eprintln!("stopping");
    mock.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// What `passage mock` prints on start: where it listens, the key to use (with the `export`
/// line the CLI and `Client::from_env` read), the webhook key id, and every control route.
fn banner(base: &str, keys: &[String], key_id: &str) -> String {
    let mut text = format!("Passage mock listening on {base}\n");
    // These are local test keys the user chose (or the default): printing them is the point.
    for key in keys {
        text.push_str(&format!("  API key:        {key}\n"));
    }
    if let Some(key) = keys.first() {
        text.push_str(&format!(
            "  Use it:         export PASSAGE_API_KEY={key} PASSAGE_BASE_URL={base}\n"
        ));
    }
    text.push_str(&format!(
        "  Webhook key id: {key_id} (public key: POST {base}/webhook_verification_key/get {{\"key_id\":\"{key_id}\"}})\n"
    ));
    text.push_str("  Sandbox control routes:\n");
    let width = passage_mock::CONTROL_ROUTES
        .iter()
        .map(|r| r.method.len() + 1 + base.len() + r.path.len())
        .max()
        .unwrap_or(0);
    for route in passage_mock::CONTROL_ROUTES {
        let call = format!("{} {base}{}", route.method, route.path);
        text.push_str(&format!("    {call:<width$}  {}\n", route.effect));
    }
    text.push_str(
        "  Webhook deliveries are logged as they happen (RUST_LOG=info). Ctrl-C to stop.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags_build_a_config() {
        let key = WebhookSigningKey::generate().to_pkcs8_pem();
        let wrapper = Wrapper::try_parse_from([
            "mock",
            "--addr",
            "127.0.0.1:0",
            "--api-key",
            "psg_a",
            "--api-key",
            "psg_b",
            "--seed",
            "9",
            "--signing-key",
            &key,
        ])
        .unwrap();
        let config = config_from(wrapper.args).unwrap();
        assert_eq!(config.api_keys, ["psg_a", "psg_b"]);
        assert_eq!(config.seed, 9);
        assert!(config.signing_key.is_some());
    }

    #[test]
    fn the_banner_names_the_url_key_and_every_control_route() {
        let text = banner(
            "http://127.0.0.1:4010",
            &["psg_test_mock".to_string()],
            "wsk_1",
        );
        assert!(text.starts_with("Passage mock listening on http://127.0.0.1:4010\n"));
        assert!(text.contains(
            "export PASSAGE_API_KEY=psg_test_mock PASSAGE_BASE_URL=http://127.0.0.1:4010"
        ));
        for route in passage_mock::CONTROL_ROUTES {
            let call = format!("{} http://127.0.0.1:4010{}", route.method, route.path);
            assert!(text.contains(&call), "{call} missing from\n{text}");
        }
    }

    #[test]
    fn bad_signing_key_is_reported() {
        let wrapper =
            Wrapper::try_parse_from(["mock", "--signing-key", "-----BEGIN nonsense"]).unwrap();
        let err = config_from(wrapper.args).unwrap_err();
        assert!(format!("{err:#}").contains("--signing-key"), "{err:#}");
    }
}
