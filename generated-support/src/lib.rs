//! Support code of the generated crate `passage-generated`: everything its generated code needs
//! that does not depend on the catalog, compiled, linted and tested here once instead of being
//! emitted into every generated crate (as `progenitor-client` is for progenitor's clients).
//!
//! - [`OperationInfo`] and [`OperationArguments`]: the registry entry of an operation and the
//!   trait of every generated arguments type.
//! - [`DecodeError`] and [`decode`]: decoding bytes into a generated type, with the JSON path of a
//!   failure and the raw JSON kept.
//! - The `serde` helpers generated types name in their attributes: [`integer`] and [`Integer`]
//!   (lenient integers), [`double_option`], [`present`], [`unique_map`].
//! - [`UnknownFields`]: the `extra` field of generated structs (the members a schema does not
//!   declare), one pointer wide until one is kept.
//! - [`open_struct!`] and [`open_enum!`]: `Deserialize` of structs that keep unknown fields and of
//!   string enums that keep unknown values.
//! - [`read_union`] and [`RawUnion`]: what the generated unions' `Deserialize` impls call (the
//!   value as raw text, its tag or kind, a variant decoded from it).
//!
//! The generated crate re-exports this crate as its hidden `__private` module, so generated code
//! names it as `crate::__private::…`. Knows nothing of typify, the catalog or HTTP. Not a public
//! API for anything but `passage-generated`: use `passage-generated` or `passage-connect`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
// `DecodeError` keeps the path and the raw JSON by value: a cold path, and boxing would change
// the public API.
#![allow(clippy::result_large_err)]

mod decode;
mod fields;
mod open_enum;
mod open_struct;
mod operation;
mod unions;
mod unknown_fields;

pub use decode::{decode, DecodeError};
pub use fields::{double_option, integer, present, unique_map, Integer, LenientInteger};
pub use open_enum::deserialize_open_enum;
pub use open_struct::{missing_field, Extra, FieldName, Key, KeySeed};
pub use operation::{OperationArguments, OperationInfo};
pub use unions::{read_union, RawUnion};
pub use unknown_fields::UnknownFields;
