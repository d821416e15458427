//! The sampling walk: one `Generator` per `sample_with` call, holding the seeded RNG, the options
//! and caches, and dispatching each schema node to the object, array, string or number generators.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::text::PatternCache;
use crate::{numeric, realistic, text, SampleError, SampleOptions};

/// How many `gen` frames may nest before we give up (keeps the stack bounded on any input).
const NEST_LIMIT: usize = 128;
/// How many `$ref` hops past `max_depth` cheap mode may take before recursion is declared endless.
const REF_OVERRUN: usize = 24;
/// Schema nodes visited before the generator switches to cheap mode for the rest of the value,
/// so that deeply nested (non-recursive) schemas cannot blow up exponentially.
const NODE_BUDGET: usize = 20_000;
/// Schema nodes visited after which generation fails: the smallest instance is too large.
const NODE_LIMIT: usize = 100_000;
/// Largest `minItems` / `minLength` / `minProperties` honoured.
pub(crate) const MAX_LEN: usize = 10_000;
/// Nesting of the random values made for `{}` / `true` schemas and unknown fields.
const ANY_DEPTH: usize = 2;
/// Attempts at an `allOf` value that satisfies every branch.
const ALL_OF_TRIES: usize = 4;
/// Attempts per `oneOf` branch at a value that matches no other branch.
const ONE_OF_TRIES: usize = 8;

/// Keywords this generator refuses rather than silently producing invalid data.
const UNSUPPORTED: &[&str] = &[
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentSchemas",
    "dependentRequired",
    "dependencies",
    "contains",
    "minContains",
    "maxContains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicRef",
    "$recursiveRef",
];

/// Keywords that never constrain an instance.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$anchor",
    "$dynamicAnchor",
    "$comment",
    "$vocabulary",
    "title",
    "description",
    "default",
    "examples",
    "example",
    "definitions",
    "$defs",
    "readOnly",
    "writeOnly",
    "deprecated",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "nullable",
    "discriminator",
];

/// Whether `key` is an annotation (or an `x-` extension) rather than a constraint.
pub(crate) fn is_annotation(key: &str) -> bool {
    ANNOTATIONS.contains(&key) || key.starts_with("x-")
}

/// Whether `map` holds any constraint keyword other than those in `ignore`.
pub(crate) fn has_constraints(map: &Map<String, Value>, ignore: &[&str]) -> bool {
    map.keys()
        .any(|k| !is_annotation(k) && !ignore.contains(&k.as_str()))
}

/// `ptr` extended by one reference token, escaped per RFC 6901.
pub(crate) fn child(ptr: &str, token: &str) -> String {
    let mut out = String::with_capacity(ptr.len() + token.len() + 1);
    out.push_str(ptr);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn unsat(ptr: &str, reason: impl Into<String>) -> SampleError {
    SampleError::Unsatisfiable {
        pointer: ptr.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn invalid(ptr: &str, reason: impl Into<String>) -> SampleError {
    SampleError::InvalidSchema {
        pointer: ptr.to_string(),
        reason: reason.into(),
    }
}

/// Reads a non-negative integer keyword (`minItems`, `maxLength`...).
pub(crate) fn usize_kw(
    map: &Map<String, Value>,
    key: &str,
    ptr: &str,
) -> Result<Option<usize>, SampleError> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => {
            if let Some(n) = v.as_u64() {
                Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
            } else if let Some(f) = v.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0) {
                // `2.0` is an integer in draft 6+; saturate huge values.
                Ok(Some(if f >= usize::MAX as f64 {
                    usize::MAX
                } else {
                    f as usize
                }))
            } else {
                Err(invalid(
                    &child(ptr, key),
                    format!("`{key}` must be a non-negative integer, found {v}"),
                ))
            }
        }
    }
}

/// Reads a string keyword (`pattern`, `format`).
pub(crate) fn str_kw<'m>(
    map: &'m Map<String, Value>,
    key: &str,
    ptr: &str,
) -> Result<Option<&'m str>, SampleError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(invalid(
            &child(ptr, key),
            format!("`{key}` must be a string, found {v}"),
        )),
    }
}

/// The JSON types of the `type` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum JsonType {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "null" => Self::Null,
            "boolean" => Self::Boolean,
            "integer" => Self::Integer,
            "number" => Self::Number,
            "string" => Self::String,
            "array" => Self::Array,
            "object" => Self::Object,
            _ => return None,
        })
    }
}

