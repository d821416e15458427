//! Validation of `POST /v1/links` bodies against the catalog: required and typed fields, URLs,
//! `expiresIn`, known operations, and `arguments` against each operation's JSON Schema (validators
//! compiled once at start), reported as zod-style `issues` with dot paths.

use std::collections::HashMap;

use jsonschema::Validator;
use passage_catalog::Catalog;
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

use crate::error::MockError;

/// One problem with a request body: where (`operations.1.arguments.cvv`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Issue {
    pub(crate) path: String,
    pub(crate) message: String,
}

impl Issue {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A compiled JSON Schema with its source.
pub(crate) struct CompiledSchema {
    pub(crate) schema: Value,
    pub(crate) validator: Validator,
}

/// One catalog operation, ready to validate arguments and results.
pub(crate) struct OperationEntry {
    pub(crate) description: Option<String>,
    pub(crate) arguments: Option<CompiledSchema>,
    pub(crate) result: Option<CompiledSchema>,
}

/// The catalog's operations keyed by (integration, resource, action), and integration names.
pub(crate) struct Registry {
    operations: HashMap<(String, String, String), OperationEntry>,
    integrations: HashMap<String, String>,
}

impl Registry {
    /// Compiles every operation's schemas (draft picked from `$schema`, draft 2020-12 if absent).
    pub(crate) fn compile(catalog: &Catalog) -> Result<Registry, MockError> {
        let mut operations = HashMap::new();
        let mut integrations = HashMap::new();
        for provider in &catalog.providers {
            integrations.insert(provider.id.clone(), provider.name.clone());
        }
        for op in catalog.operations() {
            let compile = |schema: &Option<Value>, which: &'static str| {
                schema
                    .as_ref()
                    .filter(|schema| !schema.is_null())
                    .map(|schema| {
                        jsonschema::validator_for(schema)
                            .map(|validator| CompiledSchema {
                                schema: schema.clone(),
                                validator,
                            })
                            .map_err(|err| MockError::Schema {
                                integration: op.integration.to_string(),
                                resource: op.resource.to_string(),
                                action: op.action.to_string(),
                                which,
                                message: err.to_string(),
                            })
                    })
                    .transpose()
            };
            let entry = OperationEntry {
                description: op.spec.description.clone(),
                arguments: compile(&op.spec.arguments, "arguments")?,
                result: compile(&op.spec.result, "result")?,
            };
            operations.insert(
                (
                    op.integration.to_string(),
                    op.resource.to_string(),
                    op.action.to_string(),
                ),
                entry,
            );
        }
        Ok(Registry {
            operations,
            integrations,
        })
    }

    /// The display name of an integration, if the catalog has it.
    pub(crate) fn integration_name(&self, integration: &str) -> Option<&str> {
        self.integrations.get(integration).map(String::as_str)
    }

    /// One operation, if the catalog has it.
    pub(crate) fn operation(
        &self,
        integration: &str,
        resource: &str,
        action: &str,
    ) -> Option<&OperationEntry> {
        self.operations.get(&(
            integration.to_string(),
            resource.to_string(),
            action.to_string(),
        ))
    }
}

/// Every schema violation, as issues under `prefix`: the same paths and masked messages as the
/// SDK's local validation (`passage_connect::error::Issue::from_schema_violations`).
pub(crate) fn schema_issues(validator: &Validator, instance: &Value, prefix: &str) -> Vec<Issue> {
    passage_connect::error::Issue::from_schema_violations(validator, instance, prefix)
        .into_iter()
        .map(|issue| Issue::new(issue.path, issue.message))
        .collect()
}

fn join(prefix: &str, segment: &str) -> String {
    if prefix.is_empty() {
        segment.to_string()
    } else {
        format!("{prefix}.{segment}")
    }
}

/// One requested operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RequestedOperation {
    pub(crate) resource: String,
    pub(crate) action: String,
    pub(crate) arguments: Option<Value>,
}

/// A valid `POST /v1/links` body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CreateLinkRequest {
    pub(crate) integration_id: String,
    pub(crate) operations: Vec<RequestedOperation>,
    pub(crate) webhook_url: Option<String>,
    pub(crate) return_url: Option<String>,
    pub(crate) external_user_id: Option<String>,
    pub(crate) debug: bool,
    pub(crate) expires_in: Option<u64>,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn expected(what: &str, got: &Value) -> String {
    format!("Expected {what}, received {}", type_name(got))
}

