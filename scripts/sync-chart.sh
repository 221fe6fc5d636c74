#!/usr/bin/env bash
# Copies the shipped Prometheus rules (deploy/prometheus/*.rules.yml) and Grafana dashboards
# (grafana/dashboards/*.json) into the Helm chart (deploy/helm/bedrock-cost-exporter/files/),
# which cannot read files outside itself. The chart reads them with .Files.Get, so they are never
# templated: `{{ $value }}` in alert annotations needs no escaping and the copies are byte-identical.
#   scripts/sync-chart.sh          update the copies (run after changing a rule file or dashboard)
#   scripts/sync-chart.sh --check  fail, naming the file, when a copy differs, is missing or is stale
set -euo pipefail
cd "$(dirname "$0")/.."
chart=deploy/helm/bedrock-cost-exporter/files
check=false
[ "${1:-}" = --check ] && check=true

status=0
sync_dir() { # source-dir glob chart-subdir
  local src=$1 pattern=$2 dst=$chart/$3
  $check || mkdir -p "$dst"
  local f base
  shopt -s nullglob
  for f in "$src"/$pattern; do
    base=$(basename "$f")
    if $check; then
      if ! cmp -s "$f" "$dst/$base"; then
        echo "chart copy out of date: $dst/$base differs from $f (run scripts/sync-chart.sh)" >&2
        status=1
      fi
    else
      cp "$f" "$dst/$base"
    fi
  done
  for f in "$dst"/$pattern; do
    base=$(basename "$f")
    if [ ! -e "$src/$base" ]; then
      if $check; then
        echo "stale chart copy: $f has no source $src/$base (run scripts/sync-chart.sh)" >&2
        status=1
      else
        rm "$f"
      fi
    fi
  done
  shopt -u nullglob
}
sync_dir deploy/prometheus '*.rules.yml' prometheus
sync_dir grafana/dashboards '*.json' dashboards
if $check && [ $status = 0 ]; then echo "chart copies of rules and dashboards are up to date"; fi
exit $status