/// Where the walk is: `$ref` hops and frame nesting on the current path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    refs: usize,
    nest: usize,
}

/// What an object allows beyond its `properties`.
enum Additional<'s> {
    /// `additionalProperties` absent: allowed, but we add none (keeps samples readable).
    Unspecified,
    /// `additionalProperties: false`.
    Closed,
    /// `additionalProperties: true` or a schema: a record, filled with 0..=max_items keys.
    Schema(&'s Value),
}

pub(crate) struct Generator<'a> {
    pub(crate) root: &'a Value,
    pub(crate) options: &'a SampleOptions,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) patterns: PatternCache,
    drift_counter: u64,
    nodes: usize,
}

impl<'a> Generator<'a> {
    pub(crate) fn new(root: &'a Value, seed: u64, options: &'a SampleOptions) -> Self {
        Self {
            root,
            options,
            rng: ChaCha8Rng::seed_from_u64(seed),
            patterns: PatternCache::default(),
            drift_counter: 0,
            nodes: 0,
        }
    }

    pub(crate) fn generate(mut self) -> Result<Value, SampleError> {
        let root = self.root;
        self.gen(root, "", Ctx { refs: 0, nest: 0 })
    }

    fn cheap(&self, ctx: Ctx) -> bool {
        ctx.refs > self.options.max_depth || self.nodes > NODE_BUDGET
    }

    /// Generates an instance of `schema`, found at `ptr` in the root document.
    pub(crate) fn gen(
        &mut self,
        schema: &Value,
        ptr: &str,
        ctx: Ctx,
    ) -> Result<Value, SampleError> {
        if ctx.nest >= NEST_LIMIT {
            return Err(unsat(
                ptr,
                format!("schema nesting deeper than {NEST_LIMIT} levels"),
            ));
        }
        self.nodes += 1;
        if self.nodes > NODE_LIMIT {
            return Err(unsat(
                ptr,
                format!("the instance would exceed {NODE_LIMIT} values"),
            ));
        }
        let ctx = Ctx {
            nest: ctx.nest + 1,
            ..ctx
        };
        let map = match schema {
            Value::Bool(true) => return Ok(self.gen_any(ANY_DEPTH)),
            Value::Bool(false) => return Err(unsat(ptr, "the schema `false` admits no value")),
            Value::Object(map) => map,
            other => {
                return Err(invalid(
                    ptr,
                    format!("a schema must be an object or a boolean, found {other}"),
                ))
            }
        };
        if let Some(keyword) = UNSUPPORTED.iter().find(|k| map.contains_key(**k)) {
            return Err(SampleError::Unsupported {
                pointer: ptr.to_string(),
                keyword: (*keyword).to_string(),
            });
        }
        if let Some(reference) = map.get("$ref") {
            return self.gen_ref(map, reference, ptr, ctx);
        }
        if let Some(all_of) = map.get("allOf") {
            let branches = all_of
                .as_array()
                .ok_or_else(|| invalid(&child(ptr, "allOf"), "`allOf` must be an array"))?;
            let all_ptr = child(ptr, "allOf");
            let mut rest = map.clone();
            rest.remove("allOf");
            let rest = Value::Object(rest);
            let mut parts: Vec<(&Value, String)> = vec![(&rest, ptr.to_string())];
            for (i, branch) in branches.iter().enumerate() {
                parts.push((branch, child(&all_ptr, &i.to_string())));
            }
            return self.gen_all_of(&parts, ptr, ctx);
        }
        if map.contains_key("anyOf") {
            return self.gen_union(map, "anyOf", ptr, ctx);
        }
        if map.contains_key("oneOf") {
            return self.gen_union(map, "oneOf", ptr, ctx);
        }
        self.gen_plain(map, ptr, ctx)
    }

    /// Resolves a `$ref` (`#`, `#/json/pointer`, percent-encoded or not) against the root.
    pub(crate) fn resolve(
        &self,
        reference: &str,
        ptr: &str,
    ) -> Result<(&'a Value, String), SampleError> {
        let bad = || SampleError::BadRef {
            pointer: ptr.to_string(),
            reference: reference.to_string(),
        };
        let fragment = reference.strip_prefix('#').ok_or_else(bad)?;
        let decoded = percent_decode(fragment).ok_or_else(bad)?;
        if decoded.is_empty() {
            return Ok((self.root, String::new()));
        }
        if !decoded.starts_with('/') {
            return Err(bad());
        }
        let root: &'a Value = self.root;
        root.pointer(&decoded)
            .map(|target| (target, decoded.clone()))
            .ok_or_else(bad)
    }

