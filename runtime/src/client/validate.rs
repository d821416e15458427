//! Local validation of a create-link request before anything is sent: the operation must exist in
//! the generated registry (and, for typed arguments, list the integration), the arguments must
//! validate against the operation's JSON Schema, and URLs and `expiresIn` must be well-formed.
//! Problems are reported with the server's `issues` shape and dot paths
//! (`operations.1.arguments.cvv`); messages never repeat the offending value (card data).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::Validator;
use serde_json::{Map, Value};
use url::Url;

use crate::error::Issue;

/// One operation of a create request, as the builder collected it.
#[derive(Debug, Clone)]
pub(crate) struct PendingOperation {
    pub(crate) resource: String,
    pub(crate) action: String,
    pub(crate) arguments: Option<Value>,
    /// For typed arguments: the integrations their type is for.
    pub(crate) typed_for: Option<&'static [&'static str]>,
    /// For typed arguments that failed to serialize: why.
    pub(crate) serialize_error: Option<String>,
}

/// Every local problem of the request (empty when it is fine).
pub(crate) fn validate_request(
    integration: &str,
    operations: &[PendingOperation],
    allow_unknown_operations: bool,
    webhook_url: Option<&str>,
    return_url: Option<&str>,
    expires_in: Option<std::time::Duration>,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    if integration.trim().is_empty() {
        issues.push(Issue::new("integrationId", "Required"));
    }
    if operations.is_empty() {
        issues.push(Issue::new("operations", "must list at least one operation"));
    }
    for (index, op) in operations.iter().enumerate() {
        let path = format!("operations.{index}");
        if op.resource.trim().is_empty() {
            issues.push(Issue::new(format!("{path}.resource"), "Required"));
        }
        if op.action.trim().is_empty() {
            issues.push(Issue::new(format!("{path}.action"), "Required"));
        }
        let args_path = format!("{path}.arguments");
        if let Some(message) = &op.serialize_error {
            issues.push(Issue::new(
                args_path.clone(),
                format!("the arguments could not be serialized to JSON: {message}"),
            ));
        }
        if let Some(integrations) = op.typed_for {
            if !integrations.contains(&integration) {
                issues.push(Issue::new(
                    path.clone(),
                    format!(
                        "the arguments type of {}/{} is for {}, not `{integration}`",
                        op.resource,
                        op.action,
                        integrations.join(", ")
                    ),
                ));
                continue;
            }
        }
        if integration.trim().is_empty() || op.resource.is_empty() || op.action.is_empty() {
            continue;
        }
        let Some(info) = passage_generated::find_operation(integration, &op.resource, &op.action)
        else {
            if !allow_unknown_operations {
                issues.push(Issue::new(
                    path,
                    format!(
                        "Integration `{integration}` has no operation `{}` `{}` in this SDK's catalog \
                         (use `allow_unknown_operations()` to send it anyway)",
                        op.resource, op.action
                    ),
                ));
            }
            continue;
        };
        match (info.arguments_schema, &op.arguments) {
            (Some(schema), arguments) => {
                let empty = Value::Object(Map::new());
                let instance = arguments.as_ref().unwrap_or(&empty);
                if let Some(validator) = compiled(schema) {
                    issues.extend(schema_issues(&validator, instance, &args_path));
                }
            }
            (None, Some(Value::Object(map))) if !map.is_empty() => {
                issues.push(Issue::new(args_path, "This operation takes no arguments"));
            }
            (None, Some(Value::Null | Value::Object(_)) | None) => {}
            (None, Some(_)) => {
                issues.push(Issue::new(args_path, "This operation takes no arguments"));
            }
        }
    }
    if let Some(url) = webhook_url {
        let ok = Url::parse(url)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .unwrap_or(false);
        if !ok {
            issues.push(Issue::new("webhookUrl", "must be a valid URL"));
        }
    }
    if let Some(url) = return_url {
        let ok = Url::parse(url)
            .map(|u| {
                !matches!(
                    u.scheme(),
                    "javascript" | "data" | "file" | "vbscript" | "blob" | "about"
                )
            })
            .unwrap_or(false);
        if !ok {
            issues.push(Issue::new(
                "returnUrl",
                "must be an https:// URL or a custom scheme such as myapp://done",
            ));
        }
    }
    if let Some(expires_in) = expires_in {
        if expires_in.as_secs() == 0 || expires_in.subsec_nanos() != 0 {
            issues.push(Issue::new(
                "expiresIn",
                "must be a positive integer (whole seconds)",
            ));
        }
    }
    issues
}

