#!/usr/bin/env bash
# The cardinality bomb at full size: one million distinct assumed-role sessions in one CSV.gz,
# read by `once` in a release build; prints the series, the peak RSS (/usr/bin/time) against its
# bound and the time, e.g.
#   cardinality bomb: 1000000 sessions, 20000 cost series (limit 20000), peak RSS 387 MB (bound 616 MB), 6.3 s
# It fails unless the cap holds, the totals are exact and the peak RSS is under both 1 GB and
# 128 MB + 512 bytes per session. The suite runs the same test with 200,000 sessions
# (tests/it/corpus.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"  # ./target, as cargo run
export AWS_EC2_METADATA_DISABLED=true
CORPUS_BOMB_SESSIONS="${CORPUS_BOMB_SESSIONS:-1000000}" \
  cargo test --release --test it a_cardinality_bomb -- --nocapture
