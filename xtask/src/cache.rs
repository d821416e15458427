//! A cache of typify's output per schema, in the target directory, so a regen after one schema
//! changed re-runs typify for that schema only.
//!
//! Keyed by the SHA-256 of the normalized schema's JSON, the codegen version and the typify
//! version; one JSON file per entry (`target/regen-cache/<key>.json`). An entry that cannot be
//! read or parsed is ignored and overwritten, never trusted; results that depend on the machine's
//! load (a schema over its time budget) or on a worker crash are not cached. The output is the
//! same with or without the cache: the cache stores exactly what the inner typer returned.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use passage_codegen::typing::{SchemaTyper, TypedSchemaText};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Wraps another typer with the cache.
#[derive(Debug)]
pub struct CachingTyper<T> {
    inner: T,
    dir: PathBuf,
    progress: Option<Arc<crate::progress::Progress>>,
}

impl<T: SchemaTyper> CachingTyper<T> {
    /// Caches `inner`'s results in `dir`.
    pub fn new(inner: T, dir: PathBuf) -> Self {
        Self {
            inner,
            dir,
            progress: None,
        }
    }

    /// Says how many schemas came from the cache and how many go to `inner`.
    pub fn with_progress(mut self, progress: Arc<crate::progress::Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    fn path(&self, schema: &Value) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(passage_codegen::CODEGEN_VERSION.as_bytes());
        hasher.update([0]);
        hasher.update(passage_codegen::TYPIFY_VERSION.as_bytes());
        hasher.update([0]);
        hasher.update(schema.to_string().as_bytes());
        self.dir
            .join(format!("{}.json", hex::encode(hasher.finalize())))
    }

    fn read(&self, schema: &Value) -> Option<TypedSchemaText> {
        let bytes = std::fs::read(self.path(schema)).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        // A truncated or hand-edited entry is not trusted: its checksum no longer matches (a
        // checksum, not a parse of the code: at 2,000 schemas parsing every entry again was a
        // tenth of a regen where nothing changed).
        (entry.sha256 == checksum(&entry.typed)).then_some(entry.typed)
    }

    fn write(&self, schema: &Value, typed: &TypedSchemaText) {
        let transient = typed.fallbacks.iter().any(|f| {
            f.reason.starts_with("over the time budget")
                || f.reason.starts_with("typing worker failed")
                || f.reason.contains("typify's process ended")
        });
        if transient {
            return;
        }
        let entry = Entry {
            sha256: checksum(typed),
            typed: typed.clone(),
        };
        let Ok(bytes) = serde_json::to_vec(&entry) else {
            return;
        };
        let path = self.path(schema);
        // Write then rename, so a concurrent reader never sees half an entry.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::create_dir_all(&self.dir).is_ok() && std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

/// One cache file: the typer's output and the SHA-256 of its canonical JSON.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    sha256: String,
    typed: TypedSchemaText,
}

/// The SHA-256 of `typed`'s JSON (what [`Entry::sha256`] holds).
fn checksum(typed: &TypedSchemaText) -> String {
    let json = serde_json::to_vec(typed).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

impl<T: SchemaTyper> SchemaTyper for CachingTyper<T> {
    fn type_schemas(&self, schemas: &[Value], budget: Duration) -> Vec<TypedSchemaText> {
        let mut out: Vec<Option<TypedSchemaText>> = schemas.iter().map(|s| self.read(s)).collect();
        let missing: Vec<usize> = (0..schemas.len()).filter(|&i| out[i].is_none()).collect();
        if let Some(progress) = &self.progress {
            progress.note(format!(
                "{} distinct schema(s): {} from the typing cache, {} to type",
                schemas.len(),
                schemas.len() - missing.len(),
                missing.len()
            ));
        }
        if !missing.is_empty() {
            let todo: Vec<Value> = missing.iter().map(|&i| schemas[i].clone()).collect();
            for (i, typed) in missing
                .into_iter()
                .zip(self.inner.type_schemas(&todo, budget))
            {
                self.write(&schemas[i], &typed);
                out[i] = Some(typed);
            }
        }
        out.into_iter()
            .map(|t| t.expect("every schema typed or read from the cache"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The in-process typer, counting the schemas it types.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl SchemaTyper for Counting {
        fn type_schemas(&self, schemas: &[Value], budget: Duration) -> Vec<TypedSchemaText> {
            self.0.fetch_add(schemas.len(), Ordering::SeqCst);
            passage_codegen::typing::InProcessTyper.type_schemas(schemas, budget)
        }
    }

    fn schema(n: usize) -> Value {
        serde_json::json!({"title": format!("T{n}"), "type": "object",
            "properties": {"a": {"type": "string"}, format!("f{n}"): {"type": "integer"}}})
    }

    #[test]
    fn only_changed_schemas_are_typed_again_and_the_output_is_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let cached = CachingTyper::new(Counting::default(), dir.path().to_path_buf());
        let budget = Duration::from_secs(30);
        let first: Vec<Value> = (0..3).map(schema).collect();
        let cold = cached.type_schemas(&first, budget);
        assert_eq!(cached.inner.0.load(Ordering::SeqCst), 3);
        let warm = cached.type_schemas(&first, budget);
        assert_eq!(
            cached.inner.0.load(Ordering::SeqCst),
            3,
            "all three from the cache"
        );
        assert_eq!(cold, warm, "byte-identical with and without the cache");
        let uncached = passage_codegen::typing::InProcessTyper.type_schemas(&first, budget);
        assert_eq!(cold, uncached);

        let mut changed = first.clone();
        changed[1] = schema(7);
        cached.type_schemas(&changed, budget);
        assert_eq!(
            cached.inner.0.load(Ordering::SeqCst),
            4,
            "one schema changed, one typed"
        );
    }

    #[test]
    fn a_corrupt_entry_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cached = CachingTyper::new(Counting::default(), dir.path().to_path_buf());
        let budget = Duration::from_secs(30);
        let schemas = vec![schema(1)];
        let good = cached.type_schemas(&schemas, budget);
        let path = cached.path(&schemas[0]);
        let entry = std::fs::read_to_string(&path).unwrap();
        // The code edited, the checksum kept: a hand edit or a torn write is not trusted.
        let edited = entry.replacen("pub struct", "pub struct X", 1);
        assert_ne!(edited, entry, "the entry holds typify's code");
        for corrupt in [
            &b"{not json"[..],
            br#"{"code":"struct {","fallbacks":[]}"#,
            b"",
            edited.as_bytes(),
        ] {
            std::fs::write(&path, corrupt).unwrap();
            let again = cached.type_schemas(&schemas, budget);
            assert_eq!(again, good);
        }
        assert_eq!(
            cached.inner.0.load(Ordering::SeqCst),
            5,
            "typed once + once per corrupt entry"
        );
        assert!(
            cached.read(&schemas[0]).is_some(),
            "the entry was rewritten"
        );
    }
}
