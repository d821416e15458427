//! Prints samples of a JSON Schema read from a file (or of every catalog operation's result).
//!
//! `cargo run -p passage-samples --example sample -- SCHEMA.json [FIRST_SEED] [COUNT] [--drift|--realistic]`

use passage_samples::{sample_with, SampleOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let drift = args.iter().any(|a| a == "--drift");
    let realistic = args.iter().any(|a| a == "--realistic");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(path) = positional.first() else {
        eprintln!("usage: sample SCHEMA.json [FIRST_SEED] [COUNT] [--drift|--realistic]");
        std::process::exit(2);
    };
    let first: u64 = positional.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let count: u64 = positional.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("cannot read {path}: {err}");
            std::process::exit(1);
        }
    };
    let schema: serde_json::Value = match serde_json::from_str(&text) {
        Ok(schema) => schema,
        Err(err) => {
            eprintln!("{path} is not JSON: {err}");
            std::process::exit(1);
        }
    };
    let options = if drift {
        SampleOptions::drifted()
    } else if realistic {
        SampleOptions::realistic()
    } else {
        SampleOptions::default()
    };
    for seed in first..first + count {
        match sample_with(&schema, seed, &options) {
            Ok(value) => println!("{value}"),
            Err(err) => {
                eprintln!("seed {seed}: {err}");
                std::process::exit(1);
            }
        }
    }
}
