#!/usr/bin/env bash
# The Helm chart's generated files (templates/prometheusrule.yaml, files/dashboards/*.json, the
# prometheusRule.config part of values.schema.json) come from the rules' and dashboards' parameter
# set with everything else generated: deploy/mixin/generate.py. Kept for muscle memory:
#   scripts/sync-chart.sh          regenerate every generated file
#   scripts/sync-chart.sh --check  fail, naming the file, when one differs from the generator's output
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 deploy/mixin/generate.py "$@"
