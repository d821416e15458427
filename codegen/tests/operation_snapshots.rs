//! One insta snapshot per catalog operation of its generated Rust, so a provider schema change
//! shows up in review as a readable diff of the types it produces. `cargo xtask regen` writes
//! pending `.snap.new` files for changed operations; `cargo xtask review` lists them and
//! `cargo xtask review --accept` accepts them (`cargo insta review` works too).

#[test]
fn every_operation_matches_its_reviewed_snapshot() {
    let catalog = include_bytes!("../../catalog/providers.json");
    let generated =
        passage_codegen::generate(catalog, &passage_codegen::Settings::default()).unwrap();
    assert!(!generated.snapshots.is_empty());
    for snapshot in &generated.snapshots {
        insta::assert_snapshot!(snapshot.name.clone(), &snapshot.code);
    }
}
