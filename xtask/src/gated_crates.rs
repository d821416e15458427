//! Catalogs through the whole regen (codegen, the compile gate's `cargo check -D warnings`, the
//! files written with `--out-dir`), then a harness crate built against the written crate that
//! exercises it: what only the compiled output can show.
//!
//! - Names Passage could give integrations, resources and actions (keywords, dashes, dots,
//!   leading digits, non-ASCII letters, names that collide once converted): every operation is
//!   reachable and has a variant and a type of its own.
//! - Decoding what typify turns into shapes the pinned catalog lacks (adjacently tagged unions,
//!   which only closed objects in arguments schemas produce).

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use std::ffi::OsStr;

use clap::Parser;

use crate::regen::{regen_in, Outcome};
use crate::{gate, progress, Cli, Task};

/// A workspace copy, the regen of `catalog` into its `scratch/generated` through the gate, and
/// `harness_main` built against it and run with `harness_arg`: its stdout. The directory is
/// kept alive by the returned guard.
fn regen_and_run(
    catalog: &Value,
    harness_main: &str,
    harness_arg: &Value,
) -> (tempfile::TempDir, String) {
    regen_and_run_with(catalog, &[], harness_main, harness_arg)
}

/// [`regen_and_run`] with `extra` regen flags.
fn regen_and_run_with(
    catalog: &Value,
    extra: &[&str],
    harness_main: &str,
    harness_arg: &Value,
) -> (tempfile::TempDir, String) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("catalog")).unwrap();
    std::fs::copy(
        crate::workspace_root().join("catalog/providers.json"),
        root.path().join("catalog/providers.json"),
    )
    .unwrap();
    let catalog_file = root.path().join("experiment.json");
    std::fs::write(&catalog_file, serde_json::to_vec(catalog).unwrap()).unwrap();
    let scratch = root.path().join("scratch");
    // Parsed like the command line, so the test keeps up with new flags and their defaults.
    let out_dir = scratch.join("generated");
    let cli = Cli::parse_from(
        [
            OsStr::new("xtask"),
            OsStr::new("regen"),
            OsStr::new("--catalog"),
            catalog_file.as_os_str(),
            OsStr::new("--out-dir"),
            out_dir.as_os_str(),
        ]
        .into_iter()
        .chain(extra.iter().map(OsStr::new)),
    );
    let Task::Regen(args) = cli.command else {
        unreachable!("parsed as regen")
    };
    let progress = std::sync::Arc::new(progress::Progress::lines("regen"));
    // The gate refuses any error or lint (`-D warnings`) outside a types module as a generator
    // bug, and regen then fails: success means lib.rs, Cargo.toml and the integrations are clean.
    let outcome = regen_in(root.path(), args, None, None, &progress)
        .expect("regen (the gate refuses any error or lint outside types modules)");
    assert!(matches!(outcome, Outcome::Regenerated(_)), "{outcome:?}");
    let stdout = run_harness(&scratch, harness_main, harness_arg);
    (root, stdout)
}

/// Names that are not plain identifiers. The catalog model refuses an empty (or blank) name, so
/// the empty string is not among them.
const HOSTILE: &[&str] = &[
    "type",
    "match",
    "loop",
    "async",
    "self",
    "Self",
    "super",
    "crate",
    "enum",
    "fn",
    "gen",
    "a-b",
    "a.b",
    "a b",
    "1st",
    "_",
    "über",
    "uber",
    "naïve",
    "日本",
    "fooBar",
    "foo_bar",
    "foo-bar",
    "Unknown",
    "unknown",
    "types",
    "registry",
    "serde",
    "full",
    "default",
    "integration-a-b",
];

/// A result schema whose property names are hostile too (typify names the fields).
fn result_schema() -> Value {
    let properties: serde_json::Map<String, Value> = HOSTILE
        .iter()
        .map(|name| (name.to_string(), json!({"type": "string"})))
        .collect();
    json!({"type": "object", "properties": properties})
}

/// Every hostile name as an integration (each with a resource `enum`, the module name
/// `enum_read_result` of the bug report), as a resource of integration `x` and as an action of
/// its resource `r`; plus names that collide only across parts (`a`+`bC` and `aB`+`c`).
fn hostile_catalog() -> Value {
    let op = || {
        json!({"description": "Hostile.", "result": result_schema(),
               "arguments": {"type": "object", "properties": {"n": {"type": "integer"}}}})
    };
    let mut providers: Vec<Value> = HOSTILE
        .iter()
        .map(|id| {
            json!({"id": id, "name": format!("Integration {id}"),
                   "resources": [{"name": "enum", "operations": {"read": op()}}]})
        })
        .collect();
    let mut resources: Vec<Value> = HOSTILE
        .iter()
        .map(|name| json!({"name": name, "operations": {"read": op()}}))
        .collect();
    let actions: serde_json::Map<String, Value> = HOSTILE
        .iter()
        .map(|name| (name.to_string(), op()))
        .collect();
    resources.push(json!({"name": "r", "operations": actions}));
    providers.push(json!({"id": "x", "name": "X", "resources": resources}));
    providers.push(json!({"id": "a", "name": "A", "resources": [{"name": "bC", "operations": {"read": op()}}]}));
    providers.push(json!({"id": "aB", "name": "AB", "resources": [{"name": "c", "operations": {"read": op()}}]}));
    json!({ "providers": providers })
}

