//! The provider catalog model: the envelope of `GET /v1/providers`.
//!
//! This is the one place the SDK defines that envelope, so that adapting to a changed envelope is a
//! one-file change. The code generator, the runtime client (`providers().list()`) and the emulator
//! all read and write the catalog through these types.
//!
//! The live envelope is **undocumented**; the shape here follows the TypeScript types Passage
//! publishes. We read it tolerantly: unknown keys anywhere in the envelope (a logo, a version...) are
//! kept in `extra` maps and written back unchanged, while a missing or mistyped required field fails
//! with [`CatalogError::Envelope`] naming the field's JSON path.
//!
//! ```
//! let json = br#"{"providers":[{"id":"tmobile","name":"T-Mobile","resources":[
//!   {"name":"paymentMethod","operations":{"read":{"description":"Read cards","arguments":null,
//!    "result":{"type":"object"}}}}]}]}"#;
//! let catalog = passage_catalog::Catalog::from_slice(json).unwrap();
//! let op = catalog.operations().next().unwrap();
//! assert_eq!((op.integration, op.resource, op.action), ("tmobile", "paymentMethod", "read"));
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The catalog pinned in the repository (`catalog/providers.json`), as committed: what
/// `passage-generated` was generated from and what the emulator serves by default. It ships inside
/// this crate, so crates built on it stay packageable on their own.
///
/// ```
/// let catalog = passage_catalog::Catalog::from_slice(passage_catalog::PINNED_JSON.as_bytes()).unwrap();
/// assert!(catalog.operations().any(|op| op.integration == "tmobile"));
/// ```
pub const PINNED_JSON: &str = include_str!("../providers.json");

/// Errors reading a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The bytes are JSON, but a required field is missing or has the wrong type.
    #[error("catalog envelope: at `{path}`: {message}")]
    Envelope {
        /// JSON path of the offending field, e.g. `providers[0].resources[1].name`.
        path: String,
        /// What serde found wrong there.
        message: String,
    },
    /// An operation names an action key that is empty, or a provider id is empty.
    #[error("catalog envelope: at `{path}`: {message}")]
    Invalid {
        /// JSON path of the offending value.
        path: String,
        /// Why the value is not acceptable.
        message: String,
    },
}

/// A `GET /v1/providers` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Every integration Passage offers.
    pub providers: Vec<Provider>,
    /// Envelope keys this model does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One integration (Passage calls it a provider), e.g. `tmobile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// The integration id used in `POST /v1/links` (`integrationId`); may contain `-`.
    pub id: String,
    /// Human-readable name, e.g. `T-Mobile`.
    pub name: String,
    /// The resources this integration exposes.
    pub resources: Vec<Resource>,
    /// Keys this model does not know (a logo, a version...), kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A resource of an integration, e.g. `paymentMethod`, with its operations keyed by action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Resource name as used in `operations[].resource`.
    pub name: String,
    /// Operations keyed by action (`read`, `write`, ...). Ordered, so output is deterministic.
    pub operations: BTreeMap<String, OperationSpec>,
    /// Keys this model does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One operation's description and schemas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationSpec {
    /// What the operation does. Absent in some entries: treated as no description (and left
    /// absent when written back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the operation's `arguments`; `null` when it takes none.
    #[serde(default)]
    pub arguments: Option<Value>,
    /// JSON Schema of the operation's result data; `null` when Passage publishes none.
    #[serde(default)]
    pub result: Option<Value>,
    /// Keys this model does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A borrowed view of one operation with the integration and resource it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct CatalogOperation<'a> {
    /// The integration id, e.g. `tmobile`.
    pub integration: &'a str,
    /// The integration's display name.
    pub integration_name: &'a str,
    /// The resource, e.g. `paymentMethod`.
    pub resource: &'a str,
    /// The action, e.g. `read`.
    pub action: &'a str,
    /// Schemas and description.
    pub spec: &'a OperationSpec,
}