    fn gen_ref(
        &mut self,
        map: &Map<String, Value>,
        reference: &Value,
        ptr: &str,
        ctx: Ctx,
    ) -> Result<Value, SampleError> {
        let reference = reference
            .as_str()
            .ok_or_else(|| invalid(&child(ptr, "$ref"), "`$ref` must be a string"))?;
        let (target, target_ptr) = self.resolve(reference, ptr)?;
        let refs = ctx.refs + 1;
        if refs > self.options.max_depth + REF_OVERRUN {
            return Err(unsat(
                ptr,
                format!(
                    "recursion through `$ref` {reference} reached no finite instance within {refs} levels"
                ),
            ));
        }
        let ctx = Ctx { refs, ..ctx };
        if has_constraints(map, &["$ref"]) {
            // Draft 2020-12 applies the siblings of `$ref`, draft-07 ignores them: a value
            // satisfying both is valid under either reading.
            let mut rest = map.clone();
            rest.remove("$ref");
            let rest = Value::Object(rest);
            let parts = [(target, target_ptr), (&rest, ptr.to_string())];
            return self.gen_all_of(&parts, ptr, ctx);
        }
        self.gen(target, &target_ptr, ctx)
    }

    /// Merges the parts (following `$ref` and nested `allOf`), generates from the merged schema
    /// and checks the value against every part, retrying a few times.
    fn gen_all_of(
        &mut self,
        parts: &[(&Value, String)],
        ptr: &str,
        ctx: Ctx,
    ) -> Result<Value, SampleError> {
        let (merged, followed_ref) = crate::merge::merge(self, parts, ptr)?;
        let merged = Value::Object(merged);
        // A `$ref` inlined by the merge counts as a hop, so recursion through `allOf` (or through
        // a union with sibling keywords) reaches cheap mode too.
        let ctx = if followed_ref {
            Ctx {
                refs: ctx.refs + 1,
                ..ctx
            }
        } else {
            ctx
        };
        for _ in 0..ALL_OF_TRIES {
            let value = self.gen(&merged, ptr, ctx)?;
            if self.options.any_drift() || parts.iter().all(|(part, _)| self.check(part, &value)) {
                return Ok(value);
            }
        }
        Err(unsat(
            ptr,
            "no generated value satisfied every `allOf` branch",
        ))
    }

