#!/usr/bin/env bash
# Runs every test of bedrock-cost-exporter — unit tests, DuckDB reconciliation, real Prometheus and
# promtool on loopback — after installing what is missing on a Debian machine:
#   - Debian's `prometheus` package (prometheus + promtool), with apt-get;
#   - a Python venv in .venv with DuckDB (the independent reference for every figure) and moto's
#     S3-compatible server (the S3 tests run it on loopback with SigV4 checking on).
# Also checks formatting and clippy. Usage: ./scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]} (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! .venv/bin/python -c 'import duckdb, moto, flask' >/dev/null 2>&1 || [ ! -x .venv/bin/moto_server ]; then
  echo "== creating .venv with duckdb and moto[server]"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q 'duckdb>=1.1,<3' 'moto[server]>=5,<6'
fi
export REFERENCE_PYTHON="$PWD/.venv/bin/python"

# A target dir outside the clone, so CI and later runs reuse builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bedrock-cost-exporter/target}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test (all tests, including real prometheus/promtool and DuckDB)"
cargo test --workspace --all-targets "$@"
