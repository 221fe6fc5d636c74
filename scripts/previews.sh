#!/usr/bin/env bash
# Regenerates grafana/previews/*.png: runs the dashboard test against a real Prometheus (generated
# export for the current month, budgets, the shipped rules), keeps every panel's query results,
# and draws each dashboard's panels from them (grafana/previews/render.py, matplotlib in .venv).
# Usage: ./scripts/previews.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"  # ./target, as cargo run
export AWS_EC2_METADATA_DISABLED=true
export REFERENCE_PYTHON="${REFERENCE_PYTHON:-$PWD/.venv/bin/python}"
"$REFERENCE_PYTHON" -c 'import matplotlib' 2>/dev/null || "$REFERENCE_PYTHON" -m pip install -q 'matplotlib==3.11.2'
results="$(mktemp -d)/results.json"
PREVIEW_RESULTS_OUT="$results" cargo test --quiet --test it every_panel_and_variable_query_returns_data -- --exact dashboards::every_panel_and_variable_query_returns_data_on_a_real_prometheus
"$REFERENCE_PYTHON" grafana/previews/render.py "$results" grafana/dashboards grafana/previews
rm -f "$results"
