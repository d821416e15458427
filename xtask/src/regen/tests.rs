//! `regen` on copies of the workspace: sources, pinning, `--check`, the change report.

use super::*;

fn args() -> RegenArgs {
    RegenArgs {
        catalog: None,
        fetch: false,
        check: false,
        // Nothing listens on the discard port: a fetch would fail the test.
        base_url: Some("http://127.0.0.1:9".into()),
        offline: false,
        out_dir: None,
        no_gate: false,
        schema_memory_mib: 4096,
        schema_seconds: 60,
        no_cache: false,
        shard_modules: DEFAULT_SHARD_MODULES,
        report: None,
    }
}

#[test]
fn only_the_fetch_flag_goes_online() {
    let key = || Some("psg_exported_for_the_cli".to_string());
    let env = || Some("http://127.0.0.1:4010".to_string());
    assert_eq!(
        choose_source(&args(), key(), env()).unwrap(),
        Source::Pinned
    );
    let fetch = RegenArgs {
        fetch: true,
        ..args()
    };
    let live = |base_url: &str| Source::Live {
        key: "psg_exported_for_the_cli".into(),
        base_url: base_url.into(),
    };
    assert_eq!(
        choose_source(&fetch, key(), env()).unwrap(),
        live("http://127.0.0.1:9"),
        "--base-url wins over the environment"
    );
    let from_env = RegenArgs {
        base_url: None,
        fetch: true,
        ..args()
    };
    assert_eq!(
        choose_source(&from_env, key(), env()).unwrap(),
        live("http://127.0.0.1:4010"),
        "PASSAGE_BASE_URL is read as the CLI reads it"
    );
    assert_eq!(
        choose_source(&from_env, key(), Some("  ".into())).unwrap(),
        live(PRODUCTION_BASE_URL),
        "blank is unset"
    );
    let err = choose_source(&fetch, None, env()).unwrap_err().to_string();
    assert!(err.contains("PASSAGE_API_KEY"), "{err}");
    let both = RegenArgs {
        catalog: Some("x.json".into()),
        ..fetch
    };
    assert!(choose_source(&both, key(), env()).is_err());
}

/// A copy of the workspace's inputs: the pinned catalog only (regen creates the rest).
fn workspace_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::copy(
        workspace_root().join("catalog/providers.json"),
        dir.path().join("catalog/providers.json"),
    )
    .unwrap();
    dir
}

/// `regen_in` with plain progress lines (never a bar, whatever the test's stderr is).
fn run(root: &Path, args: RegenArgs, api_key: Option<String>) -> Outcome {
    let progress = std::sync::Arc::new(progress::Progress::lines("regen"));
    regen_in(root, args, api_key, None, &progress).unwrap()
}

fn check() -> RegenArgs {
    RegenArgs {
        check: true,
        ..args()
    }
}

/// The diagnosis of a `--check` that must find something stale.
fn stale(outcome: Outcome) -> staleness::Diagnosis {
    match outcome {
        Outcome::Stale(diagnosis) => diagnosis,
        other => panic!("expected stale, got {other:?}"),
    }
}

fn written(outcome: Outcome) -> WriteCounts {
    match outcome {
        Outcome::Regenerated(counts) => counts,
        other => panic!("expected files written, got {other:?}"),
    }
}

/// `cargo xtask review --accept`.
fn accept_snapshots(root: &Path) {
    let accept = snapshots::ReviewArgs {
        accept: true,
        diff: false,
    };
    assert!(snapshots::review(root, &accept).unwrap());
}

/// A workspace copy as a maintainer has it after a clean clone: generated/ and the
/// snapshots made from the pinned catalog, reviewed, `--check` clean.
fn up_to_date_workspace() -> tempfile::TempDir {
    let root = workspace_copy();
    written(run(root.path(), args(), None));
    accept_snapshots(root.path());
    assert!(matches!(run(root.path(), check(), None), Outcome::UpToDate));
    root
}

