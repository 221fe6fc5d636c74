#!/usr/bin/env bash
# The long soak: 1,000 refreshes (default) against moto on loopback, the export changing every
# refresh and the S3 server killed and restarted every 10th; prints anonymous resident memory and
# open file descriptors (first, median, last, max; the fitted growth per 100 refreshes after the
# first third, see tests/it/soak.rs). Debug build (the one the tests use; ~0.4 s a refresh on 2
# cores, mostly moto), or SOAK_PROFILE=release.
# Usage: scripts/soak.sh [REFRESHES]   (needs .venv with moto[server]: ./scripts/test.sh makes it)
set -euo pipefail
cd "$(dirname "$0")/.."
export REFERENCE_PYTHON="${REFERENCE_PYTHON:-$PWD/.venv/bin/python}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"  # ./target, as cargo run
export AWS_EC2_METADATA_DISABLED=true
export SOAK_REFRESHES="${1:-1000}"
profile=()
[ "${SOAK_PROFILE:-dev}" = release ] && profile=(--release)
cargo test "${profile[@]}" --test it soak::soak_refreshes -- --nocapture 2>&1 | grep -E '^SOAK|test result|panicked|assert'