    fn gen_union(
        &mut self,
        map: &Map<String, Value>,
        keyword: &str,
        ptr: &str,
        ctx: Ctx,
    ) -> Result<Value, SampleError> {
        let kw_ptr = child(ptr, keyword);
        let branches = map
            .get(keyword)
            .and_then(Value::as_array)
            .ok_or_else(|| invalid(&kw_ptr, format!("`{keyword}` must be an array")))?;
        if branches.is_empty() {
            return Err(invalid(&kw_ptr, format!("`{keyword}` has no branches")));
        }
        let mut siblings = map.clone();
        siblings.remove(keyword);
        let merge_siblings = has_constraints(&siblings, &[]);
        let siblings = Value::Object(siblings);

        let mut order: Vec<usize> = (0..branches.len()).collect();
        if self.cheap(ctx) {
            let costs: Vec<u32> = branches.iter().map(|b| self.cost(b, 0)).collect();
            order.sort_by_key(|&i| (costs[i], i));
        } else {
            order.shuffle(&mut self.rng);
        }
        let exclusive = keyword == "oneOf" && !self.options.any_drift();
        let mut last_error = None;
        for i in order {
            let branch_ptr = child(&kw_ptr, &i.to_string());
            for _ in 0..if exclusive { ONE_OF_TRIES } else { 1 } {
                let result = if merge_siblings {
                    let parts = [
                        (&siblings, ptr.to_string()),
                        (&branches[i], branch_ptr.clone()),
                    ];
                    self.gen_all_of(&parts, ptr, ctx)
                } else {
                    self.gen(&branches[i], &branch_ptr, ctx)
                };
                match result {
                    Ok(value) => {
                        let clash = exclusive
                            && branches
                                .iter()
                                .enumerate()
                                .any(|(j, other)| j != i && self.check(other, &value));
                        if !clash {
                            return Ok(value);
                        }
                    }
                    Err(err @ SampleError::Unsatisfiable { .. }) => {
                        last_error = Some(err);
                        break;
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            unsat(
                ptr,
                "no value found that matches exactly one `oneOf` branch",
            )
        }))
    }

    /// A rough cost of generating from `schema`, used to pick the cheapest union branch once the
    /// depth budget is spent: `null` first, then scalars, then containers, then references.
    fn cost(&self, schema: &Value, depth: usize) -> u32 {
        let Value::Object(map) = schema else {
            return if schema == &Value::Bool(false) {
                1000
            } else {
                2
            };
        };
        if depth > 3 {
            return 10;
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            return match self.resolve(reference, "") {
                Ok((target, _)) => 5 + self.cost(target, depth + 1),
                Err(_) => 1000,
            };
        }
        if map.contains_key("const") || map.contains_key("enum") {
            return 1;
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = map.get(keyword).and_then(Value::as_array) {
                return 1 + branches
                    .iter()
                    .map(|b| self.cost(b, depth + 1))
                    .min()
                    .unwrap_or(1000);
            }
        }
        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.contains(&"null") {
            0
        } else if types
            .iter()
            .any(|t| matches!(*t, "boolean" | "integer" | "number" | "string"))
        {
            1
        } else if types.contains(&"array") {
            let min_items = map.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            if min_items == 0 {
                2
            } else {
                6
            }
        } else {
            let required = map
                .get("required")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            3 + 3 * u32::try_from(required).unwrap_or(100).min(100)
        }
    }

    /// A schema without `$ref`, `allOf`, `anyOf` or `oneOf`.
    fn gen_plain(
        &mut self,
        map: &Map<String, Value>,
        ptr: &str,
        ctx: Ctx,
    ) -> Result<Value, SampleError> {
        if let Some(constant) = map.get("const") {
            if let Some(values) = map.get("enum") {
                let values = values
                    .as_array()
                    .ok_or_else(|| invalid(&child(ptr, "enum"), "`enum` must be an array"))?;
                if !values.iter().any(|v| crate::json_eq(v, constant)) {
                    return Err(unsat(ptr, "`const` is not one of the `enum` values"));
                }
            }
            if self.options.unknown_const_values && constant.is_string() {
                return Ok(Value::String(
                    self.drift_string(std::slice::from_ref(constant)),
                ));
            }
            return Ok(constant.clone());
        }
        if let Some(values) = map.get("enum") {
            let values = values
                .as_array()
                .ok_or_else(|| invalid(&child(ptr, "enum"), "`enum` must be an array"))?;
            let mut candidates = Vec::new();
            for value in values {
                if self.check_map(map, value, &["enum", "default"]) {
                    candidates.push(value);
                }
            }
            if candidates.is_empty() {
                return Err(unsat(
                    ptr,
                    "no `enum` value satisfies the schema's other keywords",
                ));
            }
            let pick = candidates[self.rng.gen_range(0..candidates.len())];
            if self.options.unknown_enum_values && pick.is_string() {
                return Ok(Value::String(self.drift_string(values)));
            }
            return Ok(pick.clone());
        }
        if self.options.realistic && !self.options.any_drift() {
            if let Some(value) = self.schema_example(map) {
                return Ok(value);
            }
        }
        if let Some(default) = map.get("default") {
            let structured = default.is_object() || default.is_array();
            if !self.cheap(ctx)
                && self.rng.gen_ratio(1, 4)
                && !(self.options.unknown_fields && structured)
                && self.check_map(map, default, &["default"])
            {
                return Ok(default.clone());
            }
        }

        let types = self.types_of(map, ptr)?;
        if types.is_empty() {
            return Ok(self.gen_any(ANY_DEPTH));
        }
        let ty = if self.cheap(ctx) {
            types.iter().copied().min().unwrap_or(JsonType::Null)
        } else {
            types[self.rng.gen_range(0..types.len())]
        };
        if self.options.realistic {
            if let Some(value) = self.realistic_scalar(map, ptr, ty) {
                return Ok(value);
            }
        }
        match ty {
            JsonType::Null => Ok(Value::Null),
            JsonType::Boolean => Ok(Value::Bool(self.rng.gen())),
            JsonType::Integer => numeric::integer(self, map, ptr),
            JsonType::Number => numeric::number(self, map, ptr),
            JsonType::String => text::string(self, map, ptr),
            JsonType::Array => self.gen_array(map, ptr, ctx),
            JsonType::Object => self.gen_object(map, ptr, ctx),
        }
    }

    /// A valid value from the schema's `examples`, else its `default` (realistic mode: what the
    /// schema's author wrote is the most believable value there is).
    fn schema_example(&mut self, map: &Map<String, Value>) -> Option<Value> {
        let examples: Vec<Value> = match map.get("examples") {
            Some(Value::Array(examples)) => examples.clone(),
            _ => Vec::new(),
        };
        let valid: Vec<Value> = examples
            .into_iter()
            .filter(|e| self.check_map(map, e, &["examples", "default"]))
            .collect();
        if !valid.is_empty() {
            let at = self.rng.gen_range(0..valid.len());
            return Some(valid[at].clone());
        }
        let default = map.get("default")?.clone();
        self.check_map(map, &default, &["default", "examples"])
            .then_some(default)
    }

    /// A believable string or number for the property `ptr` names (see [`realistic`]), if one of
    /// the candidates passes every keyword of `map`.
    fn realistic_scalar(
        &mut self,
        map: &Map<String, Value>,
        ptr: &str,
        ty: JsonType,
    ) -> Option<Value> {
        let name = realistic::field_name(ptr);
        let candidates: Vec<Value> = match ty {
            JsonType::String => {
                let format = map.get("format").and_then(Value::as_str);
                realistic::strings(
                    &mut self.rng,
                    name.as_deref(),
                    format,
                    map.contains_key("pattern"),
                )
                .into_iter()
                .map(Value::String)
                .collect()
            }
            JsonType::Number => realistic::numbers(&mut self.rng, name.as_deref(), false),
            JsonType::Integer => realistic::numbers(&mut self.rng, name.as_deref(), true),
            JsonType::Object => realistic::objects(&mut self.rng, name.as_deref()),
            _ => return None,
        };
        candidates
            .into_iter()
            .find(|candidate| self.check_map(map, candidate, &["default", "examples"]))
    }

    /// The types a schema allows: its `type` keyword, or the families its keywords imply
    /// (empty when nothing constrains the type).
    fn types_of(&self, map: &Map<String, Value>, ptr: &str) -> Result<Vec<JsonType>, SampleError> {
        let type_ptr = || child(ptr, "type");
        let parse = |name: &Value| -> Result<JsonType, SampleError> {
            name.as_str()
                .and_then(JsonType::parse)
                .ok_or_else(|| invalid(&type_ptr(), format!("unknown type {name}")))
        };
        match map.get("type") {
            Some(Value::Array(names)) => {
                let mut types = Vec::new();
                for name in names {
                    let ty = parse(name)?;
                    if !types.contains(&ty) {
                        types.push(ty);
                    }
                }
                if types.is_empty() {
                    return Err(unsat(ptr, "`type` is an empty array"));
                }
                Ok(types)
            }
            Some(name) => Ok(vec![parse(name)?]),
            None => {
                let families: [(JsonType, &[&str]); 4] = [
                    (
                        JsonType::Object,
                        &[
                            "properties",
                            "required",
                            "additionalProperties",
                            "minProperties",
                            "maxProperties",
                        ],
                    ),
                    (
                        JsonType::Array,
                        &[
                            "items",
                            "prefixItems",
                            "additionalItems",
                            "minItems",
                            "maxItems",
                            "uniqueItems",
                        ],
                    ),
                    (
                        JsonType::String,
                        &["minLength", "maxLength", "pattern", "format"],
                    ),
                    (
                        JsonType::Number,
                        &[
                            "minimum",
                            "maximum",
                            "exclusiveMinimum",
                            "exclusiveMaximum",
                            "multipleOf",
                        ],
                    ),
                ];
                Ok(families
                    .iter()
                    .filter(|(_, keys)| keys.iter().any(|k| map.contains_key(*k)))
                    .map(|(ty, _)| *ty)
                    .collect())
            }
        }
    }

    fn gen_object(
        &mut self,
        map: &Map<String, Value>,
        ptr: &str,
        ctx: Ctx,
    ) -> Result<Value, SampleError> {
        let cheap = self.cheap(ctx);
        let empty = Map::new();
        let properties = match map.get("properties") {
            None => &empty,
            Some(Value::Object(props)) => props,
            Some(_) => {
                return Err(invalid(
                    &child(ptr, "properties"),
                    "`properties` must be an object",
                ))
            }
        };
        let mut required = BTreeSet::new();
        match map.get("required") {
            None => {}
            Some(Value::Array(names)) => {
                for name in names {
                    let name = name.as_str().ok_or_else(|| {
                        invalid(&child(ptr, "required"), "`required` must hold strings")
                    })?;
                    required.insert(name);
                }
            }
            Some(_) => {
                return Err(invalid(
                    &child(ptr, "required"),
                    "`required` must be an array of strings",
                ))
            }
        }
        let additional = match map.get("additionalProperties") {
            None => Additional::Unspecified,
            Some(Value::Bool(false)) => Additional::Closed,
            Some(schema @ (Value::Bool(true) | Value::Object(_))) => Additional::Schema(schema),
            Some(_) => {
                return Err(invalid(
                    &child(ptr, "additionalProperties"),
                    "`additionalProperties` must be a boolean or a schema",
                ))
            }
        };
        let additional_ptr = child(ptr, "additionalProperties");
        let props_ptr = child(ptr, "properties");

        // Sorted explicitly: the output must not depend on serde_json's `preserve_order` feature.
        let mut names: Vec<&String> = properties.keys().collect();
        names.sort();
        let mut object = Map::new();
        for name in names.iter().copied() {
            let Some(schema) = properties.get(name) else {
                continue;
            };
            let is_required = required.contains(name.as_str());
            if !is_required && (cheap || schema == &Value::Bool(false) || self.rng.gen_bool(0.5)) {
                continue;
            }
            match self.gen(schema, &child(&props_ptr, name), ctx) {
                Ok(value) => {
                    object.insert(name.clone(), value);
                }
                // An optional property that cannot be generated is left out.
                Err(SampleError::Unsatisfiable { .. }) if !is_required => {}
                Err(err) => return Err(err),
            }
        }
        for name in &required {
            if object.contains_key(*name) {
                continue;
            }
            let value = match additional {
                Additional::Closed => {
                    return Err(unsat(
                        ptr,
                        format!(
                            "`{name}` is required but not in `properties` and `additionalProperties` is false"
                        ),
                    ))
                }
                Additional::Unspecified => self.gen_any(ANY_DEPTH),
                Additional::Schema(schema) => self.gen(schema, &additional_ptr, ctx)?,
            };
            object.insert((*name).to_string(), value);
        }
        if let Additional::Schema(schema) = additional {
            let count = if cheap {
                0
            } else {
                self.rng.gen_range(0..=self.options.max_items)
            };
            for _ in 0..count {
                let key = self.fresh_key(&object, properties);
                let value = self.gen(schema, &additional_ptr, ctx)?;
                object.insert(key, value);
            }
        }

        let min_props = usize_kw(map, "minProperties", ptr)?.unwrap_or(0);
        let max_props = usize_kw(map, "maxProperties", ptr)?.unwrap_or(usize::MAX);
        if min_props > MAX_LEN || min_props > max_props {
            return Err(unsat(ptr, "`minProperties` cannot be met"));
        }
        while object.len() < min_props {
            if let Some((name, schema)) = names
                .iter()
                .filter_map(|name| properties.get(*name).map(|schema| (*name, schema)))
                .find(|(name, schema)| {
                    !object.contains_key(*name) && **schema != Value::Bool(false)
                })
            {
                let value = self.gen(schema, &child(&props_ptr, name), ctx)?;
                object.insert(name.clone(), value);
                continue;
            }
            let value = match additional {
                Additional::Closed => return Err(unsat(ptr, "`minProperties` cannot be met")),
                Additional::Unspecified => self.gen_any(ANY_DEPTH),
                Additional::Schema(schema) => self.gen(schema, &additional_ptr, ctx)?,
            };
            let key = self.fresh_key(&object, properties);
            object.insert(key, value);
        }
        if object.len() > max_props {
            let optional: Vec<String> = object
                .keys()
                .filter(|k| !required.contains(k.as_str()))
                .cloned()
                .collect();
            for key in optional.iter().rev() {
                if object.len() <= max_props {
                    break;
                }
                object.remove(key);
            }
            if object.len() > max_props {
                return Err(unsat(
                    ptr,
                    "more properties are required than `maxProperties` allows",
                ));
            }
        }

        // In a typed record (`additionalProperties: {schema}`) the unknown key gets a value of the
        // record's value schema: a new key is the drift a record sees, and a random value would
        // only test that the wrong type is rejected.
        let record_values = match additional {
            Additional::Schema(schema) if has_value_schema(schema) => Some(schema),
            _ => None,
        };
        match record_values {
            Some(schema) if self.options.unknown_fields => {
                let key = self.unknown_key(&object, properties);
                let value = self.gen(schema, &additional_ptr, ctx)?;
                object.insert(key, value);
            }
            _ => self.add_unknown_field(&mut object, properties),
        }
        object.sort_keys();
        Ok(Value::Object(object))
    }

    fn gen_array(
        &mut self,
        map: &Map<String, Value>,
        ptr: &str,
        ctx: Ctx,
    ) -> Result<Value, SampleError> {
        // (schemas of the tuple prefix, schema of the rest: None = no more items allowed)
        let (prefix, prefix_kw, rest, rest_kw): (&[Value], &str, Option<&Value>, &str) =
            match (map.get("prefixItems"), map.get("items")) {
                (Some(Value::Array(prefix)), items) => {
                    let rest = match items {
                        None => Some(&Value::Bool(true)),
                        Some(Value::Bool(false)) => None,
                        Some(schema) => Some(schema),
                    };
                    (prefix, "prefixItems", rest, "items")
                }
                (Some(_), _) => {
                    return Err(invalid(
                        &child(ptr, "prefixItems"),
                        "`prefixItems` must be an array",
                    ))
                }
                (None, Some(Value::Array(prefix))) => {
                    let rest = match map.get("additionalItems") {
                        None => Some(&Value::Bool(true)),
                        Some(Value::Bool(false)) => None,
                        Some(schema) => Some(schema),
                    };
                    (prefix, "items", rest, "additionalItems")
                }
                (None, Some(Value::Bool(false))) => (&[], "items", None, "items"),
                (None, Some(schema)) => (&[], "items", Some(schema), "items"),
                (None, None) => (&[], "items", Some(&Value::Bool(true)), "items"),
            };
        let min_items = usize_kw(map, "minItems", ptr)?.unwrap_or(0);
        let max_items = usize_kw(map, "maxItems", ptr)?.unwrap_or(usize::MAX);
        let max_items = if rest.is_none() {
            max_items.min(prefix.len())
        } else {
            max_items
        };
        if min_items > max_items {
            return Err(unsat(
                ptr,
                format!("needs at least {min_items} items but at most {max_items} are allowed"),
            ));
        }
        if min_items > MAX_LEN {
            return Err(unsat(
                ptr,
                format!("`minItems` {min_items} exceeds the {MAX_LEN} this generator makes"),
            ));
        }
        // Whole tuples whenever allowed: generated tuple types are usually fixed-length.
        let mut base = min_items.max(prefix.len().min(max_items));
        // A person expects a list to show something: at least one item when allowed.
        if self.options.realistic && base == 0 && max_items > 0 && rest.is_some() {
            base = 1;
        }
        let len = if self.cheap(ctx) {
            base
        } else {
            let top = max_items.min(base.saturating_add(self.options.max_items));
            let top = if prefix.is_empty() {
                max_items.min(min_items.max(self.options.max_items))
            } else {
                top
            };
            self.rng.gen_range(base..=top.max(base))
        };
        let unique = matches!(map.get("uniqueItems"), Some(Value::Bool(true)));

        let prefix_ptr = child(ptr, prefix_kw);
        let rest_ptr = child(ptr, rest_kw);
        let mut items: Vec<Value> = Vec::with_capacity(len);
        for index in 0..len {
            let (schema, item_ptr) = match prefix.get(index) {
                Some(schema) => (schema, child(&prefix_ptr, &index.to_string())),
                None => match rest {
                    Some(schema) => (schema, rest_ptr.clone()),
                    None => break,
                },
            };
            let mut placed = false;
            for _ in 0..if unique { 10 } else { 1 } {
                let value = self.gen(schema, &item_ptr, ctx)?;
                if !unique || !items.iter().any(|v| crate::json_eq(v, &value)) {
                    items.push(value);
                    placed = true;
                    break;
                }
            }
            if !placed {
                if index >= min_items && index >= prefix.len() {
                    break;
                }
                return Err(unsat(
                    &item_ptr,
                    "could not generate enough distinct items for `uniqueItems`",
                ));
            }
        }
        if items.len() < min_items {
            return Err(unsat(ptr, "`minItems` cannot be met"));
        }
        Ok(Value::Array(items))
    }

    /// A random small JSON value, for `{}` / `true` schemas and unknown fields.
    pub(crate) fn gen_any(&mut self, depth: usize) -> Value {
        self.nodes += 1;
        if self.options.realistic && !self.options.any_drift() {
            // Unconstrained data (a provider's `raw` blob): a small record of neutral words
            // rather than random scalars.
            if depth == 0 {
                return Value::String(realistic::neutral_phrase(&mut self.rng));
            }
            let mut object = Map::new();
            for _ in 0..self.rng.gen_range(1..=2) {
                let key = realistic::NEUTRAL_WORDS
                    [self.rng.gen_range(0..realistic::NEUTRAL_WORDS.len())]
                .to_string();
                let value = self.gen_any(0);
                object.insert(key, value);
            }
            return Value::Object(object);
        }
        let kinds = if depth == 0 { 5 } else { 7 };
        match self.rng.gen_range(0..kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.gen()),
            2 => Value::from(self.rng.gen_range(-1000i64..=100_000)),
            3 => numeric::free_float(&mut self.rng),
            4 => Value::String(text::free_string(&mut self.rng, 0, 16)),
            5 => {
                let len = self.rng.gen_range(0..=2);
                Value::Array((0..len).map(|_| self.gen_any(depth - 1)).collect())
            }
            _ => {
                let empty = Map::new();
                let mut object = Map::new();
                for _ in 0..self.rng.gen_range(0..=2) {
                    let key = self.fresh_key(&object, &empty);
                    let value = self.gen_any(depth - 1);
                    object.insert(key, value);
                }
                self.add_unknown_field(&mut object, &empty);
                object.sort_keys();
                Value::Object(object)
            }
        }
    }

