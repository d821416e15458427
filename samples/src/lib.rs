//! Deterministic JSON instances generated from JSON Schemas.
//!
//! The emulator uses this crate to make sample result data for every operation of the catalog, and
//! the property tests use it to check that values valid against an operation's schema (and
//! "drifted" values: unknown fields, unknown enum values, unknown discriminator tags) decode into
//! the generated Rust types.
//!
//! Output is a pure function of the schema, the seed and the [`SampleOptions`]: the same inputs
//! give byte-identical JSON. Different seeds vary the output (optional properties present or not,
//! union branches, array lengths, numbers near their bounds, floats with many significant digits).
//!
//! Both draft-07 and draft 2020-12 forms are understood, as a TypeScript (zod) backend emits them:
//! `type` as a string or an array, `anyOf`/`oneOf`/`allOf`, `enum`, `const`, `$ref` to
//! `#/definitions/..`, `#/$defs/..` and `#` (recursion bounded by [`SampleOptions::max_depth`]),
//! tuples as `prefixItems` or as array-form `items`, records as `additionalProperties: {schema}`,
//! numeric bounds in both the numeric and the draft-4 boolean `exclusiveMinimum` forms, string
//! `format`s (`date`, `date-time`, `time`, `email`, `uri`, `uuid`, `ipv4`, `hostname`) and
//! `pattern`s. Keywords it cannot honour (`not`, `if`, `patternProperties`, `contains`...) give
//! [`SampleError::Unsupported`]; no input makes it panic or loop forever.
//!
//! ```
//! use passage_samples::{sample, sample_with, SampleOptions};
//! use serde_json::json;
//!
//! let schema = json!({
//!     "type": "object",
//!     "properties": {
//!         "kind": { "type": "string", "enum": ["open", "paid"] },
//!         "amount": { "type": "number", "minimum": 0 }
//!     },
//!     "required": ["kind", "amount"],
//!     "additionalProperties": false
//! });
//! let value = sample(&schema, 7).unwrap();
//! assert!(["open", "paid"].contains(&value["kind"].as_str().unwrap()));
//! assert!(value["amount"].as_f64().unwrap() >= 0.0);
//! // Same schema, seed and options: the same bytes.
//! assert_eq!(value, sample(&schema, 7).unwrap());
//!
//! // Drifted data: an unknown key in every object and enum values the schema does not list.
//! let drifted = sample_with(&schema, 7, &SampleOptions::drifted()).unwrap();
//! assert!(drifted.as_object().unwrap().keys().any(|k| k.starts_with("unknownField_")));
//! assert!(!["open", "paid"].contains(&drifted["kind"].as_str().unwrap()));
//! ```
#![deny(missing_docs)]

mod check;
mod coherent;
mod generator;
mod json_eq;
mod merge;
mod numeric;
mod realistic;
mod text;

pub use json_eq::{json_diff, json_eq};

use serde_json::Value;

/// How to generate samples. `Default` gives values valid against the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleOptions {
    /// Add one unknown key (`"unknownField_<n>": <random JSON>`) to every object, even closed ones
    /// (`additionalProperties: false`). The output is then, on purpose, not valid against closed
    /// schemas: it models an API that added fields. Typed records
    /// (`additionalProperties: {schema}`) get the unknown key too, with a value of their value
    /// schema (a new key is the drift a record sees).
    pub unknown_fields: bool,
    /// Replace every string picked from an `enum` by a string the enum does not list
    /// (`"unlisted_<n>"`): it models an API that added enum values.
    pub unknown_enum_values: bool,
    /// Replace every string `const` (typically a discriminator tag) by a different string
    /// (`"unlisted_<n>"`): it models an API that added union variants.
    pub unknown_const_values: bool,
    /// How many `$ref` hops deep to generate freely. Past it, arrays get their minimum length,
    /// optional properties are omitted and unions take their cheapest branch (`null` if allowed).
    pub max_depth: usize,
    /// The largest number of extra items in arrays and of keys in records, when the schema does not
    /// demand more.
    pub max_items: usize,
    /// Values a person would believe, for demos and the emulator: the schema's `examples` and
    /// `default` first, then values chosen by property name and `format` (ISO 4217 currencies,
    /// real calendar dates in the shape a pattern asks for, amounts in cents, names, addresses),
    /// arrays of at least one item, and free text made of whole neutral words only (random
    /// syllables can spell offensive words). Still valid against the schema and deterministic
    /// by seed. Off by default: property tests want the edge cases (bounds, escapes, empty
    /// arrays) the plain generator favours.
    pub realistic: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            unknown_fields: false,
            unknown_enum_values: false,
            unknown_const_values: false,
            max_depth: 4,
            max_items: 3,
            realistic: false,
        }
    }
}

impl SampleOptions {
    /// The default options with every kind of drift switched on (unknown fields, unknown enum
    /// values, unknown `const` values).
    pub fn drifted() -> Self {
        Self {
            unknown_fields: true,
            unknown_enum_values: true,
            unknown_const_values: true,
            ..Self::default()
        }
    }

