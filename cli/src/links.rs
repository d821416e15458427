//! `passage links create|get|wait|list`: links from the command line, over
//! `passage_connect::client`.
//!
//! Contract (acceptance checks rely on it):
//! - `passage links create --integration I --operation resource:action ... [--arguments JSON ...]
//!   [--webhook-url U] [--return-url U] [--external-user-id X] [--expires-in S]`
//! - `passage links get ID`, `passage links wait ID [--timeout S]`,
//!   `passage links list [--jsonl] [--page-size N]`
//! - every command takes `--base-url URL` (or `PASSAGE_BASE_URL`) and `--pretty`; the key comes
//!   from `PASSAGE_API_KEY` and is never printed.
//! - stdout: JSON (one line) by default, a readable table with `--pretty` (times in RFC 3339).
//!   `list --jsonl` prints one link per line as pages arrive (the cursor of `GET /v1/links` is
//!   followed; `--page-size` is sent as `?limit=`), never holding the whole list.
//!   `wait` shows a spinner on stderr when stderr is a terminal, and exits 0 when the link
//!   completed, 6 when it failed, 7 when it expired, 5 when `--timeout` passed first.
//! - With `-v`, the request id of the answer (when the API sends one) is printed on stderr after
//!   a success (`request id: req_...`; `list --jsonl`: one line per page); `main` prints it
//!   after any API error.
//! - Other exits follow the table of `passage --help`: 1 API or network error, 2 usage (unknown
//!   integration or operation, no API key), 3 unreadable or malformed `--arguments`, 4 arguments
//!   that do not fit the operation's schema (checked locally, nothing sent).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{ArgMatches, FromArgMatches};
use passage_connect::client::{
    ApiKey, Client, Link, ListFilter, ResponseMeta, WaitOptions, PRODUCTION_URL,
};
use passage_connect::link::LinkStatus;
use passage_connect::Error;
use serde_json::Value;

use crate::exit::{coded, Code, OrExit as _};

/// Where the API is and the key to use, shared by `links` and `providers`.
#[derive(Debug, clap::Args)]
pub struct Connection {
    /// Base URL of the API (e.g. `http://127.0.0.1:4010` for `passage mock`).
    #[arg(long, env = "PASSAGE_BASE_URL", default_value = PRODUCTION_URL)]
    base_url: String,
    /// The API key. Prefer the environment variable: a flag's value is visible to other processes.
    #[arg(
        long = "api-key",
        env = "PASSAGE_API_KEY",
        hide_env_values = true,
        value_parser = parse_key
    )]
    api_key: Option<ApiKey>,
}

fn parse_key(text: &str) -> Result<ApiKey, String> {
    Ok(ApiKey::new(text.trim()))
}

/// Builds the client from the connection flags.
pub(crate) fn connect(connection: &Connection) -> anyhow::Result<Client> {
    let Some(key) = connection
        .api_key
        .clone()
        .filter(|k| !k.expose_secret().is_empty())
    else {
        return Err(coded(
            Code::Usage,
            anyhow::anyhow!("no API key: set PASSAGE_API_KEY (or pass --api-key)"),
        ));
    };
    Ok(Client::builder(key)
        .base_url(connection.base_url.clone())
        .build()?)
}

/// `passage links` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a link (POST /v1/links) and print it, with its appClipUrl.
    Create(CreateArgs),
    /// Get a link (GET /v1/links/{id}) with its status, error and result.
    Get(GetArgs),
    /// Poll a link until it completes, fails or expires (exit 0 / 6 / 7; 5 on --timeout).
    Wait(WaitArgs),
    /// List the organization's links (GET /v1/links).
    List(ListArgs),
}

/// Flags of `passage links create` as clap parses them.
#[derive(Debug, clap::Args)]
struct CreateFlags {
    #[command(flatten)]
    connection: Connection,
    /// Integration id, e.g. `tmobile`, `apple-review`.
    #[arg(long)]
    integration: String,
    /// An operation as `resource:action` (repeat for several; run in order).
    #[arg(
        id = "operation",
        long = "operation",
        value_name = "RESOURCE:ACTION",
        required = true
    )]
    operations: Vec<String>,
    /// Arguments JSON (or `@file.json`) of the `--operation` written just before it.
    #[arg(id = "arguments", long = "arguments", value_name = "JSON")]
    arguments: Vec<String>,
    /// Where the completion webhook is POSTed (an absolute http:// or https:// URL).
    #[arg(long, value_parser = webhook_url)]
    webhook_url: Option<String>,
    /// Where the user goes after the session (https:// or a custom scheme).
    #[arg(long)]
    return_url: Option<String>,
    /// Your own id for the end user.
    #[arg(long)]
    external_user_id: Option<String>,
    /// Link lifetime in seconds (the server's default is 14400).
    #[arg(long, value_name = "SECONDS")]
    expires_in: Option<u64>,
    /// Debug mode for this link.
    #[arg(long)]
    debug: bool,
    /// Send operations this SDK's catalog does not know (the server still validates them).
    #[arg(long)]
    allow_unknown_operations: bool,
    /// Print a readable table instead of JSON.
    #[arg(long, conflicts_with = "quiet")]
    pretty: bool,
    /// Print only the new link's id on stdout (for scripts: `LINK=$(passage links create --quiet
    /// ...)`), and `open <appClipUrl>` on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Arguments of `passage links create`. Each `--arguments` belongs to the `--operation` written