impl Catalog {
    /// Parses a catalog from JSON bytes, naming the JSON path of any envelope error.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CatalogError> {
        // A plain parse first: path tracking costs on every value (a 2,000-operation catalog is
        // parsed several times per regen), and only a failure needs the path, so the bytes are
        // parsed again with it then. The error is the tracked parse's either way.
        let catalog = match serde_json::from_slice::<Catalog>(bytes) {
            Ok(catalog) => catalog,
            Err(_) => Self::parse_tracked(bytes)?,
        };
        catalog.validate()?;
        Ok(catalog)
    }

    /// The parse of [`Catalog::from_slice`] with the JSON path of a failure.
    fn parse_tracked(bytes: &[u8]) -> Result<Self, CatalogError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let catalog: Catalog =
            serde_path_to_error::deserialize(&mut de).map_err(|err| CatalogError::Envelope {
                path: display_path(&err.path().to_string()),
                message: err.inner().to_string(),
            })?;
        de.end().map_err(|err| CatalogError::Envelope {
            path: "$".into(),
            message: err.to_string(),
        })?;
        Ok(catalog)
    }

    /// Parses a catalog from an already-parsed JSON value.
    pub fn from_value(value: Value) -> Result<Self, CatalogError> {
        let catalog: Catalog =
            serde_path_to_error::deserialize(value).map_err(|err| CatalogError::Envelope {
                path: display_path(&err.path().to_string()),
                message: err.inner().to_string(),
            })?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Serializes the catalog as pretty JSON with a trailing newline (the pinned file's format).
    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a catalog always serializes");
        text.push('\n');
        text
    }

    /// Every operation, in catalog order.
    pub fn operations(&self) -> impl Iterator<Item = CatalogOperation<'_>> + '_ {
        self.providers.iter().flat_map(|provider| {
            provider.resources.iter().flat_map(move |resource| {
                resource
                    .operations
                    .iter()
                    .map(move |(action, spec)| CatalogOperation {
                        integration: &provider.id,
                        integration_name: &provider.name,
                        resource: &resource.name,
                        action,
                        spec,
                    })
            })
        })
    }

    /// Looks an operation up by integration, resource and action.
    pub fn operation(
        &self,
        integration: &str,
        resource: &str,
        action: &str,
    ) -> Option<CatalogOperation<'_>> {
        self.operations().find(|op| {
            op.integration == integration && op.resource == resource && op.action == action
        })
    }

    /// Looks a provider up by id.
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }

    fn validate(&self) -> Result<(), CatalogError> {
        for (i, provider) in self.providers.iter().enumerate() {
            if provider.id.trim().is_empty() {
                return Err(CatalogError::Invalid {
                    path: format!("providers[{i}].id"),
                    message: "integration id is empty".into(),
                });
            }
            for (j, resource) in provider.resources.iter().enumerate() {
                if resource.name.trim().is_empty() {
                    return Err(CatalogError::Invalid {
                        path: format!("providers[{i}].resources[{j}].name"),
                        message: "resource name is empty".into(),
                    });
                }
                for action in resource.operations.keys() {
                    if action.trim().is_empty() {
                        return Err(CatalogError::Invalid {
                            path: format!("providers[{i}].resources[{j}].operations"),
                            message: "an action key is empty".into(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        "$".to_string()
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_required_field_names_its_path() {
        let err = Catalog::from_slice(
            br#"{"providers":[{"id":"x","name":"X","resources":[{"operations":{}}]}]}"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("providers[0].resources[0]"), "{text}");
        assert!(text.contains("name"), "{text}");
    }

    #[test]
    fn mistyped_field_names_its_path() {
        let err = Catalog::from_slice(br#"{"providers":[{"id":7,"name":"X","resources":[]}]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("providers[0].id"), "{err}");
    }

    #[test]
    fn text_after_the_catalog_is_refused_at_the_root() {
        let err = Catalog::from_slice(br#"{"providers":[]} x"#).unwrap_err();
        assert!(
            matches!(&err, CatalogError::Envelope { path, .. } if path == "$"),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let json = r#"{"providers":[{"id":"x","name":"X","logo":"l.png","resources":[{"name":"r","v":2,"operations":{"read":{"arguments":null,"result":null,"beta":true}}}]}],"version":"3"}"#;
        let catalog = Catalog::from_slice(json.as_bytes()).unwrap();
        let back: Value = serde_json::from_str(&catalog.to_pretty_json()).unwrap();
        let orig: Value = serde_json::from_str(json).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn empty_integration_id_is_rejected() {
        let err = Catalog::from_slice(br#"{"providers":[{"id":" ","name":"X","resources":[]}]}"#)
            .unwrap_err();
        assert!(matches!(err, CatalogError::Invalid { .. }));
    }

    #[test]
    fn pinned_catalog_parses() {
        let bytes = include_bytes!("../providers.json");
        let catalog = Catalog::from_slice(bytes).unwrap();
        for (integration, resource, action) in [
            ("tmobile", "mobileBillingStatement", "read"),
            ("att", "paymentMethod", "write"),
            ("verizon", "paymentMethod", "read"),
            ("ubereats", "orderHistory", "read"),
            ("apple-review", "readHistory", "read"),
        ] {
            assert!(catalog.operation(integration, resource, action).is_some());
        }
    }
}
