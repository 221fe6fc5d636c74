#!/usr/bin/env bash
# Benchmark harness: bedrock-cost-exporter vs DuckDB on the same CUR 2.0 exports, plus a /metrics
# load test. Prints a Markdown table and writes bench/results/latest.md and latest.json.
#
#   bench/run.sh                                   # full run (sizes 1M and 10M rows, 5 runs each)
#   BENCH_SIZES="100000" BENCH_RUNS=2 bench/run.sh # quick run
#
# Per dataset: `once`, bench/duckdb_query.py and `report --period 2026-11 --by tag_team` (the
# same two periods as once) alternate.
#
# Environment (all optional):
#   BENCH_SIZES      total rows per dataset (2 billing periods), space-separated  [1000000 10000000]
#   BENCH_RUNS       timed runs per tool and dataset (alternating)                [5]
#   BENCH_WARMUP     untimed runs per tool before timing (page cache)              [1]
#   BENCH_IDLE_WAIT  max seconds to wait for other processes to go quiet before a dataset [120]
#   BENCH_LOAD       1 = run the /metrics load test, 0 = skip it                   [1]
#   BENCH_LOAD_SECS  duration of each wrk run, seconds                              [15]
#   BENCH_LOAD_ROWS  total rows of the ~100k-series export                         [2000000]
#   BENCH_LOAD_SESSIONS  --extra-sessions of that export                           [1800]
#   BENCH_DATA       where generated exports are cached                            [bench/data]
# Generated exports are cached in BENCH_DATA and regenerated only when missing.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
cd "$REPO"

SIZES="${BENCH_SIZES:-1000000 10000000}"
RUNS="${BENCH_RUNS:-5}"
WARMUP="${BENCH_WARMUP:-1}"
IDLE_WAIT="${BENCH_IDLE_WAIT:-120}"
LOAD="${BENCH_LOAD:-1}"
LOAD_SECS="${BENCH_LOAD_SECS:-15}"
LOAD_ROWS="${BENCH_LOAD_ROWS:-2000000}"
LOAD_SESSIONS="${BENCH_LOAD_SESSIONS:-1800}"
DATA="${BENCH_DATA:-$BENCH_DIR/data}"
RESULTS="$BENCH_DIR/results"
# The release build of the working tree, in the target dir `cargo build --release` uses.
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
EXPORTER="$TARGET_DIR/release/bedrock-cost-exporter"
SAMPLE="$TARGET_DIR/release/cur-sample"
PY="$REPO/.venv/bin/python"
# Rows per data file: keeps files at roughly 100-200 MB.
ROWS_PER_FILE=1000000

START_TS=$(date +%s)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
need_tools "$( [ "$LOAD" = 0 ] || echo wrk)"
LOADAVG_START=$(cut -d" " -f1-3 /proc/loadavg)


# The commit the binaries are built from (taken now: the tree may move on during the run).
commit=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$REPO" status --porcelain -- src tools Cargo.toml Cargo.lock 2>/dev/null | head -1)
[ -z "$dirty" ] || commit="$commit (+ uncommitted changes in src/)"
log "cargo build --release (CARGO_TARGET_DIR=$TARGET_DIR)"
BUILD_NOTE="built from the working tree"
if ! CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --workspace --quiet; then
  # The tree may be mid-edit; an earlier build of both binaries is still worth measuring.
  if [ -x "$EXPORTER" ] && [ -x "$SAMPLE" ]; then
    BUILD_NOTE="BUILD FAILED: binaries of an earlier build ($(date -u -r "$EXPORTER" +%Y-%m-%dT%H:%M:%SZ))"
    log "WARNING: cargo build failed; using the existing binaries ($BUILD_NOTE)"
  else
    exit 1
  fi
fi

mkdir -p "$DATA" "$RESULTS"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bce-bench.XXXXXX")"
# Snapshot the binaries: a concurrent build into the shared target dir must not swap them mid-run.
mkdir -p "$WORK/bin"
cp "$EXPORTER" "$SAMPLE" "$WORK/bin/"
EXPORTER="$WORK/bin/bedrock-cost-exporter"
SAMPLE="$WORK/bin/cur-sample"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RAW="$WORK/raw.jsonl"
: > "$RAW"

# ---------------------------------------------------------------------------------------------
# Datasets: generated once into a temporary folder, renamed into place when complete.
# gen NAME FORMAT ROWS_TOTAL SHARE [EXTRA_SESSIONS]
gen() {
  local name=$1 fmt=$2 rows=$3 share=$4 sessions=${5:-0}
  local dir="$DATA/$name"
  if [ -f "$dir/.complete" ]; then
    log "dataset $name (cached)"
    return
  fi
  local per=$(( rows / 2 ))
  local files=$(( (per + ROWS_PER_FILE - 1) / ROWS_PER_FILE ))
  log "generating $name: $fmt, $rows rows (2 periods), share $share, $files files/period"
  rm -rf "$dir" "$dir.tmp"
  local t0=$SECONDS
  "$SAMPLE" --out "$dir.tmp" --format "$fmt" --mode overwrite --periods 2026-10,2026-11 \
    --rows "$per" --bedrock-share "$share" --files "$files" --row-group-rows 122880 \
    --seed 42 --extra-sessions "$sessions" >&2
  echo "generated in $(( SECONDS - t0 )) s" > "$dir.tmp/.complete"
  mv "$dir.tmp" "$dir"
}

