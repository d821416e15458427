//! The corpus's property test: instances made from each corpus schema by `passage-samples`
//! (seeds `0..SEEDS`), kept only when the `jsonschema` validator says the schema allows them,
//! join the corpus's own instances in the round trip (decode, re-serialize, compare). The
//! corpus's instances are what people wrote; these reach the corners they did not (bounds,
//! optional members absent and present, every union branch, empty arrays, escapes).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

/// Seeds per schema: varied enough to visit each union branch and optional member of the
/// corpus's schemas, small enough to keep the run in seconds.
pub const SEEDS: u64 = 8;

/// What generation gave for one schema.
#[derive(Debug, Default)]
pub struct Generated {
    /// Schema-valid instances, written to files.
    pub files: Vec<PathBuf>,
    /// Seeds whose sample the validator refused (the generator does not honour every keyword).
    pub refused_by_validator: usize,
    /// Why nothing could be generated, when so: the generator's or the validator's error.
    pub skipped: Option<String>,
}

/// Generates the instances of `schema` into `dir` (created, emptied first).
pub fn generate(schema: &Value, dir: &Path) -> Result<Generated> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let validator = match jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
    {
        Ok(validator) => validator,
        Err(err) => {
            return Ok(Generated {
                skipped: Some(format!("the validator cannot compile it: {err}")),
                ..Generated::default()
            })
        }
    };
    let mut out = Generated::default();
    for seed in 0..SEEDS {
        let instance = match passage_samples::sample(schema, seed) {
            Ok(instance) => instance,
            Err(err) => {
                // The same keyword stops every seed: one note is enough.
                out.skipped = Some(format!("passage-samples: {err}"));
                break;
            }
        };
        if !validator.is_valid(&instance) {
            out.refused_by_validator += 1;
            continue;
        }
        let file = dir.join(format!("seed-{seed}.json"));
        std::fs::write(&file, serde_json::to_vec(&instance)?)
            .with_context(|| format!("writing {}", file.display()))?;
        out.files.push(file);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_instances_the_schema_allows_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 3}},
            "required": ["n"]
        });
        let generated = generate(&schema, dir.path()).unwrap();
        assert_eq!(generated.files.len() as u64, SEEDS);
        assert_eq!(generated.refused_by_validator, 0);
        for file in &generated.files {
            let value: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            assert!(value["n"].as_i64().unwrap() >= 3, "{value}");
        }
        // A keyword the generator cannot honour: skipped with the reason, nothing written.
        let unsupported = serde_json::json!({"not": {"type": "string"}});
        let generated = generate(&unsupported, dir.path()).unwrap();
        assert!(generated.files.is_empty());
        assert!(generated.skipped.unwrap().contains("passage-samples"));
    }
}
