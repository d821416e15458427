//! Writes the committed seed corpus of both fuzz targets (and the throwaway fuzzing key, if it is
//! missing): `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.
//!
//! * `corpus/decode/`: for every operation of `passage_generated::operations()`, sample results
//!   (plain and "drifted": unknown fields and enum values) generated from its result schema by
//!   `passage-samples`, in the three modes of the `decode` target, plus the API notes' examples.
//! * `corpus/verify/`: webhooks signed with `keys/fuzz-signing-key.pem` at the target's fixed
//!   time, in the raw mode (complete, failed, unknown event, multi-operation result) and as
//!   signed bodies and crafted JWTs.

use std::fs;
use std::path::Path;

use passage_connect::webhook::signing::{sign_webhook, WebhookSigningKey};
use passage_generated::operations;
use passage_samples::{sample_with, SampleOptions};
use serde_json::{json, Value};

const KID: &str = "wsk_fuzz";
const NOW: u64 = 1_704_067_200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let key_path = root.join("keys/fuzz-signing-key.pem");
    if !key_path.exists() {
        fs::write(&key_path, WebhookSigningKey::generate().to_pkcs8_pem())?;
    }
    let key = WebhookSigningKey::from_pem(&fs::read_to_string(&key_path)?)?;

    let decode_dir = root.join("corpus/decode");
    let verify_dir = root.join("corpus/verify");
    fs::create_dir_all(&decode_dir)?;
    fs::create_dir_all(&verify_dir)?;

    let registry: Vec<_> = operations().collect();
    let mut samples: Vec<(usize, Value)> = Vec::new();
    for (index, op) in registry.iter().enumerate() {
        let Some(schema) = op.result_schema else {
            continue;
        };
        let schema: Value = serde_json::from_str(schema)?;
        for (seed, options) in [
            (1, SampleOptions::default()),
            (2, SampleOptions::default()),
            (3, SampleOptions::drifted()),
        ] {
            match sample_with(&schema, seed, &options) {
                Ok(value) => samples.push((index, value)),
                Err(err) => eprintln!("{}/{}/{}: {err}", op.integration, op.resource, op.action),
            }
        }
    }

    let mut n = 0;
    let mut write = |dir: &Path, name: String, bytes: Vec<u8>| -> std::io::Result<()> {
        n += 1;
        fs::write(dir.join(name), bytes)
    };

    // decode: mode 0 (decode_result) and 1 (single-operation link) for each sample; mode 2 (two
    // operations: the same one twice) wrapping two samples of one operation.
    for (i, (index, value)) in samples.iter().enumerate() {
        let text = serde_json::to_vec(value)?;
        for mode in [0u8, 1] {
            let mut input = vec![((*index as u8) << 2) | mode];
            input.extend_from_slice(&text);
            write(&decode_dir, format!("op{index:02}-s{i:03}-m{mode}"), input)?;
        }
        let op = registry[*index];
        let multi = json!({"operations": [
            {"resource": op.resource, "action": op.action, "data": value},
            {"resource": op.resource, "action": op.action, "data": value, "error": null},
        ]});
        let mut input = vec![((*index as u8) << 2) | 2];
        input.extend_from_slice(&serde_json::to_vec(&multi)?);
        write(&decode_dir, format!("op{index:02}-s{i:03}-m2"), input)?;
    }
    let unknown = (registry.len() as u8) << 2;
    write(
        &decode_dir,
        "unknown-op".into(),
        [&[unknown][..], br#"{"anything":[1,2.5,"x",null]}"#].concat(),
    )?;
    write(&decode_dir, "api-notes-single".into(), [&[0u8][..], br#"{"billing":[{"periodStart":"01/15/2025","periodEnd":"02/14/2025","amountDue":85.0,"currency":"USD"}]}"#].concat())?;

    // verify: raw mode with real signatures.
    let billing = samples
        .iter()
        .find(|(i, _)| {
            registry[*i].integration == "tmobile"
                && registry[*i].resource == "mobileBillingStatement"
        })
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| json!({"billing": []}));
    let bodies = [
        (
            "complete",
            json!({"event":"link.complete","linkId":"link_abc123","status":"complete","result":billing,"error":null,"timestamp":1_704_067_200_000u64}),
        ),
        (
            "failed",
            json!({"event":"link.failed","linkId":"link_abc123","status":"failed","error":{"code":"AUTOMATION_ERROR","message":"login failed"},"timestamp":1_704_067_200_000u64}),
        ),
        (
            "failed-string-error",
            json!({"event":"link.failed","linkId":"link_abc123","status":"failed","error":"timeout","timestamp":1_704_067_200_000u64}),
        ),
        (
            "unknown-event",
            json!({"event":"link.renamed","linkId":"link_abc123","timestamp":1_704_067_200_000u64}),
        ),
        (
            "multi",
            json!({"event":"link.complete","linkId":"link_m","status":"complete","timestamp":1_704_067_200_000u64,"result":{"operations":[
            {"resource":"paymentMethod","action":"read","data":{"paymentMethods":[]}},
            {"resource":"paymentMethod","action":"write","data":{"dryRun":true}}]}}),
        ),
    ];
    for (name, body) in &bodies {
        let body = serde_json::to_vec(body)?;
        let signed = sign_webhook(&key, KID, &body, NOW);
        let raw = [
            &[0u8][..],
            signed.signature.as_bytes(),
            b"\n",
            signed.timestamp.as_bytes(),
            b"\n",
            &body,
        ]
        .concat();
        write(&verify_dir, format!("raw-{name}"), raw)?;
        write(
            &verify_dir,
            format!("signed-{name}"),
            [&[1u8][..], &body].concat(),
        )?;
    }
    let header = br#"{"alg":"ES256","typ":"JWT","kid":"wsk_fuzz"}"#;
    let body = serde_json::to_vec(&bodies[0].1)?;
    let claims = format!(
        r#"{{"request_body_sha256":"{}","iat":{NOW}}}"#,
        sha256_hex(&body)
    );
    write(
        &verify_dir,
        "jwt-valid".into(),
        [&[2u8][..], header, b"\n", claims.as_bytes(), b"\n", &body].concat(),
    )?;
    let none_header = br#"{"alg":"none","typ":"JWT","kid":"wsk_fuzz"}"#;
    write(
        &verify_dir,
        "jwt-alg-none".into(),
        [
            &[2u8][..],
            none_header,
            b"\n",
            claims.as_bytes(),
            b"\n",
            &body,
        ]
        .concat(),
    )?;
    write(&verify_dir, "raw-empty".into(), b"\0\n\n".to_vec())?;

    println!("wrote {n} seed files");
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
