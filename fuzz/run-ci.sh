#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded time from the committed seed corpus; exits
# non-zero on a crash (libFuzzer's exit code) or a build failure.
#
#   fuzz/run-ci.sh            # 30 s per target
#   FUZZ_SECONDS=300 fuzz/run-ci.sh
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). cargo-fuzz needs nightly flags
# (-Zsanitizer); on a stable toolchain RUSTC_BOOTSTRAP=1 enables them. New inputs found during the
# run go to a scratch directory, so the committed corpus stays as reviewed; crash inputs are
# written to fuzz/artifacts/<target>/ (reproduce with `cargo fuzz run <target> <file>`).
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-30}"
targets=(verify decode)
export RUSTC_BOOTSTRAP=1
target_dir_args=()
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    target_dir_args=(--target-dir "$CARGO_TARGET_DIR/fuzz")
fi

start=$(date +%s)
cargo fuzz build "${target_dir_args[@]}"
echo "fuzz: build took $(( $(date +%s) - start ))s"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    echo "fuzz: running $target for ${seconds}s"
    cargo fuzz run "${target_dir_args[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
done
echo "fuzz: all targets ran ${seconds}s without a crash ($(( $(date +%s) - start ))s in total)"
