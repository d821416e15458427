//! What `cargo xtask regen` remembers across runs, in the target directory, so a regen after
//! one schema changed does the work of that schema only:
//!
//! * [`CachingTyper`]: typify's output per normalized schema (`target/regen-cache/`), keyed by
//!   the SHA-256 of the schema's JSON, the codegen version and the typify version;
//! * [`ModuleStore`]: the finished types module per schema (`target/regen-cache/modules/`),
//!   keyed by codegen's key and the identity of the running generator build, since
//!   post-processing is this repository's code and changes between builds of one version.
//!
//! One file per entry: the hex SHA-256 of the value's JSON on its first line, the JSON after. An entry that cannot
//! be read, parsed or checksummed is ignored and overwritten, never trusted; results that depend
//! on the machine's load (a schema over its time budget) or on a worker crash are not kept. The
//! output is the same with or without the cache: each entry is exactly what was computed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use passage_codegen::modules::{FinishedModule, ModuleCache};
use passage_codegen::typing::{SchemaTyper, TypedSchemaText};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One folder of checksummed JSON entries, each named by the hex SHA-256 of its key.
#[derive(Debug)]
struct Store {
    dir: PathBuf,
}

impl Store {
    fn path(&self, key: &[u8]) -> PathBuf {
        self.dir
            .join(format!("{}.json", hex::encode(Sha256::digest(key))))
    }

    /// The entry under `key`: its first line is the hex SHA-256 of the rest, the value's JSON.
    fn read<T: DeserializeOwned>(&self, key: &[u8]) -> Option<T> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let newline = bytes.iter().position(|&b| b == b'\n')?;
        let (sum, json) = (&bytes[..newline], &bytes[newline + 1..]);
        // A truncated or hand-edited entry is not trusted: its checksum no longer matches (a
        // checksum of the bytes read, not a parse of the code, nor a second serialization: at
        // 2,000 schemas either was a large part of a regen where one schema changed).
        if sum != hex::encode(Sha256::digest(json)).as_bytes() {
            return None;
        }
        serde_json::from_slice(json).ok()
    }

    fn write<T: Serialize>(&self, key: &[u8], value: &T) {
        let Ok(json) = serde_json::to_vec(value) else {
            return;
        };
        let mut bytes = hex::encode(Sha256::digest(&json)).into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&json);
        let path = self.path(key);
        // Write then rename, so a concurrent reader never sees half an entry.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::create_dir_all(&self.dir).is_ok() && std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

/// The identity of the running generator build: its executable's path, size and modification
/// time, so a rebuilt generator never reuses what the old one made or judged. `None` when the
/// executable cannot be found.
pub(crate) fn generator_build() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{}\0{}\0{}",
        exe.display(),
        meta.len(),
        modified.as_nanos()
    ))
}

/// Wraps another typer with the cache.
#[derive(Debug)]
pub struct CachingTyper<T> {
    inner: T,
    store: Store,
    progress: Option<Arc<crate::progress::Progress>>,
}

impl<T: SchemaTyper> CachingTyper<T> {
    /// Caches `inner`'s results in `dir`.
    pub fn new(inner: T, dir: PathBuf) -> Self {
        Self {
            inner,
            store: Store { dir },
            progress: None,
        }
    }