    /// A record key not already used and not a declared property.
    fn fresh_key(
        &mut self,
        object: &Map<String, Value>,
        properties: &Map<String, Value>,
    ) -> String {
        let mut key = if self.options.realistic {
            realistic::NEUTRAL_WORDS[self.rng.gen_range(0..realistic::NEUTRAL_WORDS.len())]
                .to_string()
        } else {
            text::record_key(&mut self.rng)
        };
        let first = key.clone();
        let mut n = 2;
        while object.contains_key(&key) || properties.contains_key(&key) {
            key = if self.options.realistic {
                format!("{first}{n}")
            } else {
                format!("{}{n}", text::record_key(&mut self.rng))
            };
            n += 1;
        }
        key
    }

    fn add_unknown_field(
        &mut self,
        object: &mut Map<String, Value>,
        properties: &Map<String, Value>,
    ) {
        if !self.options.unknown_fields {
            return;
        }
        let key = self.unknown_key(object, properties);
        let value = self.gen_any(1);
        object.insert(key, value);
    }

    /// `"unknownField_<n>"`, not already a key or a declared property.
    fn unknown_key(
        &mut self,
        object: &Map<String, Value>,
        properties: &Map<String, Value>,
    ) -> String {
        loop {
            let key = format!("unknownField_{}", self.drift_counter);
            self.drift_counter += 1;
            if !object.contains_key(&key) && !properties.contains_key(&key) {
                return key;
            }
        }
    }

    /// `"unlisted_<n>"`, distinct from every value in `listed`.
    fn drift_string(&mut self, listed: &[Value]) -> String {
        loop {
            let candidate = format!("unlisted_{}", self.drift_counter);
            self.drift_counter += 1;
            if !listed
                .iter()
                .any(|v| v.as_str() == Some(candidate.as_str()))
            {
                return candidate;
            }
        }
    }
}

/// Whether an `additionalProperties` value constrains the values (is not `true` or `{}`).
fn has_value_schema(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => has_constraints(map, &[]),
        _ => false,
    }
}

/// Decodes `%XX` escapes of a URI fragment; `None` when malformed or not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
