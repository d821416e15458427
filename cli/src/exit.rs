//! The exit codes of every `passage` subcommand (one table, printed by `passage --help`), the
//! error type that carries a code to `main`, and the one place errors are rendered: each cause once,
//! even when an error's message already repeats its source's, and the API's request id beside it.

use std::fmt;
use std::process::ExitCode;

/// Why `passage` exits: the same code means the same thing for every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// The work failed: a webhook failed verification, the API answered an error, the network
    /// failed, the emulator could not start.
    Failure = 1,
    /// Usage: bad flags (clap's own code), an unknown integration or operation, no API key.
    Usage = 2,
    /// Bad input: a file or standard input that cannot be read, malformed JSON, an unusable key
    /// file.
    BadInput = 3,
    /// Well-formed input that does not fit its type: a result, a webhook event, or link
    /// arguments checked locally against the operation's schema.
    DoesNotFit = 4,
    /// `passage links wait`: `--timeout` passed before the link ended.
    TimedOut = 5,
    /// `passage links wait`: the link failed.
    LinkFailed = 6,
    /// `passage links wait`: the link expired.
    LinkExpired = 7,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}

/// The table as `passage --help` shows it (and README.md repeats it).
pub(crate) const TABLE: &str = "\
Exit codes (every subcommand):
  0  success
  1  failure: webhook verification failed, API or network error
  2  usage: bad flags, unknown integration or operation, no API key
  3  bad input: unreadable file or stdin, malformed JSON, unusable key file
  4  does not fit its type: result, webhook event, or link arguments (checked locally)
  5  links wait: --timeout passed first
  6  links wait: the link failed
  7  links wait: the link expired
Queue commands (webhook receive, work, reconcile, dead-letter):
  0  stopped cleanly (SIGTERM, Ctrl-C) or done
  1  Redis, the API or the listening address failed; reconcile --once had errors;
     dead-letter replay named an id that is not dead-lettered
  2  usage: bad flags, no API key (reconcile)";

/// What to try when nothing answered at the API's address: the usual cause is a base URL that
/// names the emulator while it is not running (or production while offline).
pub(crate) fn hint(error: &anyhow::Error) -> Option<String> {
    let transport = error.chain().find_map(|cause| match cause.downcast_ref() {
        Some(passage_connect::Error::Transport { url, source, .. }) if source.is_connect() => {
            Some(url.clone())
        }
        _ => None,
    })?;
    Some(format!(
        "nothing answered at {transport}: is the emulator running (`passage mock`)? The base URL \
         comes from --base-url or PASSAGE_BASE_URL (production when both are unset)"
    ))
}

/// An error with the exit code it should end the process with.
#[derive(Debug)]
pub(crate) struct Coded {
    code: Code,
    error: anyhow::Error,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(&self.error))
    }
}

impl std::error::Error for Coded {}

/// `error` ending the process with `code`.
pub(crate) fn coded(code: Code, error: impl Into<anyhow::Error>) -> anyhow::Error {
    Coded {
        code,
        error: error.into(),
    }
    .into()
}

/// Extension for `Result`s: `.or_exit(Code::BadInput)?`.
pub(crate) trait OrExit<T> {
    /// Tags the error with `code`.
    fn or_exit(self, code: Code) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, code: Code) -> anyhow::Result<T> {
        self.map_err(|err| coded(code, err))
    }
}

/// The code and the printed text of a subcommand's error. Untagged errors are failures, except
/// the SDK's local validation of a request (its arguments do not fit the operation's schema).
pub(crate) fn classify(error: &anyhow::Error) -> (Code, String) {
    if let Some(coded) = error.downcast_ref::<Coded>() {
        return (coded.code, render(&coded.error));
    }
    let code = match error.downcast_ref::<passage_connect::Error>() {
        Some(passage_connect::Error::Validation {
            origin: passage_connect::error::ValidationSource::Local,
            ..
        }) => Code::DoesNotFit,
        _ => Code::Failure,
    };
    (code, render(error))
}

/// The request id of the API answer behind `error`, if an SDK error with one is in its chain
/// (also inside a [`Coded`] error).
pub(crate) fn request_id(error: &anyhow::Error) -> Option<String> {
    if let Some(coded) = error.downcast_ref::<Coded>() {
        return request_id(&coded.error);
    }
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<passage_connect::Error>()
            .and_then(passage_connect::Error::request_id)
            .map(str::to_owned)
    })
}

/// The error and its causes joined with `: `, leaving out a cause whose text the line already
/// holds (an error type that prints its source in its own message would otherwise say it twice).
pub(crate) fn render(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Repeats(std::io::Error);

    impl fmt::Display for Repeats {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "sending to http://x: {}", self.0)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = anyhow::Error::new(Repeats(io)).context("GET /v1/links");
        assert_eq!(
            render(&error),
            "GET /v1/links: sending to http://x: refused"
        );
    }

    #[test]
    fn tagged_errors_keep_their_code_and_text() {
        let error = coded(
            Code::BadInput,
            anyhow::anyhow!("inner").context("reading x.json"),
        );
        assert_eq!(
            classify(&error),
            (Code::BadInput, "reading x.json: inner".to_string())
        );
        assert_eq!(classify(&anyhow::anyhow!("plain")).0, Code::Failure);
    }

    #[test]
    fn the_table_lists_every_code_once() {
        // Each section (every subcommand; the queue commands) lists a code at most once, and
        // the first lists all of them.
        let (every, queue) = TABLE
            .split_once("Queue commands")
            .expect("the queue commands' section");
        for code in 0..=7 {
            let rows = |section: &str| {
                section
                    .lines()
                    .filter(|l| l.trim_start().starts_with(&format!("{code} ")))
                    .count()
            };
            assert_eq!(rows(every), 1, "code {code} in\n{TABLE}");
            assert!(rows(queue) <= 1, "code {code} in\n{TABLE}");
        }
    }
}