# Bytes of the manifest-listed files (what both tools read; the stale chunk is excluded).
listed_bytes() {
  "$PY" -c 'import os, sys
sys.path.insert(0, sys.argv[1])
from duckdb_query import manifest_files
_, files = manifest_files(sys.argv[2], "2")
print(sum(os.path.getsize(f) for f in files), len(files))' "$BENCH_DIR" "$1"
}



CFG_BATCH="$WORK/batch.toml"
cat > "$CFG_BATCH" <<'EOF'
# Benchmark: defaults, except a series cap that never folds.
max_series = 1000000
EOF

bench_dataset() {
  local name=$1 fmt=$2 rows=$3 share=$4
  local dir="$DATA/$name"
  gen "$name" "$fmt" "$rows" "$share"
  read -r bytes nfiles < <(listed_bytes "$dir")
  # One untimed run of each: a correctness cross-check (total Bedrock cost) and the page cache.
  local expo="$WORK/expo.txt" dq="$WORK/dq.json"
  "$EXPORTER" once --source "$dir" --config "$CFG_BATCH" --progress never > "$expo" 2> "$WORK/once.err" ||
    { cat "$WORK/once.err" >&2; exit 1; }
  "$PY" "$BENCH_DIR/duckdb_query.py" "$dir" 2> "$dq" > /dev/null
  local exp_cost exp_series
  exp_cost=$(awk '/^bedrock_cost_usd[{ ]/ || /^bedrock_cost_usd_total[{ ]/ {s += $NF} END {printf "%.6f", s}' "$expo")
  exp_series=$(awk '/^bedrock_exporter_series[{ ]/ {printf "%d", $NF; exit}' "$expo")
  printf '{"kind":"dataset","dataset":"%s","format":"%s","rows":%d,"share":%s,"bytes":%d,"files":%d,"exporter_series":%s,"exporter_cost":%s,"duckdb":%s}\n' \
    "$name" "$fmt" "$rows" "$share" "$bytes" "$nfiles" "${exp_series:-null}" "${exp_cost:-null}" "$(cat "$dq")" >> "$RAW"
  log "$name: $nfiles files, $(( bytes / 1000000 )) MB; exporter series ${exp_series:-?}, cost $exp_cost; duckdb $(cat "$dq")"
  wait_idle
  local i
  for (( i = 1 - WARMUP; i <= RUNS; i++ )); do
    [ "$i" -gt 0 ] || log "$name: warm-up"
    timed "$name" exporter "$i" "$EXPORTER" once --source "$dir" --config "$CFG_BATCH" --progress never
    timed "$name" duckdb "$i" "$PY" "$BENCH_DIR/duckdb_query.py" "$dir"
    # The monthly report over the same two periods (2026-11 and the 2026-10 it compares with),
    # with the columns only it reads: the target is <= 1.2 x once's wall.
    timed "$name" report "$i" "$EXPORTER" report --source "$dir" --config "$CFG_BATCH" \
      --period 2026-11 --by tag_team --format csv
  done
}


# Baseline RSS of the DuckDB side: Python + duckdb imported, one trivial query.
timed baseline duckdb-baseline 1 "$PY" -c 'import duckdb; duckdb.connect().execute("SELECT 1").fetchall()'

for rows in $SIZES; do
  h=$(human "$rows")
  bench_dataset "parquet-$h-1pct" parquet "$rows" 0.01
  bench_dataset "parquet-$h-50pct" parquet "$rows" 0.5
  bench_dataset "csvgz-$h-1pct" csv-gz "$rows" 0.01
done

# ---------------------------------------------------------------------------------------------
# /metrics load test: ~100k Bedrock series, wrk at 1 and 32 connections, each bounded.
to_ms() { # wrk latency "1.23ms" / "456.00us" / "1.20s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
    else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
    else print "null" }'
}

if [ "$LOAD" != 0 ]; then
  name="metrics-$(human "$LOAD_ROWS")-s$LOAD_SESSIONS"
  gen "$name" parquet "$LOAD_ROWS" 1.0 "$LOAD_SESSIONS"
  dir="$DATA/$name"
  cfg="$WORK/serve.toml"
  cat > "$cfg" <<'EOF'
