//! The module cache: a regen whose schemas did not change types and post-processes nothing
//! again, one changed schema costs one module, and the output is byte for byte what generation
//! without the cache makes. Modules whose typing hit a machine limit are never remembered.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use passage_codegen::modules::{FinishedModule, ModuleCache};
use passage_codegen::typing::{self, SchemaTyper, TypedSchemaText};
use passage_codegen::{generate, Generated, Settings};
use serde_json::{json, Value};

/// Finished modules (and formatted files) in memory, counting what is stored.
#[derive(Debug, Default)]
struct Memory {
    entries: Mutex<BTreeMap<String, FinishedModule>>,
    puts: AtomicUsize,
}

impl ModuleCache for Memory {
    fn get(&self, key: &str) -> Option<FinishedModule> {
        self.entries.lock().unwrap().get(key).cloned()
    }
    fn put(&self, key: &str, module: &FinishedModule) {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_owned(), module.clone());
    }
}

/// The in-process typer, counting the schemas it is asked to type; or, when `out_of_time`,
/// answering each as a typer whose time budget ran out.
#[derive(Debug, Default)]
struct Counting {
    typed: AtomicUsize,
    out_of_time: bool,
}

impl SchemaTyper for Counting {
    fn type_schemas(&self, schemas: &[Value], budget: Duration) -> Vec<TypedSchemaText> {
        self.typed.fetch_add(schemas.len(), Ordering::SeqCst);
        if self.out_of_time {
            return schemas
                .iter()
                .map(|s| typing::untyped(s, "over the time budget: typify ran longer than 1 s"))
                .collect();
        }
        typing::InProcessTyper.type_schemas(schemas, budget)
    }
}

fn pinned() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog/providers.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn bytes(catalog: &Value) -> Vec<u8> {
    serde_json::to_vec(catalog).unwrap()
}

fn assert_same(got: &Generated, expected: &Generated, what: &str) {
    assert_eq!(got.files, expected.files, "{what}: files");
    assert_eq!(got.warnings, expected.warnings, "{what}: warnings");
    assert_eq!(got.snapshots, expected.snapshots, "{what}: snapshots");
}

#[test]
fn unchanged_schemas_are_neither_typed_nor_finished_again_and_the_output_is_the_same() {
    let catalog = pinned();
    let uncached = generate(&bytes(&catalog), &Settings::default()).unwrap();
    let memory = Arc::new(Memory::default());
    let typer = Arc::new(Counting::default());
    let settings = Settings::default()
        .with_typer(typer.clone())
        .with_module_cache(memory.clone());

    let cold = generate(&bytes(&catalog), &settings).unwrap();
    assert_same(&cold, &uncached, "first run with the cache");
    let modules = uncached
        .files
        .keys()
        .filter(|path| path.starts_with("src/types/"))
        .count();
    assert!(modules >= 5, "{modules} types modules");
    assert_eq!(typer.typed.load(Ordering::SeqCst), modules);
    // Each types module, and the formatted text of `lib.rs` and of each integration module.
    let integrations = uncached
        .files
        .keys()
        .filter(|path| path.starts_with("src/integrations/"))
        .count();
    assert_eq!(
        memory.puts.load(Ordering::SeqCst),
        modules + integrations + 1
    );

    let warm = generate(&bytes(&catalog), &settings).unwrap();
    assert_same(&warm, &uncached, "second run");
    assert_eq!(
        typer.typed.load(Ordering::SeqCst),
        modules,
        "nothing typed again"
    );
    assert_eq!(
        memory.puts.load(Ordering::SeqCst),
        modules + integrations + 1,
        "nothing finished or formatted again"
    );

    // One schema gains a property: that schema alone is typed.
    let mut changed = catalog.clone();
    let schema = changed["providers"][0]["resources"][0]["operations"]["read"]["result"]
        .as_object_mut()
        .expect("the pinned catalog's first operation has a result schema");
    schema["properties"]
        .as_object_mut()
        .unwrap()
        .insert("addedByTheTest".into(), json!({"type": "string"}));
    let after = generate(&bytes(&changed), &settings).unwrap();
    assert_same(
        &after,
        &generate(&bytes(&changed), &Settings::default()).unwrap(),
        "one schema changed",
    );
    assert_eq!(typer.typed.load(Ordering::SeqCst), modules + 1);
    // Made again: the changed schema's module, and each of `lib.rs` and the integration modules
    // whose text changed (the integration's, whose registry embeds the schema; `lib.rs` when the
    // schema's module was shared and the changed one now has its own).
    let files_changed = after
        .files
        .iter()
        .filter(|(path, text)| {
            (path.as_str() == "src/lib.rs" || path.starts_with("src/integrations/"))
                && uncached.files.get(*path) != Some(*text)
        })
        .count();
    assert!(files_changed >= 1);
    assert_eq!(
        memory.puts.load(Ordering::SeqCst),
        modules + integrations + 1 + 1 + files_changed,
        "only what changed made again"
    );

    // A module the compile gate refused is keyed apart from its typed form, both ways.
    let module = uncached
        .files
        .keys()
        .find_map(|path| path.strip_prefix("src/types/")?.strip_suffix(".rs"))
        .unwrap()
        .to_owned();
    let refused = generate(
        &bytes(&catalog),
        &settings
            .clone()
            .with_untyped_module(&module, "refused by the test"),
    )
    .unwrap();
    assert_same(
        &refused,
        &generate(
            &bytes(&catalog),
            &Settings::default().with_untyped_module(&module, "refused by the test"),
        )
        .unwrap(),
        "a refused module",
    );
    assert_same(
        &generate(&bytes(&catalog), &settings).unwrap(),
        &uncached,
        "typed again after a refusal",
    );
}

#[test]
fn a_module_typed_at_a_machine_limit_is_not_remembered() {
    let memory = Arc::new(Memory::default());
    let typer = Arc::new(Counting {
        out_of_time: true,
        ..Counting::default()
    });
    let settings = Settings::default()
        .with_typer(typer.clone())
        .with_module_cache(memory.clone());
    let generated = generate(&bytes(&pinned()), &settings).unwrap();
    assert!(
        generated
            .warnings
            .iter()
            .any(|w| w.message.contains("over the time budget")),
        "{:?}",
        generated.warnings
    );
    assert!(
        memory
            .entries
            .lock()
            .unwrap()
            .values()
            .all(|entry| entry.fallbacks.is_empty()),
        "only formatted files kept, no module typed at a limit"
    );
    let typed = typer.typed.load(Ordering::SeqCst);
    generate(&bytes(&pinned()), &settings).unwrap();
    assert_eq!(typer.typed.load(Ordering::SeqCst), 2 * typed, "typed again");
}
