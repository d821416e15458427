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
    let config = config_from(args)?;
    let keys = config.api_keys.clone();
    let mock = MockServer::start(config)
        .await
        .context("cannot start the emulator")?;
    let base = mock.base_url();
    println!("Passage mock listening on {base}");
    // These are local test keys the user chose (or the default): printing them is the point.
    for key in &keys {
        println!("  API key:            {key}");
    }
    println!("  Webhook key id:     {}", mock.key_id());
    println!(
        "  Public key:         curl -s -X POST {base}/webhook_verification_key/get -H 'content-type: application/json' -d '{{\"key_id\":\"{}\"}}'",
        mock.key_id()
    );
    println!(
        "  Providers:          curl -s {base}/v1/providers -H 'authorization: Bearer {}'",
        mock.api_key()
    );
    println!("  Control API:        {base}/sandbox/... (see mock/README.md); Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    println!("stopping");
    mock.shutdown().await;
    Ok(ExitCode::SUCCESS)
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
    fn bad_signing_key_is_reported() {
        let wrapper =
            Wrapper::try_parse_from(["mock", "--signing-key", "-----BEGIN nonsense"]).unwrap();
        let err = config_from(wrapper.args).unwrap_err();
        assert!(format!("{err:#}").contains("--signing-key"), "{err:#}");
    }
}
