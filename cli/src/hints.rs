//! Checks an integration and an operation named on the command line against the catalog this
//! binary was built with (`passage_generated::operations()`), and says what was meant: the close
//! matches first, then everything known.

use std::collections::BTreeSet;

use passage_connect::link::OperationRef;
use passage_generated::{find_operation, operations};

/// Parses `--operation RESOURCE:ACTION` (the form `links create`, `webhook verify` and `decode`
/// take).
pub(crate) fn parse_operation(s: &str) -> Result<OperationRef, String> {
    match s.split_once(':') {
        Some((resource, action))
            if !resource.is_empty() && !action.is_empty() && !action.contains(':') =>
        {
            Ok(OperationRef::new(resource, action))
        }
        _ => Err(format!(
            "expected `resource:action`, e.g. `mobileBillingStatement:read`, got `{s}`"
        )),
    }
}

/// A hint for a listening socket that could not be bound: what to try instead, for the error
/// kinds a user can act on. `flag` is the command's address flag (`--addr`).
pub(crate) fn bind_hint(err: &std::io::Error, flag: &str) -> Option<String> {
    match err.kind() {
        std::io::ErrorKind::AddrInUse => Some(format!(
            "another program (perhaps another `passage` server) already listens there: stop it, or \
             pick another address with {flag} 127.0.0.1:PORT (port 0 takes any free port)"
        )),
        std::io::ErrorKind::PermissionDenied => Some(format!(
            "ports below 1024 need privileges: use a higher port with {flag} 127.0.0.1:PORT"
        )),
        std::io::ErrorKind::AddrNotAvailable => Some(format!(
            "that address is not one of this machine's: use {flag} 127.0.0.1:PORT"
        )),
        _ => None,
    }
}

/// `Err(message)` when `integration` or `resource:action` is not in the catalog. The message names
/// the close matches and the known values; `escape` (e.g. `pass --allow-unknown-operations to
/// send it anyway`) is appended when the command has a way around the check.
pub(crate) fn check_operation(
    integration: &str,
    resource: &str,
    action: &str,
    escape: Option<&str>,
) -> Result<(), String> {
    if find_operation(integration, resource, action).is_some() {
        return Ok(());
    }
    let tail = escape.map(|e| format!("; {e}")).unwrap_or_default();
    let integrations: BTreeSet<&str> = operations().map(|op| op.integration).collect();
    if !integrations.contains(integration) {
        return Err(format!(
            "unknown integration `{integration}`{} (known: {}){tail}",
            did_you_mean(integration, integrations.iter().copied()),
            join(integrations.iter().copied()),
        ));
    }
    let known: Vec<String> = operations()
        .filter(|op| op.integration == integration)
        .map(|op| format!("{}:{}", op.resource, op.action))
        .collect();
    let wanted = format!("{resource}:{action}");
    Err(format!(
        "`{integration}` has no operation `{wanted}`{} (its operations: {}){tail}",
        did_you_mean(&wanted, known.iter().map(String::as_str)),
        join(known.iter().map(String::as_str)),
    ))
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// `; did you mean `x`?` for the candidates closest to `wanted` (ignoring case), or nothing.
fn did_you_mean<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let wanted_lower = wanted.to_lowercase();
    // Typos, not guesses: at most a third of the word may differ (and at least 2 edits allowed).
    let limit = (wanted.chars().count() / 3).max(2);
    let mut close: Vec<(usize, &str)> = candidates
        .map(|c| (edit_distance(&wanted_lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    close.sort();
    let Some(best) = close.first().map(|(d, _)| *d) else {
        return String::new();
    };
    let names: Vec<String> = close
        .iter()
        .filter(|(d, _)| *d == best)
        .map(|(_, c)| format!("`{c}`"))
        .collect();
    format!("; did you mean {}?", names.join(" or "))
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_close_matches_and_the_known_list() {
        let err = check_operation("tmobil", "paymentMethod", "read", None).unwrap_err();
        assert!(err.starts_with("unknown integration `tmobil`;"), "{err}");
        assert!(err.contains("did you mean `tmobile`?"), "{err}");
        assert!(err.contains("known: apple-review, att,"), "{err}");

        let err = check_operation("tmobile", "paymentMetod", "read", Some("pass --x")).unwrap_err();
        assert!(err.contains("did you mean `paymentMethod:read`?"), "{err}");
        assert!(err.contains("mobileBillingStatement:read"), "{err}");
        assert!(err.ends_with("; pass --x"), "{err}");

        let err = check_operation("tmobile", "orders", "list", None).unwrap_err();
        assert!(!err.contains("did you mean"), "{err}");
        assert!(check_operation("tmobile", "paymentMethod", "read", None).is_ok());
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("tmobil", "tmobile"), 1);
        assert_eq!(edit_distance("verizon", "verizon"), 0);
        assert_eq!(edit_distance("att", "uber"), 4);
    }
}