    /// The default options with [`realistic`](Self::realistic) values: what the emulator serves.
    ///
    /// ```
    /// use passage_samples::{sample_with, SampleOptions};
    /// let schema = serde_json::json!({"type": "object", "required": ["currency", "dueDate"],
    ///     "properties": {"currency": {"type": "string"},
    ///                    "dueDate": {"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$"}}});
    /// let value = sample_with(&schema, 1, &SampleOptions::realistic()).unwrap();
    /// assert!(["USD", "EUR", "GBP", "CAD", "AUD", "JPY"].contains(&value["currency"].as_str().unwrap()));
    /// let month: u32 = value["dueDate"].as_str().unwrap()[..2].parse().unwrap();
    /// assert!((1..=12).contains(&month));
    /// ```
    pub fn realistic() -> Self {
        Self {
            realistic: true,
            ..Self::default()
        }
    }

    /// Whether any drift option is on, i.e. whether the output may be invalid on purpose.
    pub fn any_drift(&self) -> bool {
        self.unknown_fields || self.unknown_enum_values || self.unknown_const_values
    }
}

/// Why no sample could be generated. Every variant names the place in the schema as an
/// RFC 6901 JSON pointer (`""` for the root, `"/properties/billing/items"`...); `Display` shows it
/// as a URI fragment (`#/properties/billing/items`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// The schema uses a keyword this generator does not implement (`not`, `if`/`then`/`else`,
    /// `patternProperties`, `contains`...), or combines keywords in `allOf` in a way it cannot merge.
    #[error("unsupported keyword `{keyword}` at schema #{pointer}")]
    Unsupported {
        /// JSON pointer of the schema object holding the keyword.
        pointer: String,
        /// The keyword.
        keyword: String,
    },
    /// A `$ref` that does not resolve inside the schema document (only `#` and `#/json/pointer`
    /// references are supported).
    #[error("unresolvable $ref `{reference}` at schema #{pointer}")]
    BadRef {
        /// JSON pointer of the schema object holding the `$ref`.
        pointer: String,
        /// The reference as written.
        reference: String,
    },
    /// No value satisfies the schema, or none was found: contradictory bounds, `false`, an empty
    /// `enum`, recursion without a base case, a pattern and a format no string satisfies together.
    #[error("cannot satisfy schema #{pointer}: {reason}")]
    Unsatisfiable {
        /// JSON pointer of the schema that cannot be satisfied.
        pointer: String,
        /// What could not be satisfied.
        reason: String,
    },
    /// A keyword has a value of the wrong type (`"minimum": "3"`, `"required": {}`), or a schema
    /// is neither an object nor a boolean.
    #[error("invalid schema at #{pointer}: {reason}")]
    InvalidSchema {
        /// JSON pointer of the offending schema object or keyword.
        pointer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `pattern` that the `regex` crate cannot compile (look-arounds, back-references, bad
    /// syntax).
    #[error("unusable pattern `{pattern}` at schema #{pointer}: {message}")]
    BadPattern {
        /// JSON pointer of the schema object holding the pattern.
        pointer: String,
        /// The pattern as written (ECMA-262 syntax).
        pattern: String,
        /// Why it could not be used.
        message: String,
    },
}

impl SampleError {
    /// The JSON pointer (RFC 6901) of the schema location the error is about.
    pub fn pointer(&self) -> &str {
        match self {
            Self::Unsupported { pointer, .. }
            | Self::BadRef { pointer, .. }
            | Self::Unsatisfiable { pointer, .. }
            | Self::InvalidSchema { pointer, .. }
            | Self::BadPattern { pointer, .. } => pointer,
        }
    }
}

/// Generates one instance of `schema` with the default options (valid, no drift).
///
/// ```
/// let schema = serde_json::json!({"type": "array", "items": {"type": "integer"}, "maxItems": 2});
/// let value = passage_samples::sample(&schema, 1).unwrap();
/// assert!(value.as_array().unwrap().len() <= 2);
/// ```
pub fn sample(schema: &Value, seed: u64) -> Result<Value, SampleError> {
    sample_with(schema, seed, &SampleOptions::default())
}

/// Generates one instance of `schema` with the given options.
///
/// `$ref`s resolve against `schema` itself (the document root).
///
/// ```
/// use passage_samples::{sample_with, SampleOptions};
/// let schema = serde_json::json!({"type": "object", "properties": {"tag": {"const": "pickup"}},
///                                 "required": ["tag"]});
/// let options = SampleOptions { unknown_const_values: true, ..SampleOptions::default() };
/// let value = sample_with(&schema, 3, &options).unwrap();
/// assert_ne!(value["tag"], "pickup");
/// ```
pub fn sample_with(
    schema: &Value,
    seed: u64,
    options: &SampleOptions,
) -> Result<Value, SampleError> {
    let value = generator::Generator::new(schema, seed, options).generate()?;
    if !options.realistic {
        return Ok(value);
    }
    // Realistic values are chosen field by field: make the document hold together (one
    // currency, consecutive monthly periods), and keep that only if the schema still agrees.
    let mut coherent = value.clone();
    if coherent::cohere(&mut coherent)
        && generator::Generator::new(schema, seed, options).check(schema, &coherent)
    {
        return Ok(coherent);
    }
    Ok(value)
}