    /// Says how many schemas came from the cache and how many go to `inner`.
    pub fn with_progress(mut self, progress: Arc<crate::progress::Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    fn key(schema: &Value) -> Vec<u8> {
        let mut key = Vec::new();
        for part in [
            passage_codegen::CODEGEN_VERSION,
            passage_codegen::TYPIFY_VERSION,
        ] {
            key.extend_from_slice(part.as_bytes());
            key.push(0);
        }
        key.extend_from_slice(schema.to_string().as_bytes());
        key
    }

    #[cfg(test)]
    fn path(&self, schema: &Value) -> PathBuf {
        self.store.path(&Self::key(schema))
    }

    fn read(&self, schema: &Value) -> Option<TypedSchemaText> {
        self.store.read(&Self::key(schema))
    }

    fn write(&self, schema: &Value, typed: &TypedSchemaText) {
        let transient = typed
            .fallbacks
            .iter()
            .any(|f| passage_codegen::typing::is_transient_reason(&f.reason));
        if !transient {
            self.store.write(&Self::key(schema), typed);
        }
    }
}

impl<T: SchemaTyper> SchemaTyper for CachingTyper<T> {
    fn type_schemas(&self, schemas: &[Value], budget: Duration) -> Vec<TypedSchemaText> {
        if schemas.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<Option<TypedSchemaText>> = schemas.iter().map(|s| self.read(s)).collect();
        let missing: Vec<usize> = (0..schemas.len()).filter(|&i| out[i].is_none()).collect();
        if let Some(progress) = &self.progress {
            progress.note(format!(
                "{} schema(s) to type: {} from the typing cache, {} to typify",
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

/// Finished types modules, remembered for this generator build only (see the module docs).
#[derive(Debug)]
pub struct ModuleStore {
    store: Store,
    /// [`generator_build`]; `None` when it is unknown: then nothing is read or kept.
    build: Option<String>,
    /// Lookups so far, and how many found their module.
    looked_up: std::sync::atomic::AtomicUsize,
    found: std::sync::atomic::AtomicUsize,
}

impl ModuleStore {
    /// Modules stored under `dir`, for the running generator build (in a folder of its own; the
    /// folders of all but the [`KEPT_BUILDS`] builds used last are removed, so rebuilding the
    /// generator does not grow `target/` without bound).
    pub fn new(dir: PathBuf) -> Self {
        Self::for_build(dir, generator_build())
    }

    fn for_build(dir: PathBuf, build: Option<String>) -> Self {
        let folder = match &build {
            Some(build) => {
                let folder = dir.join(&hex::encode(Sha256::digest(build))[..16]);
                // Marks this build as used now, then forgets the builds used longest ago.
                // Removing a folder another regen is reading costs that regen time only:
                // entries are checksummed and written whole.
                if std::fs::create_dir_all(&folder).is_ok()
                    && std::fs::write(folder.join(LAST_USED), b"").is_ok()
                {
                    forget_old_builds(&dir);
                }
                folder
            }
            None => dir,
        };
        Self {
            store: Store { dir: folder },
            build,
            looked_up: Default::default(),
            found: Default::default(),
        }
    }

    /// How many entries (types modules, formatted files) [`ModuleCache::get`] looked up so far,
    /// and how many it found (a regen whose gate makes a module `serde_json::Value` generates
    /// twice, and looks up twice).
    pub fn lookups(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.looked_up.load(Relaxed), self.found.load(Relaxed))
    }

    fn key(&self, key: &str) -> Option<Vec<u8>> {
        let build = self.build.as_ref()?;
        Some([build.as_bytes(), b"\0", key.as_bytes()].concat())
    }
}

/// How many generator builds keep their modules: the running one and the ones used just before
/// (a maintainer switching branches, tests beside `cargo xtask regen`).
pub const KEPT_BUILDS: usize = 4;

/// The file whose modification time tells when a build's folder was last opened.
const LAST_USED: &str = "last-used";

/// Removes the build folders under `dir` but the [`KEPT_BUILDS`] last used.
fn forget_old_builds(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut builds: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let used = std::fs::metadata(path.join(LAST_USED))
                .and_then(|meta| meta.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            path.is_dir().then_some((used, path))
        })
        .collect();
    builds.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
    for (_, old) in builds.into_iter().skip(KEPT_BUILDS) {
        let _ = std::fs::remove_dir_all(old);
    }
}

impl ModuleCache for ModuleStore {
    fn get(&self, key: &str) -> Option<FinishedModule> {
        self.looked_up
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let module = self.store.read(&self.key(key)?)?;
        self.found
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(module)
    }

    fn put(&self, key: &str, module: &FinishedModule) {
        if let Some(key) = self.key(key) {
            self.store.write(&key, module);
        }
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

    #[test]
    fn a_module_is_found_by_the_generator_build_that_made_it_only() {
        let dir = tempfile::tempdir().unwrap();
        let module = FinishedModule {
            code: "pub struct A;\n".into(),
            fallbacks: vec![("/properties/b".into(), "unsupported keyword".into())],
        };
        let store = ModuleStore::for_build(dir.path().to_path_buf(), Some("build 1".into()));
        store.put("key", &module);
        assert_eq!(store.get("key"), Some(module.clone()));
        assert_eq!(store.get("another key"), None);
        assert_eq!(store.lookups(), (2, 1));
        let rebuilt = ModuleStore::for_build(dir.path().to_path_buf(), Some("build 2".into()));
        assert_eq!(
            rebuilt.get("key"),
            None,
            "a rebuilt generator finishes again"
        );
        // Without a known build nothing is kept, nor found.
        let unknown = ModuleStore::for_build(dir.path().to_path_buf(), None);
        unknown.put("kept?", &module);
        assert_eq!(unknown.get("key"), None);
        assert_eq!(store.get("kept?"), None);
        let build_folders = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(build_folders, 2, "one folder per known build");
    }

    #[test]
    fn only_the_builds_used_last_keep_their_modules() {
        let dir = tempfile::tempdir().unwrap();
        let module = FinishedModule {
            code: "pub struct A;\n".into(),
            fallbacks: Vec::new(),
        };
        let mut folders = Vec::new();
        for build in 0..KEPT_BUILDS + 2 {
            let store = ModuleStore::for_build(dir.path().to_path_buf(), Some(format!("b{build}")));
            store.put("key", &module);
            folders.push(store.store.dir.clone());
            // Each build used a minute after the one before.
            let used = std::time::SystemTime::now()
                - Duration::from_secs(60 * (KEPT_BUILDS + 2 - build) as u64);
            std::fs::File::options()
                .write(true)
                .open(store.store.dir.join(LAST_USED))
                .unwrap()
                .set_modified(used)
                .unwrap();
        }
        // Opening the last build again forgets all but the builds used last.
        let last = ModuleStore::for_build(
            dir.path().to_path_buf(),
            Some(format!("b{}", KEPT_BUILDS + 1)),
        );
        assert_eq!(last.get("key"), Some(module));
        let kept: Vec<bool> = folders.iter().map(|f| f.exists()).collect();
        assert_eq!(
            kept,
            [false, false, true, true, true, true],
            "the two used longest ago are removed"
        );
    }
}
