#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (the CSV scanner, the manifest parser, the usage-type
# parser and classifier, the configuration loader), each for SECONDS (default 600), one after the
# other, on nightly Rust with debug assertions (overflow checks) and no sanitizer (the crate
# forbids unsafe code). Each starts from its committed seed corpus, fuzz/corpus/<target>/, and
# grows a scratch copy (the committed one stays small); a crash fails the run and leaves its input
# in fuzz/artifacts/<target>/ (reproduce: cargo +nightly fuzz run -s none -a <target> <file>).
# Installs cargo-fuzz when missing (crates.io); needs a nightly toolchain (rustup).
# Prints per target: executions, executions per second, coverage (edges) and features.
# Usage: ./scripts/fuzz.sh [seconds-per-target] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv_scanner manifest usage_type config)

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly Rust toolchain; install one with: rustup toolchain install nightly --profile minimal" >&2
  rustup toolchain install nightly --profile minimal
fi
# Pinned: upgrading is a deliberate change of this line.
CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo +nightly fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION (cargo install --locked)"
  cargo install --locked --force cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# Fuzz builds (nightly, instrumented) share nothing with the stable build: they live outside the
# clone, so every clone of this machine (CI's) reuses them. FUZZ_TARGET_DIR overrides.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/bedrock-cost-exporter/fuzz-target}"
flags=(-s none -a)
(cd fuzz && cargo +nightly fuzz build "${flags[@]}")

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  log="$scratch/$t.log"
  echo "== fuzz $t for ${secs}s"
  if ! (cd fuzz && cargo +nightly fuzz run "${flags[@]}" "$t" "$scratch/$t" "$root/fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $t failed; the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  echo "fuzz $t: ${execs} executions, ${rate}/s, cov ${cov} edges, ft ${ft}, corpus ${corp}, no crash"
done