fn pinned_catalog() -> serde_json::Value {
    let text = std::fs::read_to_string(workspace_root().join("catalog/providers.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn to_bytes(value: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_string_pretty(value).unwrap();
    out.push('\n');
    out.into_bytes()
}

/// The pinned catalog with the first operation's description changed.
fn changed_catalog() -> Vec<u8> {
    let mut value = pinned_catalog();
    let operations = value["providers"][0]["resources"][0]["operations"]
        .as_object_mut()
        .expect("the pinned catalog has operations");
    let first = operations.values_mut().next().unwrap();
    first["description"] = "Changed upstream.".into();
    to_bytes(&value)
}

/// The pinned catalog with two fields added to one schema: doordash's `orderHistory/read`
/// result, which no other integration shares.
fn one_schema_changed() -> Vec<u8> {
    let mut value = pinned_catalog();
    let doordash = value["providers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["id"] == "doordash")
        .expect("doordash in the pinned catalog");
    let order = doordash["resources"][0]["operations"]["read"]["result"]["$defs"]["Order"]
        ["properties"]
        .as_object_mut()
        .expect("doordash's Order has properties");
    order.insert("tipAmount".into(), serde_json::json!({"type": "number"}));
    order.insert(
        "loyaltyPoints".into(),
        serde_json::json!({"type": "integer"}),
    );
    to_bytes(&value)
}

#[test]
fn catalog_file_is_pinned_labelled_relative_and_check_agrees_afterwards() {
    let root = workspace_copy();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("providers-new.json");
    std::fs::write(&file, changed_catalog()).unwrap();
    let key = Some("psg_exported_for_the_cli".to_string());

    // Before pinning, `--check --catalog FILE` says the pin is stale and changes nothing.
    let pinned_before = std::fs::read(root.path().join("catalog/providers.json")).unwrap();
    let check_file = RegenArgs {
        catalog: Some(file.clone()),
        check: true,
        ..args()
    };
    let diagnosis = stale(run(root.path(), check_file, key.clone()));
    assert!(
        matches!(diagnosis.state, staleness::State::PinDiffers { .. }),
        "{diagnosis}"
    );
    assert!(diagnosis
        .to_string()
        .contains("cargo xtask regen --catalog"));
    assert_eq!(
        std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
        pinned_before
    );

    let from_file = RegenArgs {
        catalog: Some(file.clone()),
        ..args()
    };
    written(run(root.path(), from_file, key.clone()));
    assert_eq!(
        std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
        std::fs::read(&file).unwrap(),
        "--catalog FILE pins FILE"
    );
    let lib = std::fs::read_to_string(root.path().join("generated/src/lib.rs")).unwrap();
    let header: String = lib.lines().take_while(|l| l.starts_with("//")).collect();
    assert!(header.contains("catalog/providers.json"), "{header}");
    for machine_path in [root.path(), elsewhere.path()] {
        let text = machine_path.display().to_string();
        assert!(
            !header.contains(&text),
            "absolute path in the header: {header}"
        );
    }

    // `regen --check` (key exported, no --fetch: still offline) agrees with what was made.
    accept_snapshots(root.path());
    assert!(matches!(run(root.path(), check(), key), Outcome::UpToDate));
}

#[test]
fn an_experiment_with_out_dir_pins_nothing_and_names_only_its_file() {
    let root = workspace_copy();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("synthetic.json");
    std::fs::write(&file, changed_catalog()).unwrap();
    let pinned_before = std::fs::read(root.path().join("catalog/providers.json")).unwrap();
    let out = elsewhere.path().join("out");
    let experiment = RegenArgs {
        catalog: Some(file),
        out_dir: Some(out.clone()),
        ..args()
    };
    written(run(root.path(), experiment, None));
    assert_eq!(
        std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
        pinned_before
    );
    let lib = std::fs::read_to_string(out.join("src/lib.rs")).unwrap();
    assert!(lib.contains("synthetic.json"), "{lib}");
    assert!(!lib.contains(&elsewhere.path().display().to_string()));
}

#[test]
fn check_after_the_pinned_catalog_changed_says_the_catalog_changed() {
    let root = up_to_date_workspace();
    // A pull that brings a new pinned catalog without the regen that goes with it.
    std::fs::write(
        root.path().join("catalog/providers.json"),
        changed_catalog(),
    )
    .unwrap();
    let diagnosis = stale(run(root.path(), check(), None));
    assert!(
        matches!(diagnosis.state, staleness::State::CatalogChanged { .. }),
        "{diagnosis}"
    );
    let text = diagnosis.to_string();
    assert!(text.contains("why: the catalog changed"), "{text}");
    assert!(text.contains("run `cargo xtask regen`"), "{text}");
    assert!(!text.contains("generator"), "{text}");

    // The fix it names works.
    written(run(root.path(), args(), None));
    accept_snapshots(root.path());
    assert!(matches!(run(root.path(), check(), None), Outcome::UpToDate));
}

#[test]
fn check_with_snapshots_waiting_says_pending_review_and_review_accept_settles_it() {
    let root = up_to_date_workspace();
    let file = root.path().join("providers-new.json");
    std::fs::write(&file, one_schema_changed()).unwrap();
    let fetched = RegenArgs {
        catalog: Some(file),
        ..args()
    };
    assert_eq!(
        written(run(root.path(), fetched, None)).pending_snapshots,
        1
    );

    let diagnosis = stale(run(root.path(), check(), None));
    assert_eq!(
        diagnosis.state,
        staleness::State::SnapshotsPending { count: 1 },
        "{diagnosis}"
    );
    let text = diagnosis.to_string();
    assert!(text.contains("snapshots pending review"), "{text}");
    assert!(text.contains("`cargo xtask review`"), "{text}");
    assert!(text.contains("`cargo xtask review --accept`"), "{text}");
    assert!(
        !text.contains("generator") && !text.contains("cargo xtask regen"),
        "names neither a generator change nor a regen that would change nothing: {text}"
    );

    accept_snapshots(root.path());
    assert!(matches!(run(root.path(), check(), None), Outcome::UpToDate));
}

#[test]
fn a_hand_edited_generated_file_is_not_called_a_catalog_change() {
    let root = up_to_date_workspace();
    let path = root.path().join("generated/src/integrations/doordash.rs");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("// edited by hand\n");
    std::fs::write(&path, text).unwrap();
    let diagnosis = stale(run(root.path(), check(), None));
    assert_eq!(diagnosis.state, staleness::State::GeneratorChanged);
    assert_eq!(
        diagnosis.items,
        ["generated/src/integrations/doordash.rs differs"]
    );
    assert!(diagnosis.to_string().contains("edited by hand"));
}

/// Before provenance moved into `src/provenance.rs`, every file's header held the catalog's
/// SHA-256, so any schema change rewrote all 19 files of the generated crate. Now a change to
/// a schema one integration publishes rewrites 3 of its 20: the schema's types module, the
/// integration's file (its registry holds the schema) and the provenance file; and one
/// snapshot, the operation's.
#[test]
fn one_schema_change_rewrites_only_its_module_its_integration_and_the_provenance() {
    let root = up_to_date_workspace();
    let file = root.path().join("providers-new.json");
    std::fs::write(&file, one_schema_changed()).unwrap();
    let counts = written(run(
        root.path(),
        RegenArgs {
            catalog: Some(file),
            ..args()
        },
        None,
    ));
    assert_eq!(
        counts.written,
        [
            "src/integrations/doordash.rs",
            "src/provenance.rs",
            "src/types/doordash_order_history_read_result.rs",
        ],
    );
    assert!(counts.removed.is_empty());
    assert_eq!(counts.pending_snapshots, 1);
    let pending: Vec<String> = std::fs::read_dir(root.path().join(snapshots::SNAPSHOT_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".snap.new"))
        .collect();
    assert_eq!(
        pending,
        ["operation_snapshots__doordash__orderHistory__read.snap.new"]
    );
    // Only the provenance file names the catalog's hash.
    let sha = sha_hex(&one_schema_changed());
    let generated = root.path().join("generated");
    let naming_it: Vec<String> = std::iter::once("Cargo.toml".to_owned())
        .chain(["src/lib.rs".to_owned(), "src/provenance.rs".to_owned()])
        .chain(gate::module_files(&generated).unwrap())
        .filter(|path| {
            std::fs::read_to_string(generated.join(path))
                .unwrap()
                .contains(&sha)
        })
        .collect();
    assert_eq!(naming_it, ["src/provenance.rs"]);
}

/// The maintainer's `PASSAGE_BASE_URL=... cargo xtask regen --fetch` against the emulator:
/// the base URL comes from the environment (no `--base-url`), the key goes in the header,
/// and what the emulator serves is what gets pinned and generated.
#[test]
fn fetch_from_passage_base_url_pins_the_catalog_the_emulator_serves() {
    let served = Catalog::from_slice(&one_schema_changed()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime
        .block_on(passage_mock::MockServer::start(
            passage_mock::MockConfig::default().with_catalog(served.clone()),
        ))
        .unwrap();
    let root = up_to_date_workspace();
    let fetch = RegenArgs {
        fetch: true,
        base_url: None,
        ..args()
    };
    let progress = std::sync::Arc::new(progress::Progress::lines("regen"));
    let outcome = regen_in(
        root.path(),
        fetch,
        Some(mock.api_key().to_owned()),
        Some(mock.base_url()),
        &progress,
    )
    .unwrap();
    assert_eq!(written(outcome).pending_snapshots, 1);
    let pinned = std::fs::read(root.path().join("catalog/providers.json")).unwrap();
    assert_eq!(Catalog::from_slice(&pinned).unwrap(), served);

    // A wrong key is refused by the emulator, and nothing is pinned.
    let refused = regen_in(
        root.path(),
        RegenArgs {
            fetch: true,
            base_url: None,
            ..args()
        },
        Some("psg_test_wrong".into()),
        Some(mock.base_url()),
        &progress,
    )
    .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused:#}");
    assert_eq!(
        std::fs::read(root.path().join("catalog/providers.json")).unwrap(),
        pinned
    );
    runtime.block_on(mock.shutdown());
}

/// `regen --catalog FILE --report DIR` on a catalog with a result field made optional and
/// an argument made required in every carrier: `report.md` ends with the bump, and each
/// `counterexamples/NN.json` has exactly the contract's fields and really is valid under the
/// schema it names and refused by the other.
#[test]
fn report_dir_holds_the_markdown_and_one_file_per_counterexample() {
    let root = workspace_copy();
    let mut value = pinned_catalog();
    for provider in value["providers"].as_array_mut().unwrap() {
        for resource in provider["resources"].as_array_mut().unwrap() {
            if resource["name"] != "paymentMethod" {
                continue;
            }
            let read = &mut resource["operations"]["read"]["result"];
            read["properties"]["paymentMethods"]["items"]["required"]
                .as_array_mut()
                .unwrap()
                .retain(|name| name != "order");
            let write = &mut resource["operations"]["write"]["arguments"];
            write["required"]
                .as_array_mut()
                .unwrap()
                .push("billingAddress".into());
        }
    }
    let file = root.path().join("providers-new.json");
    std::fs::write(&file, to_bytes(&value)).unwrap();
    let report_dir = root.path().join("report");
    // A stale file of an earlier run must not survive.
    std::fs::create_dir_all(report_dir.join("counterexamples")).unwrap();
    std::fs::write(report_dir.join("counterexamples/09.json"), "{}").unwrap();
    let experiment = RegenArgs {
        catalog: Some(file),
        out_dir: Some(root.path().join("out")),
        no_gate: true,
        report: Some(report_dir.clone()),
        ..args()
    };
    let progress = std::sync::Arc::new(progress::Progress::lines("regen"));
    let outcome = regen_in(root.path(), experiment, None, None, &progress).unwrap();
    written(outcome);

    let markdown = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(
        markdown.starts_with("## Catalog change report"),
        "{markdown}"
    );
    assert!(markdown.ends_with("semver: major\n"), "{markdown}");
    assert!(
        markdown.contains("`types::payment_method_read_result::"),
        "{markdown}"
    );

    let old_catalog = Catalog::from_value(pinned_catalog()).unwrap();
    let new_catalog = Catalog::from_value(value).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(report_dir.join("counterexamples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["01.json", "02.json"],
        "one per proof, numbered in report order"
    );
    let mut roles = Vec::new();
    for name in names {
        let text = std::fs::read_to_string(report_dir.join("counterexamples").join(&name)).unwrap();
        let example: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut keys: Vec<&String> = example.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["operation", "payload", "role", "valid_under"],
            "{name}"
        );
        let operation = example["operation"].as_str().unwrap();
        let (integration, rest) = operation.split_once(' ').unwrap();
        let (resource, action) = rest.split_once('/').unwrap();
        let role = example["role"].as_str().unwrap();
        let schema = |catalog: &Catalog| {
            let op = catalog
                .operations()
                .find(|op| {
                    op.integration == integration && op.resource == resource && op.action == action
                })
                .unwrap();
            match role {
                "result" => op.spec.result.clone().unwrap(),
                _ => op.spec.arguments.clone().unwrap(),
            }
        };
        let (valid, refused) = match example["valid_under"].as_str().unwrap() {
            "old" => (schema(&old_catalog), schema(&new_catalog)),
            "new" => (schema(&new_catalog), schema(&old_catalog)),
            other => panic!("valid_under {other}"),
        };
        assert!(jsonschema::is_valid(&valid, &example["payload"]), "{text}");
        assert!(
            !jsonschema::is_valid(&refused, &example["payload"]),
            "{text}"
        );
        roles.push((
            role.to_owned(),
            example["valid_under"].as_str().unwrap().to_owned(),
        ));
        assert!(
            markdown.contains(&format!("`counterexamples/{name}`")),
            "{markdown}"
        );
    }
    // Results are read by old code (the payload is the new schema's); arguments are
    // written by it (the payload is the old schema's).
    assert_eq!(
        roles,
        [
            ("result".into(), "new".into()),
            ("arguments".into(), "old".into())
        ]
    );
}