max_series = 1000000
refresh_interval = "24h"
EOF
  wait_idle
  log "serve $name on 127.0.0.1 (free port)"
  "$EXPORTER" serve --source "$dir" --config "$cfg" --listen 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SERVER_PID=$!
  addr=""
  for _ in $(seq 1 600); do
    addr=$(grep -o 'addr=127\.0\.0\.1:[0-9]*' "$WORK/serve.err" | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "server did not log its address" >&2; cat "$WORK/serve.err" >&2; exit 1; }
  t0=$(date +%s.%N)
  for _ in $(seq 1 1200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/readyz" || true)" = 200 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; exit 1; }
    sleep 0.25
  done
  ready_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/readyz")" = 200 ] ||
    { echo "server not ready after 300 s" >&2; exit 1; }
  expo_bytes=$(curl -s -o "$WORK/metrics.txt" -w '%{size_download}' "http://$addr/metrics")
  # What a Prometheus scrape transfers (it sends Accept-Encoding: gzip); 0 if the server ignores it.
  gzip_bytes=$(curl -s -D "$WORK/gz.headers" -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "http://$addr/metrics")
  grep -qi '^content-encoding: *gzip' "$WORK/gz.headers" || gzip_bytes=0
  series=$(awk '/^bedrock_exporter_series[{ ]/ {printf "%d", $NF; exit}' "$WORK/metrics.txt")
  folded=$(awk '/^bedrock_exporter_folded_series[{ ]/ {printf "%d", $NF; exit}' "$WORK/metrics.txt")
  lines=$(grep -vc '^#' "$WORK/metrics.txt" || true)
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
  log "$addr ready after $(printf '%.1f' "$ready_s") s: $series series (folded ${folded:-0}), $lines samples, $expo_bytes bytes"
  printf '{"kind":"load_setup","dataset":"%s","rows":%d,"extra_sessions":%d,"series":%s,"folded":%s,"samples":%d,"exposition_bytes":%d,"gzip_bytes":%d,"ready_s":%.2f,"server_rss_kb":%d}\n' \
    "$name" "$LOAD_ROWS" "$LOAD_SESSIONS" "${series:-null}" "${folded:-0}" "$lines" "$expo_bytes" "$gzip_bytes" "$ready_s" "$rss_kb" >> "$RAW"
  # gzip: as Prometheus scrapes (if the server compresses); identity: a client without gzip.
  encodings="identity"
  [ "$gzip_bytes" = 0 ] || encodings="gzip identity"
  for spec in "1 1" "2 32"; do
    read -r threads conns <<< "$spec"
    for enc in $encodings; do
      log "wrk -t$threads -c$conns -d${LOAD_SECS}s -H 'Accept-Encoding: $enc' /metrics"
      out="$WORK/wrk-$conns-$enc.txt"
      timeout $(( LOAD_SECS + 60 )) wrk --latency -t"$threads" -c"$conns" -d"${LOAD_SECS}s" --timeout 30s \
        -H "Accept-Encoding: $enc" "http://$addr/metrics" > "$out"
      sed 's/^/   /' "$out" >&2
      p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
      p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
      rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
      reqs=$(awk '/requests in/ {print $1}' "$out")
      errs=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
      non2xx=$(awk '/Non-2xx/ {print $NF}' "$out")
      if [ "${reqs:-0}" = 0 ]; then p50=null; p99=null; fi # no request completed in time
      hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
      printf '{"kind":"load","encoding":"%s","connections":%d,"threads":%d,"duration_s":%d,"p50_ms":%s,"p99_ms":%s,"rps":%s,"requests":%s,"socket_errors":%s,"non_2xx":%s,"server_peak_rss_kb":%d}\n' \
        "$enc" "$conns" "$threads" "$LOAD_SECS" "$p50" "$p99" "$rps" "$reqs" "${errs:-0}" "${non2xx:-0}" "$hwm" >> "$RAW"
    done
  done
  rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
  printf '{"kind":"load_after","server_peak_rss_kb":%d}\n' "$rss_kb" >> "$RAW"
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
fi

# ---------------------------------------------------------------------------------------------
# Machine info and report.
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)
"$PY" "$BENCH_DIR/report.py" "$RAW" "$RESULTS" \
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" nproc="$(nproc)" cpu="$cpu" \
  ram_gb="$(awk -v k="$mem_kb" 'BEGIN {printf "%.1f", k / 1048576}')" kernel="$(uname -r)" \
  rustc="$(rustc --version)" duckdb="$("$PY" -c 'import duckdb; print(duckdb.__version__)')" \
  python="$("$PY" -c 'import platform; print(platform.python_version())')" \
  wrk="$( (wrk -v 2>&1 || true) | head -1 | awk '{print $2}')" commit="$commit" \
  sizes="$SIZES" runs="$RUNS" warmup="$WARMUP" load_secs="$LOAD_SECS" \
  loadavg_start="$LOADAVG_START" build="$BUILD_NOTE" elapsed_s="$(( $(date +%s) - START_TS ))"