const HARNESS_MANIFEST: &str = r#"[package]
name = "harness"
version.workspace = true
edition.workspace = true
publish = false

[dependencies]
passage-generated = { path = "../generated" }
serde_json.workspace = true
"#;

/// Exits non-zero with a message unless every operation is found by its names, decodes into a
/// typed variant that names it back, and no two operations share a variant or a type path.
const NAMES_HARNESS: &str = r##"//! Written by the hostile-names test of xtask.
use std::collections::BTreeSet;

fn main() {
    let path = std::env::args().nth(1).expect("operations file");
    let ops: Vec<[String; 3]> = serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON");
    let mut variants = BTreeSet::new();
    let mut types = BTreeSet::new();
    for [integration, resource, action] in &ops {
        let info = passage_generated::find_operation(integration, resource, action)
            .unwrap_or_else(|| panic!("{integration}/{resource}/{action}: not found"));
        assert_eq!((info.integration, info.resource, info.action), (integration.as_str(), resource.as_str(), action.as_str()));
        let result = passage_generated::decode_result(integration, resource, action, br#"{"type":"t","self":"s"}"#)
            .unwrap_or_else(|err| panic!("{integration}/{resource}/{action}: {err}"));
        assert!(!result.is_unknown(), "{integration}/{resource}/{action}: decoded as Unknown");
        let back = result.operation().expect("a typed result names its operation");
        assert_eq!((back.integration, back.resource, back.action), (info.integration, info.resource, info.action));
        let debug = format!("{result:?}");
        let variant = debug.split('(').next().unwrap_or_default().to_string();
        assert!(variants.insert(variant.clone()), "variant {variant} is shared");
        assert!(types.insert(info.result_type), "type {} is shared", info.result_type);
    }
    assert_eq!(passage_generated::operations().count(), ops.len(), "operations() lists every operation once");
    println!("ok {}", ops.len());
}
"##;

#[test]
fn hostile_names_regen_through_the_gate_into_a_crate_where_every_operation_is_distinct() {
    let (catalog_value, operations) = hostile_operations();
    let (root, stdout) = regen_and_run(&catalog_value, NAMES_HARNESS, &json!(operations));
    assert_eq!(stdout.trim(), format!("ok {}", operations.len()));
    let crate_dir = root.path().join("scratch/generated");
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    for expected in [
        "pub mod r#type;",
        "pub mod self_;",
        "pub mod types_;",
        "pub mod uber_2;",
    ] {
        assert!(lib.contains(expected), "lib.rs lacks `{expected}`");
    }
    assert!(crate_dir.join("src/types/enum_read_result.rs").is_file());
    assert!(crate_dir.join("src/integrations/type.rs").is_file());
}

#[test]
fn a_catalog_past_the_shard_size_is_written_as_shard_crates_behind_the_same_paths() {
    let (catalog_value, operations) = hostile_operations();
    // The same harness as the unsharded crate's: every operation found, decoded (through its
    // shard's decode function) and named back, through the facade's paths.
    let (root, stdout) = regen_and_run_with(
        &catalog_value,
        &["--shard-modules", "4"],
        NAMES_HARNESS,
        &json!(operations),
    );
    assert_eq!(stdout.trim(), format!("ok {}", operations.len()));
    let crate_dir = root.path().join("scratch/generated");
    let modules = gate::module_files(&crate_dir)
        .unwrap()
        .into_iter()
        .filter(|path| path.starts_with("src/types/"))
        .count();
    let shards = gate::generator_owned_files(&crate_dir)
        .unwrap()
        .into_iter()
        .filter(|path| path.starts_with("shards/") && path.ends_with("/lib.rs"))
        .count();
    assert_eq!(shards, modules.div_ceil(4), "{modules} modules");
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("pub use ::passage_generated_shard_"),
        "the facade re-exports the shards' modules"
    );
    assert!(!lib.contains("impl crate::OperationArguments"), "{lib}");
    // One integration's feature alone turns on its modules in the shards, and only those.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let scratch = root.path().join("scratch");
    let output = Command::new(cargo)
        .args([
            "check",
            "--offline",
            "--quiet",
            "-p",
            "passage-generated",
            "--no-default-features",
            "--features",
            "type",
        ])
        .current_dir(&scratch)
        .env("CARGO_TARGET_DIR", gate::shared_build_dir())
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// [`hostile_catalog`] and its operations (integration, resource, action).
fn hostile_operations() -> (Value, Vec<[String; 3]>) {
    let catalog_value = hostile_catalog();
    let catalog = passage_catalog::Catalog::from_value(catalog_value.clone()).unwrap();
    let operations = catalog
        .operations()
        .map(|op| [op.integration, op.resource, op.action].map(str::to_string))
        .collect();
    (catalog_value, operations)
}

/// Builds `main` as the harness crate against the crate in `scratch/generated` and runs it with
/// `arg` written to a file: its stdout, or a panic with its output when it fails.
fn run_harness(scratch: &Path, main: &str, arg: &Value) -> String {
    gate::write_manifest(scratch, &["harness"]).unwrap();
    gate::write_if_changed(&scratch.join("harness/Cargo.toml"), HARNESS_MANIFEST).unwrap();
    gate::write_if_changed(&scratch.join("harness/src/main.rs"), main).unwrap();
    let arg_file = scratch.join("harness-arg.json");
    std::fs::write(&arg_file, serde_json::to_vec(arg).unwrap()).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--offline", "--quiet", "-p", "harness", "--"])
        .arg(&arg_file)
        .current_dir(scratch)
        .env("CARGO_TARGET_DIR", gate::shared_build_dir())
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "harness failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Decodes adjacently tagged union values with the generated `t::ShapeReadArguments`.
const ADJACENT_HARNESS: &str = r##"//! Written by the adjacently-tagged-union test of xtask.
use passage_generated::t::ShapeReadArguments as Shape;
use serde_json::json;

fn decode(value: serde_json::Value) -> Result<Shape, String> {
    serde_json::from_value(value).map_err(|err| err.to_string())
}

fn refused(value: serde_json::Value, expected: &str) {
    let err = decode(value.clone()).expect_err(&value.to_string());
    assert!(err.contains(expected), "{value}: `{err}` lacks `{expected}`");
}

fn main() {
    assert_eq!(decode(json!({"kind": "text", "value": "hi"})), Ok(Shape::Text("hi".into())));
    assert_eq!(decode(json!({"kind": "count", "value": 3})), Ok(Shape::Count(3)));
    assert_eq!(decode(json!({"kind": "none"})), Ok(Shape::None));
    assert_eq!(decode(json!({"kind": "none", "value": null})), Ok(Shape::None));
    // Round trips, typed and unknown.
    for value in [json!({"kind": "text", "value": "hi"}), json!({"kind": "count", "value": 3}),
                  json!({"kind": "none"}), json!({"kind": "drone", "value": {"id": 7}})] {
        let decoded = decode(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&decoded).unwrap(), value);
    }
    assert!(matches!(decode(json!({"kind": "drone", "value": 1})), Ok(Shape::Unknown(_))));
    // Not gullible: a known tag with content that does not fit is an error inside the content.
    refused(json!({"kind": "text", "value": 5}), "at `value`");
    refused(json!({"kind": "text"}), "missing field `value`");
    refused(json!({"kind": "none", "value": 3}), "at `value`");
    refused(json!({"kind": 1, "value": "x"}), "the tag must be a string");
    refused(json!({"value": "x"}), "missing tag property `kind`");
    refused(json!("text"), "expected an object with a `kind` tag");
    let duplicate = serde_json::from_str::<Shape>(r#"{"kind":"text","value":"a","value":"b"}"#);
    assert!(duplicate.is_err(), "duplicate keys are refused");
    println!("ok");
}
"##;

#[test]
fn adjacently_tagged_unions_decode_by_tag_from_their_content() {
    let variant = |tag: &str, content: Option<Value>| {
        let mut properties = json!({"kind": {"type": "string", "enum": [tag]}});
        let mut required = vec!["kind"];
        if let Some(content) = content {
            properties["value"] = content;
            required.push("value");
        }
        json!({"type": "object", "additionalProperties": false,
               "required": required, "properties": properties})
    };
    // Closed objects of a constant tag and one content property: typify makes them
    // `#[serde(tag = "kind", content = "value")]` (arguments schemas stay closed).
    let arguments = json!({"oneOf": [
        variant("text", Some(json!({"type": "string"}))),
        variant("count", Some(json!({"type": "integer"}))),
        variant("none", None),
    ]});
    let catalog = json!({"providers": [{"id": "t", "name": "T", "resources": [{"name": "shape",
        "operations": {"read": {"arguments": arguments, "result": {"type": "object"}}}}]}]});
    let (root, stdout) = regen_and_run(&catalog, ADJACENT_HARNESS, &Value::Null);
    let module = std::fs::read_to_string(
        root.path()
            .join("scratch/generated/src/types/shape_read_arguments.rs"),
    )
    .unwrap();
    assert!(
        module.contains(r#"#[serde(tag = "kind", content = "value")]"#),
        "not adjacently tagged any more: the test needs another schema\n{module}"
    );
    assert_eq!(stdout.trim(), "ok");
}
