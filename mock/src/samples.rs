//! Sample result data for a link: one instance per operation generated from its result schema by
//! `passage-samples`, deterministic per (config seed, link id, operation index), and checked
//! against the schema before use.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::MockError;
use crate::store::Link;
use crate::validation::{schema_issues, Registry};

/// The generator seed of operation `index` of link `link_id`.
fn operation_seed(seed: u64, link_id: &str, index: usize) -> u64 {
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(link_id.as_bytes())
        .chain_update((index as u64).to_le_bytes())
        .finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// Sample data for each operation of `link`, in order.
///
/// An operation the catalog publishes no result schema for gets `{}`.
pub(crate) fn operation_samples(
    registry: &Registry,
    seed: u64,
    link: &Link,
) -> Result<Vec<Value>, MockError> {
    link.operations
        .iter()
        .enumerate()
        .map(|(index, op)| {
            let fail = |message: String| MockError::Sample {
                integration: link.integration_id.clone(),
                resource: op.resource.clone(),
                action: op.action.clone(),
                message,
            };
            let Some(compiled) = registry
                .operation(&link.integration_id, &op.resource, &op.action)
                .and_then(|entry| entry.result.as_ref())
            else {
                return Ok(Value::Object(Map::new()));
            };
            // Realistic values: a person reads these in the sandbox page and in demos.
            let value = passage_samples::sample_with(
                &compiled.schema,
                operation_seed(seed, &link.id, index),
                &passage_samples::SampleOptions::realistic(),
            )
            .map_err(|err| fail(err.to_string()))?;
            if let Some(issue) = schema_issues(&compiled.validator, &value, "").first() {
                return Err(fail(format!(
                    "generated data violates the result schema at `{}`: {}",
                    if issue.path.is_empty() {
                        "$"
                    } else {
                        &issue.path
                    },
                    issue.message
                )));
            }
            Ok(value)
        })
        .collect()
}

/// The link `result` made of per-operation data: the data itself for a single-operation link,
/// `{"operations":[{"resource","action","data"}...]}` for several.
pub(crate) fn assemble_result(link: &Link, mut data: Vec<Value>) -> Value {
    if link.operations.len() == 1 && data.len() == 1 {
        return data.remove(0);
    }
    json!({
        "operations": link
            .operations
            .iter()
            .zip(data)
            .map(|(op, data)| json!({"resource": op.resource, "action": op.action, "data": data}))
            .collect::<Vec<_>>()
    })
}

/// A whole sample `result` for `link`.
pub(crate) fn sample_result(
    registry: &Registry,
    seed: u64,
    link: &Link,
) -> Result<Value, MockError> {
    let data = operation_samples(registry, seed, link)?;
    Ok(assemble_result(link, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_per_link_and_operation() {
        assert_ne!(
            operation_seed(1, "link_a", 0),
            operation_seed(1, "link_a", 1)
        );
        assert_ne!(
            operation_seed(1, "link_a", 0),
            operation_seed(1, "link_b", 0)
        );
        assert_ne!(
            operation_seed(1, "link_a", 0),
            operation_seed(2, "link_a", 0)
        );
        assert_eq!(
            operation_seed(1, "link_a", 0),
            operation_seed(1, "link_a", 0)
        );
    }
}