/// Reads an optional string field. `null` counts as mistyped: zod's `.optional()` rejects it.
fn optional_string(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        other => {
            issues.push(Issue::new(path, expected("string", other)));
            None
        }
    }
}

fn required_string(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    match object.get(key) {
        None => {
            issues.push(Issue::new(path, "Required"));
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            issues.push(Issue::new(path, "must not be empty"));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            issues.push(Issue::new(path, expected("string", other)));
            None
        }
    }
}

/// `webhookUrl`: an absolute `http(s)` URL with a host.
fn valid_webhook_url(text: &str) -> bool {
    Url::parse(text)
        .map(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .unwrap_or(false)
}

/// `returnUrl`: `https://`, or a custom scheme such as `myapp://done`.
///
/// Passage documents only those two forms. As a local-testing convenience the mock also accepts
/// `http://` to a loopback host (127.0.0.1, localhost, [::1]). Schemes a browser would run or
/// read locally (`javascript:`, `data:`, `file:`, `vbscript:`, `blob:`, `about:`) are refused: the
/// sandbox page redirects to this URL.
fn valid_return_url(text: &str) -> bool {
    let Ok(url) = Url::parse(text) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        ),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ftp" | "ws" | "wss" => {
            false
        }
        _ => true,
    }
}

/// Validates a `POST /v1/links` body, collecting every issue (not just the first).
pub(crate) fn validate_create(
    registry: &Registry,
    body: &Value,
) -> Result<CreateLinkRequest, Vec<Issue>> {
    let mut issues = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![Issue::new("", expected("object", body))]);
    };

    let integration_id = required_string(object, "integrationId", "integrationId", &mut issues);
    let known_integration = match &integration_id {
        Some(id) if registry.integration_name(id).is_none() => {
            issues.push(Issue::new(
                "integrationId",
                format!("Unknown integration `{id}`"),
            ));
            false
        }
        Some(_) => true,
        None => false,
    };

    let legacy_keys: Vec<&str> = ["resource", "action", "arguments"]
        .into_iter()
        .filter(|key| object.contains_key(*key))
        .collect();
    let mut operations = Vec::new();
    match (object.get("operations"), legacy_keys.is_empty()) {
        (Some(_), false) => issues.push(Issue::new(
            "operations",
            format!(
                "send either `operations` or the older top-level `resource`/`action`/`arguments`, not both (found {})",
                legacy_keys.join(", ")
            ),
        )),
        (None, true) => issues.push(Issue::new("operations", "Required")),
        (Some(Value::Array(items)), true) => {
            if items.is_empty() {
                issues.push(Issue::new("operations", "must contain at least 1 operation"));
            }
            for (index, item) in items.iter().enumerate() {
                let path = format!("operations.{index}");
                let Some(item) = item.as_object() else {
                    issues.push(Issue::new(path, expected("object", item)));
                    continue;
                };
                if let Some(op) = read_operation(item, &format!("{path}."), &mut issues) {
                    operations.push((path, op));
                }
            }
        }
        (Some(other), true) => issues.push(Issue::new("operations", expected("array", other))),
        (None, false) => {
            if let Some(op) = read_operation(object, "", &mut issues) {
                operations.push((String::new(), op));
            }
        }
    }

    if let (true, Some(integration)) = (known_integration, &integration_id) {
        for (path, op) in &operations {
            let args_path = join(path, "arguments");
            let Some(entry) = registry.operation(integration, &op.resource, &op.action) else {
                issues.push(Issue::new(
                    if path.is_empty() {
                        "resource".to_string()
                    } else {
                        path.clone()
                    },
                    format!(
                        "Integration `{integration}` has no operation `{}` `{}`",
                        op.resource, op.action
                    ),
                ));
                continue;
            };
            match (&entry.arguments, &op.arguments) {
                (Some(compiled), Some(arguments)) => {
                    issues.extend(schema_issues(&compiled.validator, arguments, &args_path))
                }
                // Absent arguments are checked as `{}`, so required arguments are reported.
                (Some(compiled), None) => issues.extend(schema_issues(
                    &compiled.validator,
                    &Value::Object(Map::new()),
                    &args_path,
                )),
                (None, Some(Value::Object(map))) if !map.is_empty() => {
                    issues.push(Issue::new(args_path, "This operation takes no arguments"))
                }
                (None, _) => {}
            }
        }
    }

    let webhook_url = optional_string(object, "webhookUrl", "webhookUrl", &mut issues);
    if let Some(url) = &webhook_url {
        if !valid_webhook_url(url) {
            issues.push(Issue::new("webhookUrl", "must be a valid URL"));
        }
    }
    let return_url = optional_string(object, "returnUrl", "returnUrl", &mut issues);
    if let Some(url) = &return_url {
        if !valid_return_url(url) {
            issues.push(Issue::new(
                "returnUrl",
                "must be an https:// URL or a custom scheme URL (e.g. myapp://done)",
            ));
        }
    }
    let external_user_id = optional_string(object, "externalUserId", "externalUserId", &mut issues);
    let debug = match object.get("debug") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            issues.push(Issue::new("debug", expected("boolean", other)));
            false
        }
    };
    let expires_in = match object.get("expiresIn") {
        None => None,
        Some(value) => match value.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                issues.push(Issue::new("expiresIn", "must be a positive integer"));
                None
            }
        },
    };

    if !issues.is_empty() {
        return Err(issues);
    }
    match integration_id {
        Some(integration_id) => Ok(CreateLinkRequest {
            integration_id,
            operations: operations.into_iter().map(|(_, op)| op).collect(),
            webhook_url,
            return_url,
            external_user_id,
            debug,
            expires_in,
        }),
        // A missing integrationId always pushed an issue above.
        None => Err(vec![Issue::new("integrationId", "Required")]),
    }
}

