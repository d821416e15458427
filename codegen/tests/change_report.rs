//! The change report on the pinned catalog mutated one way at a time: for each mutation, the
//! role verdict, a counterexample that the `jsonschema` validator really accepts under one
//! schema and refuses under the other (checked again here, against the schemas as published),
//! the kind of Rust API impact on the crate generated from each catalog, and the semver bump.

use std::collections::BTreeMap;
use std::path::Path;

use passage_catalog::Catalog;
use passage_codegen::api_diff::{self, ApiChangeKind, ApiSeverity, PublicApi};
use passage_codegen::compat::Side;
use passage_codegen::diff::{self, Bump, ChangeReport, Impact};
use passage_codegen::{generate, SchemaRole, Settings};
use serde_json::{json, Value};

fn pinned() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog/providers.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Applies `edit` to the `role` schema of `resource`/`action` of every carrier that publishes
/// it, so a schema shared by several integrations stays shared (its module keeps its name).
fn edit_schema(
    catalog: &mut Value,
    resource: &str,
    action: &str,
    role: &str,
    edit: &dyn Fn(&mut Value),
) {
    for provider in catalog["providers"].as_array_mut().unwrap() {
        for res in provider["resources"].as_array_mut().unwrap() {
            if res["name"] == resource {
                if let Some(schema) = res["operations"]
                    .get_mut(action)
                    .and_then(|o| o.get_mut(role))
                {
                    if schema.is_object() {
                        edit(schema);
                    }
                }
            }
        }
    }
}

fn payment_item(schema: &mut Value) -> &mut Value {
    &mut schema["properties"]["paymentMethods"]["items"]
}

fn required_remove(schema: &mut Value, name: &str) {
    schema["required"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v != name);
}

fn required_add(schema: &mut Value, name: &str) {
    schema["required"].as_array_mut().unwrap().push(json!(name));
}

/// One row of the table.
struct Row {
    name: &'static str,
    /// `resource/action` and role of the schema the mutation changes.
    op: (&'static str, &'static str, SchemaRole),
    mutate: fn(&mut Value),
    /// The wire verdict for that schema.
    wire: Impact,
    /// The Rust API change expected (with its severity), if any.
    api: Option<(ApiChangeKind, ApiSeverity)>,
    bump: Bump,
}

const READ: (&str, &str, SchemaRole) = ("paymentMethod", "read", SchemaRole::Result);
const WRITE_RESULT: (&str, &str, SchemaRole) = ("paymentMethod", "write", SchemaRole::Result);
const WRITE_ARGS: (&str, &str, SchemaRole) = ("paymentMethod", "write", SchemaRole::Arguments);
const BILLING_ARGS: (&str, &str, SchemaRole) =
    ("mobileBillingStatement", "read", SchemaRole::Arguments);

fn edit(catalog: &mut Value, op: (&str, &str, SchemaRole), f: &dyn Fn(&mut Value)) {
    let role = if op.2 == SchemaRole::Result {
        "result"
    } else {
        "arguments"
    };
    edit_schema(catalog, op.0, op.1, role, f);
}