/// Compiled argument schemas by schema text (`None`: the schema does not compile).
type ValidatorCache = Mutex<HashMap<&'static str, Option<Arc<Validator>>>>;

/// Compiled argument schemas, by schema text (the generated schemas are `'static`).
fn compiled(schema: &'static str) -> Option<Arc<Validator>> {
    static CACHE: OnceLock<ValidatorCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = match cache.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard
        .entry(schema)
        .or_insert_with(|| {
            let value: Value = match serde_json::from_str(schema) {
                Ok(value) => value,
                Err(err) => {
                    tracing::warn!(%err, "an arguments schema of the generated crate is not JSON; skipping local validation");
                    return None;
                }
            };
            match jsonschema::validator_for(&value) {
                Ok(validator) => Some(Arc::new(validator)),
                Err(err) => {
                    tracing::warn!(error = %err.masked(), "an arguments schema of the generated crate does not compile; skipping local validation");
                    None
                }
            }
        })
        .clone()
}

/// Every schema violation, as issues under `prefix` (see [`Issue::from_schema_violations`]).
fn schema_issues(validator: &Validator, instance: &Value, prefix: &str) -> Vec<Issue> {
    Issue::from_schema_violations(validator, instance, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_issues_have_dot_paths_and_no_values() {
        let schema = serde_json::json!({
            "type":"object",
            "properties":{"cvv":{"type":"string","pattern":"^[0-9]{3,4}$"},"n":{"type":"integer"}},
            "required":["cvv","name"],
            "additionalProperties": false
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let issues = schema_issues(
            &validator,
            &serde_json::json!({"cvv":"12345678","n":"4111111111111111","bogus":1}),
            "operations.1.arguments",
        );
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"operations.1.arguments.name"), "{issues:?}");
        assert!(paths.contains(&"operations.1.arguments.cvv"), "{issues:?}");
        assert!(paths.contains(&"operations.1.arguments.n"), "{issues:?}");
        assert!(
            paths.contains(&"operations.1.arguments.bogus"),
            "{issues:?}"
        );
        let text = format!("{issues:?}");
        assert!(
            !text.contains("4111111111111111") && !text.contains("12345678"),
            "{text}"
        );
    }

    #[test]
    fn urls_expiry_and_empty_fields() {
        let issues = validate_request(
            "",
            &[],
            true,
            Some("not a url"),
            Some("javascript:alert(1)"),
            Some(std::time::Duration::from_millis(1500)),
        );
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "integrationId",
                "operations",
                "webhookUrl",
                "returnUrl",
                "expiresIn"
            ]
        );
        assert!(validate_request(
            "x",
            &[PendingOperation {
                resource: "r".into(),
                action: "a".into(),
                arguments: None,
                typed_for: None,
                serialize_error: None
            }],
            true,
            Some("https://example.com/hook"),
            Some("myapp://done"),
            Some(std::time::Duration::from_secs(60)),
        )
        .is_empty());
    }

    #[test]
    fn typed_arguments_for_another_integration_are_refused() {
        let issues = validate_request(
            "ubereats",
            &[PendingOperation {
                resource: "paymentMethod".into(),
                action: "write".into(),
                arguments: Some(serde_json::json!({})),
                typed_for: Some(&["att", "tmobile", "verizon"]),
                serialize_error: None,
            }],
            false,
            None,
            None,
            None,
        );
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, "operations.0");
    }
}