/// Reads `resource`, `action`, `arguments` from an operation object (or the top level).
fn read_operation(
    object: &Map<String, Value>,
    prefix: &str,
    issues: &mut Vec<Issue>,
) -> Option<RequestedOperation> {
    let resource = required_string(object, "resource", &format!("{prefix}resource"), issues);
    let action = required_string(object, "action", &format!("{prefix}action"), issues);
    let arguments = match object.get("arguments") {
        None => None,
        Some(Value::Object(map)) => Some(Value::Object(map.clone())),
        Some(other) => {
            issues.push(Issue::new(
                format!("{prefix}arguments"),
                expected("object", other),
            ));
            return None;
        }
    };
    Some(RequestedOperation {
        resource: resource?,
        action: action?,
        arguments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> Registry {
        Registry::compile(&crate::config::pinned_catalog()).unwrap()
    }

    #[test]
    fn return_url_rules() {
        assert!(valid_return_url("https://app.example.com/done"));
        assert!(valid_return_url("myapp://done"));
        assert!(valid_return_url("http://127.0.0.1:8080/done"));
        assert!(!valid_return_url("http://example.com/done"));
        assert!(!valid_return_url("javascript:alert(1)"));
        assert!(!valid_return_url("not a url"));
    }

    #[test]
    fn nested_argument_paths_are_dotted() {
        let body = json!({"integrationId":"tmobile","operations":[
            {"resource":"paymentMethod","action":"read"},
            {"resource":"paymentMethod","action":"write","arguments":{"cardNumber":"4111111111111111","expirationDate":"12/28","nameOnCard":"J","billingZip":"10001","bogus":1}}]});
        let issues = validate_create(&registry(), &body).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"operations.1.arguments.cvv"), "{issues:?}");
        assert!(
            paths.contains(&"operations.1.arguments.bogus"),
            "{issues:?}"
        );
    }

    #[test]
    fn masked_messages_do_not_echo_card_data() {
        let body = json!({"integrationId":"tmobile","operations":[
            {"resource":"paymentMethod","action":"write","arguments":{"cardNumber":"4111-SECRET-1111","expirationDate":"1228","cvv":"SECRETCVV","nameOnCard":"J","billingZip":"10001"}}]});
        let issues = validate_create(&registry(), &body).unwrap_err();
        let text = format!("{issues:?}");
        assert!(!text.contains("SECRET"), "{text}");
    }
}