/// just before it (so `--operation paymentMethod:read --operation paymentMethod:write
/// --arguments '{..}'` gives the arguments to the write); when that leaves an operation with two,
/// and there are as many `--arguments` as `--operation`, they pair by position.
#[derive(Debug)]
pub struct CreateArgs {
    flags: CreateFlags,
    operation_positions: Vec<usize>,
    arguments_positions: Vec<usize>,
}

impl FromArgMatches for CreateArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let flags = CreateFlags::from_arg_matches(matches)?;
        let positions = |id: &str| -> Vec<usize> {
            matches
                .indices_of(id)
                .map(|i| i.collect())
                .unwrap_or_default()
        };
        Ok(CreateArgs {
            operation_positions: positions("operation"),
            arguments_positions: positions("arguments"),
            flags,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = CreateArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for CreateArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        <CreateFlags as clap::Args>::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        <CreateFlags as clap::Args>::augment_args_for_update(cmd)
    }
}

/// Arguments of `passage links get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    connection: Connection,
    /// The link id.
    id: String,
    /// Print a readable table instead of JSON.
    #[arg(long)]
    pretty: bool,
}

/// Arguments of `passage links wait`.
#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    #[command(flatten)]
    connection: Connection,
    /// The link id.
    id: String,
    /// Give up after this many seconds (exit 5).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    timeout: u64,
    /// Print a readable table instead of JSON.
    #[arg(long)]
    pretty: bool,
}

/// Arguments of `passage links list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: Connection,
    /// Print a readable table instead of JSON.
    #[arg(long, conflicts_with = "jsonl")]
    pretty: bool,
    /// Print one link per line (JSON Lines) as pages arrive, following the list's cursor.
    #[arg(long)]
    jsonl: bool,
    /// Ask for pages of at most N links (`?limit=N`; the real API may ignore it). With --jsonl.
    #[arg(long, value_name = "N", requires = "jsonl", value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
}

/// Prints the answer's request id on stderr when `verbose` (stdout stays the command's output).
fn report(meta: &ResponseMeta, verbose: bool) {
    if verbose {
        if let Some(id) = &meta.request_id {
            eprintln!("request id: {id}");
        }
    }
}

