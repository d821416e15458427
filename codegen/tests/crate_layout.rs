//! Everything an integration adds to the generated crate lives in its own file, declared behind
//! its cargo feature: a build compiles only the integrations it turns on. In particular the
//! schema strings (the bulk of the registry) are not in `lib.rs`, which every build compiles.

use std::collections::BTreeMap;
use std::path::Path;

fn generated_files() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog = std::fs::read(root.join("catalog/providers.json")).unwrap();
    passage_codegen::generate(&catalog, &passage_codegen::Settings::default())
        .unwrap()
        .files
}

#[test]
fn lib_rs_holds_no_per_operation_parts() {
    let files = generated_files();
    let lib = &files["src/lib.rs"];
    // Schemas, aliases, registry entries and decode arms are per operation: none in lib.rs.
    for per_operation in [
        "$schema",
        "pub type ",
        "OperationInfo {\n        integration:",
        "(\"paymentMethod\", \"read\")",
        "__private::decode::<crate::",
    ] {
        assert!(
            !lib.contains(per_operation),
            "lib.rs holds `{per_operation}`, which belongs in an integration's file"
        );
    }
}

#[test]
fn each_integration_file_is_declared_behind_its_feature_and_holds_its_operations() {
    let files = generated_files();
    let lib = &files["src/lib.rs"];
    // Integration id → (module, operations in the pinned catalog).
    let expected = [
        ("apple-review", "apple_review", 1),
        ("att", "att", 3),
        ("doordash", "doordash", 1),
        ("tmobile", "tmobile", 3),
        ("ubereats", "ubereats", 1),
        ("verizon", "verizon", 3),
    ];
    let integration_files: Vec<&String> = files
        .keys()
        .filter(|path| path.starts_with("src/integrations/"))
        .collect();
    assert_eq!(
        integration_files.len(),
        expected.len(),
        "{integration_files:?}"
    );
    for (feature, module, operations) in expected {
        let declaration = format!(
            "#[cfg(feature = \"{feature}\")]\n#[path = \"integrations/{module}.rs\"]\npub mod {module};"
        );
        assert!(lib.contains(&declaration), "lib.rs lacks `{declaration}`");
        let file = &files[&format!("src/integrations/{module}.rs")];
        let entry = format!("crate::OperationInfo {{\n        integration: \"{feature}\",");
        assert_eq!(
            file.matches(&entry).count(),
            operations,
            "{module}.rs registry"
        );
        assert_eq!(
            file.matches("result_schema: ::std::option::Option::Some(")
                .count(),
            operations,
            "{module}.rs schemas"
        );
        // Each arm calls its result type's own plain decode function.
        assert_eq!(
            file.matches("::__decode(data)").count(),
            operations,
            "{module}.rs decode arms"
        );
        // Nothing of another integration.
        for (other, _, _) in expected.iter().filter(|(other, _, _)| *other != feature) {
            assert!(
                !file.contains(&format!("integration: \"{other}\"")),
                "{module}.rs holds an operation of {other}"
            );
        }
    }
}
