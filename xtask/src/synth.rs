//! A synthetic provider catalog of N operations, for measuring how regen cost grows.
//!
//! Integrations get 10 operations each; every operation's result schema is a distinct variant
//! (its own field names) of a realistic shape using the same idioms as the pinned catalog, so no
//! two operations dedupe and the generator does N units of work.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of operations.
    #[arg(long)]
    operations: usize,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

fn result_schema(n: usize) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": [format!("items{n}"), "count"],
        "properties": {
            "count": {"type": "integer", "minimum": 0, "maximum": 9007199254740991i64},
            format!("items{n}"): {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "status": {"type": "string", "enum": ["open", "closed", format!("state{n}")]},
            "note": {"type": ["string", "null"]},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": false},
        },
        "$defs": {"Item": {
            "type": "object", "additionalProperties": false, "required": ["id", "kind"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "kind": {"oneOf": [
                    {"type": "object", "additionalProperties": false, "required": ["tag"], "properties": {"tag": {"const": "a"}, "a": {"type": "number"}}},
                    {"type": "object", "additionalProperties": false, "required": ["tag"], "properties": {"tag": {"const": "b"}, "b": {"type": "string"}}}
                ]},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
                format!("extra{n}"): {"type": "object", "additionalProperties": {"type": "number"}}
            }
        }}
    })
}

pub fn run(args: Args) -> Result<()> {
    let per_integration = 10;
    let integrations = args.operations.div_ceil(per_integration);
    let mut providers = Vec::new();
    let mut made = 0;
    for i in 0..integrations {
        let mut resources = Vec::new();
        for r in 0..per_integration {
            if made == args.operations {
                break;
            }
            resources.push(json!({
                "name": format!("resource{r}"),
                "operations": {"read": {
                    "description": format!("Synthetic operation {made}."),
                    "arguments": {"type": "object", "properties": {"limit": {"type": "number"}}},
                    "result": result_schema(made),
                }}
            }));
            made += 1;
        }
        providers.push(json!({"id": format!("synth{i:04}"), "name": format!("Synthetic {i}"), "resources": resources}));
    }
    let mut text = serde_json::to_string_pretty(&json!({ "providers": providers }))?;
    text.push('\n');
    std::fs::write(&args.out, text)?;
    println!(
        "wrote {} operations in {} integrations to {}",
        made,
        integrations,
        args.out.display()
    );
    Ok(())
}
