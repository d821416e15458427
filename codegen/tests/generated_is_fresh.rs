//! Fails when the committed `generated/` crate is not what the generator makes from the pinned
//! catalog (rust-analyzer's habit: the check is a plain test, and its message says why, from the
//! provenance `generated/src/provenance.rs` records, and the fix).

use std::path::Path;

#[test]
fn generated_crate_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog = std::fs::read(root.join("catalog/providers.json")).unwrap();
    let generated =
        passage_codegen::generate(&catalog, &passage_codegen::Settings::default()).unwrap();
    let mut stale = Vec::new();
    for (path, contents) in &generated.files {
        let on_disk =
            std::fs::read_to_string(root.join("generated").join(path)).unwrap_or_default();
        if on_disk != *contents {
            stale.push(path.clone());
        }
    }
    for dir in ["src/types", "src/integrations"] {
        for entry in std::fs::read_dir(root.join("generated").join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            if !generated.files.contains_key(&name) {
                stale.push(format!("{name} (no longer generated)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated/ is stale: {stale:?}\nwhy: {}\nfix: run `cargo xtask regen`, review the \
         snapshots with `cargo xtask review` and accept them with `cargo xtask review --accept`, \
         then commit",
        why_stale(&root.join("generated"), &generated.provenance)
    );
}

/// What changed since `generated/` was made, from the provenance it records.
fn why_stale(generated_dir: &Path, running: &passage_codegen::Provenance) -> String {
    let recorded = std::fs::read_to_string(generated_dir.join(passage_codegen::PROVENANCE_FILE))
        .ok()
        .and_then(|text| passage_codegen::Provenance::parse(&text));
    match recorded {
        None => format!(
            "generated/{} is missing or unreadable",
            passage_codegen::PROVENANCE_FILE
        ),
        Some(recorded) if recorded.catalog_sha256 != running.catalog_sha256 => {
            "the catalog changed: catalog/providers.json is not the catalog generated/ was made from"
                .into()
        }
        Some(recorded)
            if (&recorded.codegen_version, &recorded.typify_version)
                != (&running.codegen_version, &running.typify_version) =>
        {
            format!(
                "the generator's version changed (passage-codegen {} -> {}, typify {} -> {})",
                recorded.codegen_version,
                running.codegen_version,
                recorded.typify_version,
                running.typify_version
            )
        }
        Some(_) => "the generator changed: same catalog and generator versions, other output \
                    (the code under codegen/ changed, or a generated file was edited by hand)"
            .into(),
    }
}

#[test]
fn identical_schemas_generate_one_type() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog = std::fs::read(root.join("catalog/providers.json")).unwrap();
    let generated =
        passage_codegen::generate(&catalog, &passage_codegen::Settings::default()).unwrap();
    // tmobile and att publish the same billing schema; verizon's differs.
    let billing: Vec<&String> = generated
        .files
        .keys()
        .filter(|p| p.contains("mobile_billing_statement_read_result"))
        .collect();
    assert_eq!(billing.len(), 2, "{billing:?}");
    for integration in ["att", "tmobile"] {
        let aliases = &generated.files[&format!("src/integrations/{integration}.rs")];
        assert!(aliases.contains("pub type MobileBillingStatementReadResult = crate::types::mobile_billing_statement_read_result::MobileBillingStatementReadResult"));
    }
    // The three carriers share one paymentMethod/write arguments type.
    assert_eq!(
        generated
            .files
            .keys()
            .filter(|p| p.contains("payment_method_write_arguments"))
            .count(),
        1
    );
}

#[test]
fn recorded_typify_version_is_the_one_cargo_lock_pins() {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"))
        .unwrap();
    let pinned = lock
        .split("[[package]]")
        .find(|entry| entry.contains("name = \"typify\"\n"))
        .and_then(|entry| entry.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("typify is in Cargo.lock");
    assert_eq!(
        pinned,
        passage_codegen::TYPIFY_VERSION,
        "update TYPIFY_VERSION and run `cargo xtask regen`"
    );
}
