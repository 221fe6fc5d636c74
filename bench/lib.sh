# Shared by the benchmark scripts (bench/run.sh, bench/scale.sh, bench/compare.sh); sourced, not run.
# Expects REPO, PY (the venv's python) and, for `timed`, WORK and RAW to be set by the caller.

log() { printf '== %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# need_tools [EXTRA...]: installs /usr/bin/time, curl and the extra Debian packages named (apt-get)
# when missing, and .venv with duckdb.
need_tools() {
  local missing=() t
  [ -x /usr/bin/time ] || missing+=(time)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  for t in "$@"; do
    [ -z "$t" ] || command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
      { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
  if ! "$PY" -c 'import duckdb' >/dev/null 2>&1; then
    log "creating .venv with duckdb"
    python3 -m venv "$REPO/.venv"
    "$REPO/.venv/bin/pip" install -q "$(grep '^duckdb==' "$REPO/scripts/deps/requirements.lock")"
  fi
}

# build_commit REV: release binaries of commit REV, built once from a source snapshot in
# ~/.cache/bce-compare/<commit>/ and kept in its bin/; prints that bin folder. All commits share
# one target dir (dependencies are built once; each snapshot's own crates build beside them).
build_commit() {
  local rev dir target="$HOME/.cache/bce-compare/target"
  rev=$(git -C "$REPO" rev-parse --short=12 "$1")
  dir="$HOME/.cache/bce-compare/$rev"
  if [ ! -x "$dir/bin/bedrock-cost-exporter" ]; then
    if [ ! -d "$dir/src" ]; then
      rm -rf "$dir/src.tmp"
      mkdir -p "$dir/src.tmp"
      git -C "$REPO" archive --format=tar "$rev" | tar -x -C "$dir/src.tmp"
      mv "$dir/src.tmp" "$dir/src"
    fi
    log "building $rev (release, $dir)"
    (cd "$dir/src" && CARGO_TARGET_DIR="$target" cargo build --release --quiet --workspace) >&2
    mkdir -p "$dir/bin.tmp"
    cp "$target/release/bedrock-cost-exporter" "$target/release/cur-sample" "$dir/bin.tmp/"
    rm -rf "$dir/bin"
    mv "$dir/bin.tmp" "$dir/bin"
  fi
  echo "$dir/bin"
}

# Busy CPU ticks of the whole machine (user, nice, system, irq, softirq, steal).
CLK_TCK=$(getconf CLK_TCK)
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# Waits (at most BENCH_IDLE_WAIT seconds) until other processes use less than 0.25 core.
wait_idle() {
  local deadline=$(( SECONDS + IDLE_WAIT )) a b
  while :; do
    a=$(cpu_busy); sleep 2; b=$(cpu_busy)
    awk -v a="$a" -v b="$b" -v hz="$CLK_TCK" 'BEGIN {exit !((b - a) / hz / 2 < 0.25)}' && return
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "machine still busy after ${IDLE_WAIT} s of waiting; measuring anyway (see 'other CPU' in the report)"
      return
    fi
  done
}

# One timed run under /usr/bin/time -v; appends a JSON line to RAW.
# timed DATASET TOOL RUN cmd...
timed() {
  local ds=$1 tool=$2 run=$3
  shift 3
  local tf="$WORK/time.txt" err="$WORK/stderr.txt" busy0 busy1
  busy0=$(cpu_busy)
  if ! /usr/bin/time -v -o "$tf" "$@" > /dev/null 2> "$err"; then
    cat "$err" "$tf" >&2
    echo "run failed: $*" >&2
    exit 1
  fi
  busy1=$(cpu_busy)
  local wall rss cpu other
  cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {s += $2} END {print s}' "$tf")
  wall=$(awk -F': ' '/Elapsed \(wall clock\) time/ {
      n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$tf")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
  # CPU seconds used by everything else on the machine meanwhile (noise indicator).
  other=$(awk -v a="$busy0" -v b="$busy1" -v c="$cpu" -v hz="$CLK_TCK" 'BEGIN {
      o = (b - a) / hz - c; if (o < 0) o = 0; printf "%.2f", o }')
  if [ "$run" -gt 0 ]; then
    printf '{"kind":"batch","dataset":"%s","tool":"%s","run":%d,"wall_s":%s,"cpu_s":%s,"rss_kb":%s,"other_cpu_s":%s}\n' \
      "$ds" "$tool" "$run" "$wall" "$cpu" "$rss" "$other" >> "$RAW"
  fi
  printf '   %-9s run %d: %7.2f s wall %7.2f s cpu %6d MB  (other processes: %.2f cpu s)\n' \
    "$tool" "$run" "$wall" "$cpu" "$(( rss / 1024 ))" "$other" >&2
}

human() { # 1000000 -> 1M, 100000 -> 100k
  local n=$1
  if (( n % 1000000 == 0 )); then echo "$(( n / 1000000 ))M"
  elif (( n % 1000 == 0 )); then echo "$(( n / 1000 ))k"
  else echo "$n"; fi
}