#[rustfmt::skip]
fn table() -> Vec<Row> {
    use ApiChangeKind as K;
    use ApiSeverity::{Addition, Breaking};
    use Impact::{Breaking as Breaks, Compatible as Compat};
    vec![
        Row { name: "result field added, optional", op: READ, wire: Compat, api: Some((K::FieldAdded, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| { payment_item(s)["properties"]["walletId"] = json!({"type": "string"}); }) },
        Row { name: "result field added, required", op: READ, wire: Compat, api: Some((K::FieldAdded, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| { let item = payment_item(s); item["properties"]["walletId"] = json!({"type": "string"}); required_add(item, "walletId"); }) },
        Row { name: "result field removed (was required)", op: READ, wire: Breaks, api: Some((K::FieldRemoved, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| { let item = payment_item(s); item["properties"].as_object_mut().unwrap().remove("vendorId"); required_remove(item, "vendorId"); }) },
        Row { name: "result field made optional", op: READ, wire: Breaks, api: Some((K::FieldRetyped, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| required_remove(payment_item(s), "order")) },
        Row { name: "result field made required", op: READ, wire: Compat, api: Some((K::FieldRetyped, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| required_add(payment_item(s), "brand")) },
        Row { name: "result field retyped integer -> string", op: READ, wire: Breaks, api: Some((K::FieldRetyped, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| { payment_item(s)["properties"]["order"] = json!({"type": "string"}); }) },
        Row { name: "result enum value added", op: READ, wire: Compat, api: Some((K::VariantAdded, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| { payment_item(s)["properties"]["type"]["enum"].as_array_mut().unwrap().push(json!("paypal")); }) },
        Row { name: "result enum value removed", op: READ, wire: Compat, api: Some((K::VariantRemoved, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, READ, &|s| { payment_item(s)["properties"]["type"]["enum"].as_array_mut().unwrap().retain(|v| v != "other"); }) },
        Row { name: "result union variant added", op: WRITE_RESULT, wire: Compat, api: Some((K::VariantAdded, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, WRITE_RESULT, &|s| { s["anyOf"].as_array_mut().unwrap().push(json!({"type": "object", "additionalProperties": false,
                "required": ["pending"], "properties": {"pending": {"const": true, "type": "boolean"}, "reference": {"type": "string"}}})); }) },
        Row { name: "argument field made required", op: WRITE_ARGS, wire: Breaks, api: Some((K::FieldRetyped, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, WRITE_ARGS, &|s| required_add(s, "billingAddress")) },
        Row { name: "argument field made optional", op: WRITE_ARGS, wire: Compat, api: Some((K::FieldRetyped, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, WRITE_ARGS, &|s| required_remove(s, "cvv")) },
        Row { name: "argument field added, optional", op: WRITE_ARGS, wire: Compat, api: Some((K::FieldAdded, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, WRITE_ARGS, &|s| { s["properties"]["saveAsDefault"] = json!({"type": "boolean"}); }) },
        Row { name: "argument field added, required", op: WRITE_ARGS, wire: Breaks, api: Some((K::FieldAdded, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, WRITE_ARGS, &|s| { s["properties"]["captcha"] = json!({"type": "string"}); required_add(s, "captcha"); }) },
        Row { name: "argument field removed", op: WRITE_ARGS, wire: Breaks, api: Some((K::FieldRemoved, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, WRITE_ARGS, &|s| { s["properties"].as_object_mut().unwrap().remove("dryRun"); }) },
        Row { name: "argument field retyped integer -> string", op: BILLING_ARGS, wire: Breaks, api: Some((K::FieldRetyped, Breaking)), bump: Bump::Major,
            mutate: |c| edit(c, BILLING_ARGS, &|s| { s["properties"]["limit"] = json!({"type": "string"}); }) },
        Row { name: "argument pattern tightened (no Rust change)", op: WRITE_ARGS, wire: Breaks, api: None, bump: Bump::Major,
            mutate: |c| edit(c, WRITE_ARGS, &|s| { s["properties"]["cardNumber"]["pattern"] = json!("^[0-9]{16}$"); }) },
        Row { name: "argument pattern loosened", op: WRITE_ARGS, wire: Compat, api: None, bump: Bump::Patch,
            mutate: |c| edit(c, WRITE_ARGS, &|s| { s["properties"]["cardNumber"]["pattern"] = json!("^[0-9]{8,19}$"); }) },
        Row { name: "operation added", op: ("paymentMethod", "delete", SchemaRole::Result), wire: Compat, api: Some((K::ItemAdded, Addition)), bump: Bump::Minor,
            mutate: |c| { c["providers"][0]["resources"][1]["operations"]["delete"] = json!({"description": "Remove a card.", "arguments": null,
                "result": {"type": "object", "additionalProperties": false, "required": ["removed"], "properties": {"removed": {"type": "boolean"}}}}); } },
    ]
}

fn schema_of(
    catalog: &Catalog,
    integration: &str,
    resource: &str,
    action: &str,
    role: SchemaRole,
) -> Option<Value> {
    let op = catalog.operations().find(|op| {
        op.integration == integration && op.resource == resource && op.action == action
    })?;
    match role {
        SchemaRole::Result => op.spec.result.clone(),
        SchemaRole::Arguments => op.spec.arguments.clone(),
    }
}

fn role_of(report: &ChangeReport, operation: &str, role: SchemaRole) -> Vec<diff::Change> {
    report
        .changes
        .iter()
        .filter(|c| c.operation == operation && c.role == Some(role))
        .cloned()
        .collect()
}

#[test]
fn the_report_on_each_mutation_of_the_pinned_catalog() {
    let settings = Settings::default();
    let old_value = pinned();
    let old_bytes = serde_json::to_vec(&old_value).unwrap();
    let old_catalog = Catalog::from_slice(&old_bytes).unwrap();
    let old_files = generate(&old_bytes, &settings).unwrap().files;
    let rows = table();
    assert!(rows.len() >= 12);
    let mut failures = Vec::new();
    for row in rows {
        let mut new_value = old_value.clone();
        (row.mutate)(&mut new_value);
        assert_ne!(
            new_value, old_value,
            "{}: the mutation changed nothing",
            row.name
        );
        let new_bytes = serde_json::to_vec(&new_value).unwrap();
        let new_catalog = Catalog::from_slice(&new_bytes).unwrap();
        let new_files = generate(&new_bytes, &settings).unwrap().files;
        let report = diff::report(&old_catalog, &new_catalog, &old_files, &new_files);
        let operation = format!("tmobile {}/{}", row.op.0, row.op.1);
        let mut problems = Vec::new();

        let changes = role_of(&report, &operation, row.op.2);
        let wire = changes
            .iter()
            .map(|c| c.impact)
            .max()
            .unwrap_or(Impact::Compatible);
        if wire != row.wire {
            problems.push(format!("wire verdict {wire:?}, expected {:?}", row.wire));
        }
        // Every breaking verdict has its proof, and the proof holds under the published schemas.
        let proofs: Vec<usize> = changes.iter().filter_map(|c| c.counterexample).collect();
        if changes
            .iter()
            .any(|c| c.impact == Impact::Breaking && c.counterexample.is_none())
        {
            problems.push("a breaking verdict without a counterexample".into());
        }
        if row.wire == Impact::Breaking && proofs.is_empty() {
            problems.push("no counterexample".into());
        }
        for i in proofs {
            let example = &report.counterexamples[i];
            let expected_side = if row.op.2 == SchemaRole::Result {
                Side::New
            } else {
                Side::Old
            };
            if example.valid_under != expected_side {
                problems.push(format!(
                    "counterexample valid under {:?}",
                    example.valid_under
                ));
            }
            let (resource, action, role) = row.op;
            let old = schema_of(&old_catalog, "tmobile", resource, action, role).unwrap();
            let new = schema_of(&new_catalog, "tmobile", resource, action, role).unwrap();
            let (accepts, refuses) = match example.valid_under {
                Side::Old => (old, new),
                Side::New => (new, old),
            };
            if !jsonschema::is_valid(&accepts, &example.payload)
                || jsonschema::is_valid(&refuses, &example.payload)
            {
                problems.push(format!("counterexample {} is not one", example.payload));
            }
        }
        let api = report.api.clone().unwrap_or_default();
        // The report parses only the files that differ; the changes must be those of the
        // whole crates.
        let whole = api_diff::compare(
            &PublicApi::from_files(&old_files),
            &PublicApi::from_files(&new_files),
        );
        let reported: Vec<_> = api.iter().map(|impact| impact.change.clone()).collect();
        if reported != whole {
            problems.push(format!(
                "the API changes of the files that differ, {reported:?}, are not those of the \
                 whole crates, {whole:?}"
            ));
        }
        match row.api {
            Some((kind, severity)) => {
                let found = api.iter().any(|i| {
                    i.change.kind == kind
                        && i.change.severity == severity
                        && i.operations.iter().any(|o| o.starts_with(&operation))
                });
                if !found {
                    problems.push(format!(
                        "no {kind:?} ({severity:?}) API change for {operation}"
                    ));
                }
            }
            None if !api.is_empty() => problems.push("unexpected API changes".into()),
            None => {}
        }
        if report.semver() != row.bump {
            problems.push(format!(
                "semver {:?}, expected {:?}",
                report.semver(),
                row.bump
            ));
        }
        if !report
            .to_string()
            .ends_with(&format!("semver: {}\n", row.bump.as_str()))
        {
            problems.push("the text does not end with the bump".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n{report}", row.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn an_unchanged_catalog_needs_a_patch_at_most() {
    let bytes = serde_json::to_vec(&pinned()).unwrap();
    let catalog = Catalog::from_slice(&bytes).unwrap();
    let files: BTreeMap<String, String> = generate(&bytes, &Settings::default()).unwrap().files;
    let report = diff::report(&catalog, &catalog, &files, &files);
    assert_eq!(report.semver(), Bump::Patch);
    assert_eq!(
        report.to_string(),
        "no catalog changes\nRust API of passage-generated: unchanged\nsemver: patch\n"
    );
}