/// Runs a `passage links` subcommand; `verbose` (`-v`) also prints request ids on stderr.
pub async fn run(cmd: Command, verbose: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Create(args) => create(args, verbose).await,
        Command::Get(args) => {
            let client = connect(&args.connection)?;
            let (link, meta) = client
                .links()
                .get(&args.id)
                .with_response()
                .await?
                .into_parts();
            report(&meta, verbose);
            print_link(&link, args.pretty)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Wait(args) => wait(args, verbose).await,
        Command::List(args) if args.jsonl => list_jsonl(args, verbose).await,
        Command::List(args) => {
            let client = connect(&args.connection)?;
            let (list, meta) = client.links().list().with_response().await?.into_parts();
            report(&meta, verbose);
            if args.pretty {
                let mut rows = vec![[
                    "ID".to_string(),
                    "INTEGRATION".to_string(),
                    "STATUS".to_string(),
                    "OPERATIONS".to_string(),
                    "EXTERNAL USER".to_string(),
                    "CREATED".to_string(),
                ]];
                for link in &list.links {
                    rows.push([
                        link.id.clone(),
                        link.integration_id.clone(),
                        link.status.to_string(),
                        operations_text(link),
                        link.external_user_id.clone().unwrap_or_default(),
                        link.created_at.map(rfc3339).unwrap_or_default(),
                    ]);
                }
                print!("{}", table(&rows));
            } else {
                println!("{}", serde_json::to_string(&list)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `passage links list --jsonl`: one line per link, written (and flushed) as each page arrives.
async fn list_jsonl(args: ListArgs, verbose: bool) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let client = connect(&args.connection)?;
    let mut filter = ListFilter::new();
    if let Some(size) = args.page_size {
        filter = filter.page_size(size);
    }
    let mut pages = client.links().list_pages(&filter);
    let stdout = std::io::stdout();
    while let Some(page) = pages.next_page_with_response().await {
        let (page, meta) = page?.into_parts();
        report(&meta, verbose);
        let mut out = stdout.lock();
        for link in &page.links {
            serde_json::to_writer(&mut out, link)?;
            out.write_all(b"\n")?;
        }
        // A reader sees each page as it arrives, not when the listing ends.
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Pairs each `--arguments` with an operation index (see [`CreateArgs`]).
fn pair_arguments(
    operation_positions: &[usize],
    arguments_positions: &[usize],
) -> anyhow::Result<Vec<Option<usize>>> {
    let mut owner: Vec<Option<usize>> = vec![None; operation_positions.len()];
    let mut conflict = false;
    for (arg_index, &at) in arguments_positions.iter().enumerate() {
        let Some(op_index) = operation_positions.iter().rposition(|&op_at| op_at < at) else {
            bail!("--arguments #{} comes before any --operation: write it after the operation it belongs to", arg_index + 1);
        };
        if owner[op_index].is_some() {
            conflict = true;
        }
        owner[op_index] = Some(arg_index);
    }
    if conflict {
        if arguments_positions.len() == operation_positions.len() {
            return Ok((0..operation_positions.len()).map(Some).collect());
        }
        bail!("two --arguments follow the same --operation: write each --arguments right after its --operation");
    }
    Ok(owner)
}

fn read_arguments(text: &str, which: usize) -> anyhow::Result<Value> {
    let (source, json) = match text.strip_prefix('@') {
        Some(path) => (
            path.to_string(),
            std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?,
        ),
        None => (format!("--arguments #{which}"), text.to_string()),
    };
    serde_json::from_str(&json).with_context(|| format!("{source} is not valid JSON"))
}

async fn create(args: CreateArgs, verbose: bool) -> anyhow::Result<ExitCode> {
    let flags = &args.flags;
    let client = connect(&flags.connection)?;
    let owners = pair_arguments(&args.operation_positions, &args.arguments_positions)
        .or_exit(Code::Usage)?;
    let mut request = client.links().create(flags.integration.clone());
    for (index, operation) in flags.operations.iter().enumerate() {
        let Some((resource, action)) = operation.split_once(':') else {
            return Err(coded(
                Code::Usage,
                anyhow::anyhow!(
                    "--operation `{operation}` is not `resource:action` (e.g. paymentMethod:read)"
                ),
            ));
        };
        if !flags.allow_unknown_operations {
            crate::hints::check_operation(
                &flags.integration,
                resource,
                action,
                Some("pass --allow-unknown-operations to send it anyway"),
            )
            .map_err(anyhow::Error::msg)
            .or_exit(Code::Usage)?;
        }
        request = match owners.get(index).copied().flatten() {
            Some(arg_index) => {
                let text = flags
                    .arguments
                    .get(arg_index)
                    .context("internal: --arguments index out of range")?;
                let value = read_arguments(text, arg_index + 1).or_exit(Code::BadInput)?;
                request.operation_with_json_arguments(resource, action, value)
            }
            None => request.operation(resource, action),
        };
    }
    if let Some(url) = &flags.webhook_url {
        request = request.webhook_url(url.clone());
    }
    if let Some(url) = &flags.return_url {
        request = request.return_url(url.clone());
    }
    if let Some(id) = &flags.external_user_id {
        request = request.external_user_id(id.clone());
    }
    if let Some(seconds) = flags.expires_in {
        request = request.expires_in(Duration::from_secs(seconds));
    }
    if flags.debug {
        request = request.debug(true);
    }
    if flags.allow_unknown_operations {
        request = request.allow_unknown_operations();
    }
    let (link, meta) = request.with_response().await?.into_parts();
    report(&meta, verbose);
    if flags.quiet {
        println!("{}", link.id);
        // The id alone goes to stdout (for `LINK=$(...)`); the URL the user must open is only
        // in the create answer (GET does not return it), so it is not lost: stderr.
        if let Some(url) = &link.app_clip_url {
            eprintln!("open {url}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    print_link(&link, flags.pretty)?;
    Ok(ExitCode::SUCCESS)
}

async fn wait(args: WaitArgs, verbose: bool) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connection)?;
    let status = Arc::new(Mutex::new(String::from("polling")));
    let seen = status.clone();
    let options = WaitOptions::default()
        .timeout(Duration::from_secs(args.timeout))
        .on_poll(move |link| {
            if let Ok(mut text) = seen.lock() {
                *text = link.status.to_string();
            }
        });
    let spinner = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(spin(args.id.clone(), status)));
    let outcome = client.links().wait_with_response(&args.id, &options).await;
    if let Some(task) = spinner {
        task.abort();
        eprint!("\r\x1b[2K");
    }
    match outcome {
        Ok(response) => {
            let (link, meta) = response.into_parts();
            report(&meta, verbose);
            print_link(&link, args.pretty)?;
            Ok(match link.status {
                LinkStatus::Complete => ExitCode::SUCCESS,
                LinkStatus::Failed => Code::LinkFailed.into(),
                LinkStatus::Expired => Code::LinkExpired.into(),
                _ => Code::Failure.into(),
            })
        }
        Err(err @ Error::Timeout { .. }) => {
            eprintln!("error: {err}");
            Ok(Code::TimedOut.into())
        }
        Err(err) => Err(err.into()),
    }
}

/// A plain-text spinner on stderr with the last status seen.
async fn spin(id: String, status: Arc<Mutex<String>>) {
    const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
    let mut tick = tokio::time::interval(Duration::from_millis(120));
    let mut frame = 0usize;
    loop {
        tick.tick().await;
        let text = status.lock().map(|s| s.clone()).unwrap_or_default();
        eprint!(
            "\r\x1b[2K{} waiting for {id}: {text}",
            FRAMES[frame % FRAMES.len()]
        );
        frame += 1;
    }
}

fn operations_text(link: &Link) -> String {
    link.operations
        .iter()
        .map(|op| format!("{}:{}", op.resource, op.action))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_link(link: &Link, pretty: bool) -> anyhow::Result<()> {
    if !pretty {
        println!("{}", serde_json::to_string(link)?);
        return Ok(());
    }
    let mut rows: Vec<[String; 2]> = Vec::new();
    let mut row = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            rows.push([key.to_string(), value]);
        }
    };
    row("id", Some(link.id.clone()));
    row("integration", Some(link.integration_id.clone()));
    row("status", Some(link.status.to_string()));
    row("operations", Some(operations_text(link)));
    row("app clip url", link.app_clip_url.clone());
    row("claim code", link.claim_code.clone());
    row("return url", link.return_url.clone());
    row("external user", link.external_user_id.clone());
    row("session", link.current_session_id.clone());
    row("created at", link.created_at.map(rfc3339));
    row("updated at", link.updated_at.map(rfc3339));
    row("expires at", link.expires_at.map(rfc3339));
    row("error", link.error.as_ref().map(|e| e.to_string()));
    print!("{}", table(&rows));
    match link.results() {
        None => {}
        Some(Err(err)) => println!("result: cannot be split per operation: {err}"),
        Some(Ok(results)) => {
            for (index, entry) in results.iter().enumerate() {
                println!("\nresult {index} ({}):", entry.operation);
                match &entry.outcome {
                    Ok(data) => println!("{}", serde_json::to_string_pretty(data)?),
                    Err(err) => println!("does not fit its type: {err}"),
                }
            }
        }
    }
    Ok(())
}

/// Unix milliseconds (the API's times) as RFC 3339 UTC, e.g. `2024-01-01T00:00:00.000Z`.
fn rfc3339(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days: proleptic Gregorian date of a day count since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000
    )
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub(crate) fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    widths[i] - cell.chars().count() + 2,
                ));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `--webhook-url` must be a URL Passage can POST to: checked before anything is sent, so a typo
/// is a usage error (exit 2) naming the flag, not a refusal from the server.
fn webhook_url(text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(text.to_owned())
        }
        Ok(url) => Err(format!(
            "expected an http:// or https:// URL with a host, got scheme `{}`",
            url.scheme()
        )),
        Err(err) => Err(format!(
            "not a URL ({err}), e.g. https://example.com/webhook"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_belong_to_the_operation_before_them() {
        // --operation a (1) --operation b (3) --arguments x (5)
        assert_eq!(pair_arguments(&[1, 3], &[5]).unwrap(), [None, Some(0)]);
        // --operation a (1) --arguments x (3) --operation b (5) --arguments y (7)
        assert_eq!(
            pair_arguments(&[1, 5], &[3, 7]).unwrap(),
            [Some(0), Some(1)]
        );
        // --operation a --operation b --arguments x --arguments y: by position.
        assert_eq!(
            pair_arguments(&[1, 3], &[5, 7]).unwrap(),
            [Some(0), Some(1)]
        );
        assert!(pair_arguments(&[3], &[1]).is_err());
        assert!(pair_arguments(&[1, 3, 5], &[7, 9]).is_err());
    }

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(1_704_067_200_000), "2024-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
        assert_eq!(rfc3339(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn table_aligns_columns() {
        let text = table(&[
            ["a".to_string(), "bb".to_string()],
            ["ccc".to_string(), "d".to_string()],
        ]);
        assert_eq!(text, "a    bb\nccc  d\n");
    }
}
