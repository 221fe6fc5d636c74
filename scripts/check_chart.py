#!/usr/bin/env python3
"""Checks of the Helm chart as it is installed, called by scripts/check-deploy.sh.

  check_chart.py job HELM CHART CFN
      Any release name works: renders the chart with several release names (one without
      "bedrock"), fullnameOverride and nameOverride set and unset, serviceMonitor.jobLabel on, off
      and on a label of service.labels, and a relabeling that sets job; derives the `job` label of
      the scraped series as Prometheus Operator does (the Service's name; spec.jobLabel's Service
      label value when non-empty; then the endpoint's relabelings), once in Python and once by a
      real `prometheus` applying the operator's relabel configuration to a target on loopback
      (they must agree); then runs the rendered PrometheusRule through `promtool test rules` with
      series carrying that job: BedrockCostExporterDown fires while up == 0,
      BedrockCostExporterAbsent (and Down) stay silent while up == 1. The service account is the
      one the CloudFormation template trusts (ServiceAccountNamespace/ServiceAccountName defaults)
      for every release name.

  check_chart.py helm-test HELM CHART BIN EXPORT
      The `helm test` hook works: renders the chart (plain HTTP, and with webConfig: TLS and basic
      auth), runs the Deployment's container natively on loopback with the files it mounts (the
      rendered ConfigMap, a web configuration Secret made here), waits for its readiness probe
      (the rendered probe command, run natively), then runs the test pod's command with the
      Service's DNS name and port mapped to the daemon: it must exit 0.

Paths the pods mount are mapped to temporary directories; the binary's path in the image to BIN;
the Service's name to 127.0.0.1 and a free port. Anything not mapped fails the check.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
IMAGE_BIN = "/usr/local/bin/bedrock-cost-exporter"
NAMESPACE = "monitoring"


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def render(helm, chart, release, args):
    r = subprocess.run(
        [helm, "template", release, chart, "--namespace", NAMESPACE, *args],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        fail(f"helm template {release} {' '.join(args)}: {r.stderr.strip()}")
    objs = {}
    for d in yaml.safe_load_all(r.stdout):
        if d:
            objs.setdefault(d["kind"], []).append(d)
    return objs


def one(objs, kind, what):
    got = objs.get(kind) or []
    if len(got) != 1:
        fail(f"{what}: expected one {kind}, rendered {len(got)}")
    return got[0]


# ---------------------------------------------------------------------------------------------
# job, as Prometheus Operator derives it


def sanitize(name):
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def operator_relabel_configs(svc, sm):
    """The part of the scrape configuration Prometheus Operator generates for the first endpoint
    of a ServiceMonitor that decides `job` (pkg/prometheus/promcfg.go): job from the Service's
    name, then from spec.jobLabel's Service label when it has a value, then the endpoint's own
    relabelings, converted from the CRD's camelCase."""
    rc = [
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job",
         "replacement": "${1}"},
    ]
    if sm["spec"].get("jobLabel"):
        rc.append({
            "source_labels": ["__meta_kubernetes_service_label_" + sanitize(sm["spec"]["jobLabel"])],
            "target_label": "job", "regex": "(.+)", "replacement": "${1}",
        })
    keys = {"sourceLabels": "source_labels", "targetLabel": "target_label", "regex": "regex",
            "replacement": "replacement", "separator": "separator", "modulus": "modulus",
            "action": "action"}
    for r in sm["spec"]["endpoints"][0].get("relabelings") or []:
        c = {keys[k]: v for k, v in r.items()}
        if "action" in c:
            c["action"] = c["action"].lower()
        rc.append(c)
    return rc


def target_meta(svc):
    """The discovery labels of an endpoints target that the relabelings above can read."""
    meta = {"__meta_kubernetes_service_name": svc["metadata"]["name"],
            "__meta_kubernetes_namespace": svc["metadata"]["namespace"]}
    for k, v in (svc["metadata"].get("labels") or {}).items():
        meta["__meta_kubernetes_service_label_" + sanitize(k)] = str(v)
        meta["__meta_kubernetes_service_labelpresent_" + sanitize(k)] = "true"
    return meta


def apply_relabel(labels, configs):
    """Prometheus relabeling (replace, lowercase, uppercase; others leave job alone)."""
    labels = dict(labels)
    for c in configs:
        action = c.get("action", "replace")
        src = c.get("separator", ";").join(labels.get(s, "") for s in c.get("source_labels", []))
        target = c.get("target_label")
        if action == "replace":
            m = re.fullmatch(c.get("regex", "(.*)"), src)
            if m is None:
                continue
            repl = c.get("replacement", "$1")
            val = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                         lambda g: m.group(int(g.group(1) or g.group(2))) or ""
                         if (g.group(1) or g.group(2)).isdigit() else "", repl)
            if val:
                labels[target] = val
            else:
                labels.pop(target, None)
        elif action == "lowercase":
            labels[target] = src.lower()
        elif action == "uppercase":
            labels[target] = src.upper()
    return labels


def derive_job(svc, sm):
    return apply_relabel(target_meta(svc), operator_relabel_configs(svc, sm)).get("job", "")


class Metrics(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"# TYPE bce_check_up gauge\nbce_check_up 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def jobs_by_prometheus(cases, tmp):
    """Runs a real prometheus with one scrape job per case, each applying that case's operator
    relabel configuration to a target on loopback; returns {case: job of its `up` series}."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{server.server_address[1]}"
    scrape = []
    for name, (svc, sm) in cases.items():
        scrape.append({
            "job_name": f"case-{name}",
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "static_configs": [{"targets": [target], "labels": {**target_meta(svc), "case": name}}],
            "relabel_configs": operator_relabel_configs(svc, sm),
        })
    cfg = tmp / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": scrape}))
    port = free_port()
    log = open(tmp / "prometheus.log", "w")
    p = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 30
        while True:
            if p.poll() is not None:
                fail(f"prometheus exited: {(tmp / 'prometheus.log').read_text()[-2000:]}")
            try:
                q = urllib.parse.urlencode({"query": "up == 1"})
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{q}", timeout=2) as r:
                    res = json.load(r)["data"]["result"]
                got = {s["metric"]["case"]: s["metric"].get("job", "") for s in res}
                if set(got) == set(cases):
                    return got
            except OSError:
                pass
            if time.time() > deadline:
                fail(f"prometheus did not scrape every case within 30 s (got {sorted(got)})")
            time.sleep(0.3)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
        server.shutdown()


def rule_tests(rules_file, job, rule):
    """promtool tests of the rendered rules for series carrying `job`."""
    sev_down = rule["BedrockCostExporterDown"]["labels"]["severity"]
    return {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {   # the exporter is down: Down fires (after its `for`), labelled with the job
                "interval": "1m",
                "input_series": [{"series": f'up{{job="{job}",instance="10.0.0.1:9747"}}',
                                  "values": "0x90"}],
                "alert_rule_test": [
                    {"alertname": "BedrockCostExporterDown", "eval_time": "60m",
                     "exp_alerts": [{"exp_labels": {"severity": sev_down, "job": job,
                                                    "instance": "10.0.0.1:9747"}}]},
                ],
            },
            {   # the exporter is up: neither Absent nor Down
                "interval": "1m",
                "input_series": [{"series": f'up{{job="{job}",instance="10.0.0.1:9747"}}',
                                  "values": "1x90"}],
                "alert_rule_test": [
                    {"alertname": "BedrockCostExporterAbsent", "eval_time": "60m", "exp_alerts": []},
                    {"alertname": "BedrockCostExporterDown", "eval_time": "60m", "exp_alerts": []},
                ],
            },
        ],
    }


def cfn_service_account(cfn):
    class L(yaml.SafeLoader):
        pass
    L.add_multi_constructor("!", lambda loader, suffix, node: None)
    t = yaml.load(Path(cfn).read_text(), Loader=L)
    p = t["Parameters"]
    return p["ServiceAccountNamespace"]["Default"], p["ServiceAccountName"]["Default"]


def cmd_job(helm, chart, cfn):
    base = ["--set", "source=s3://billing-bucket/cur2/bedrock-cost-exporter",
            "--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true"]
    relabel_job = ["--set", "serviceMonitor.relabelings[0].targetLabel=job",
                   "--set", "serviceMonitor.relabelings[0].replacement=finops-bedrock",
                   "--set", "serviceMonitor.relabelings[0].sourceLabels[0]=__meta_kubernetes_namespace"]
    variants = {
        # name: (release, extra args)
        "plain": ("bedrock-cost-exporter", []),
        "finops": ("finops", []),
        "nameoverride": ("finops", ["--set", "nameOverride=bedrock-billing"]),
        "relabel": ("finops", relabel_job),
        "own-label": ("team-a", ["--set", "serviceMonitor.jobLabel=example.com/job",
                                 "--set", "service.labels.example\\.com/job=bedrock-costs"]),
        "no-joblabel": ("finops", ["--set", "serviceMonitor.jobLabel="]),
        "bedrock-prod": ("bedrock-prod", []),
        "fullname": ("finops", ["--set", "fullnameOverride=bce"]),
        "fullname-bedrock": ("bedrock-cost-exporter", ["--set", "fullnameOverride=costs"]),
    }
    sa_ns, sa_name = cfn_service_account(cfn)
    tmp = Path(tempfile.mkdtemp(prefix="bce-chart-job-"))
    try:
        rendered, cases = {}, {}
        for name, (release, args) in variants.items():
            objs = render(helm, chart, release, base + args)
            svc = one(objs, "Service", name)
            sm = one(objs, "ServiceMonitor", name)
            pr = one(objs, "PrometheusRule", name)
            sel = sm["spec"]["selector"]["matchLabels"]
            if any(svc["metadata"]["labels"].get(k) != v for k, v in sel.items()):
                fail(f"{name}: the ServiceMonitor's selector {sel} does not select the Service")
            if svc["metadata"]["namespace"] not in sm["spec"]["namespaceSelector"]["matchNames"]:
                fail(f"{name}: the ServiceMonitor does not look in the Service's namespace")
            ports = {p["name"] for p in svc["spec"]["ports"]}
            if sm["spec"]["endpoints"][0]["port"] not in ports:
                fail(f"{name}: the ServiceMonitor's endpoint port is not a port of the Service")
            sa = one(objs, "ServiceAccount", name)
            dep = one(objs, "Deployment", name)
            got_sa = (sa["metadata"]["namespace"], sa["metadata"]["name"])
            if got_sa != (sa_ns, sa_name) or dep["spec"]["template"]["spec"]["serviceAccountName"] != sa_name:
                fail(f"{name} (release {release}): service account {got_sa[0]}/{got_sa[1]}, but the "
                     f"CloudFormation template trusts {sa_ns}/{sa_name} ({cfn}: ServiceAccountNamespace, "
                     "ServiceAccountName): IRSA would be denied")
            rendered[name] = (release, svc, sm, pr)
            cases[name] = (svc, sm)
            job = derive_job(svc, sm)
            groups = {"groups": pr["spec"]["groups"]}
            alerts = {}
            for g in groups["groups"]:
                for r in g["rules"]:
                    r.pop("annotations", None)  # the expressions and labels are what is tested
                    if "alert" in r:
                        alerts[r["alert"]] = r
            rules_file = tmp / f"{name}.rules.yml"
            rules_file.write_text(yaml.safe_dump(groups, sort_keys=False))
            test_file = tmp / f"{name}.test.yml"
            test_file.write_text(yaml.safe_dump(rule_tests(rules_file, job, alerts), sort_keys=False))
            r = subprocess.run(["promtool", "test", "rules", str(test_file)], capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"{name} (release {release!r}, Service {svc['metadata']['name']!r}): the series "
                     f"carry job={job!r}, and the rendered PrometheusRule's health alerts do not "
                     f"follow it:\n{r.stdout[-3000:]}{r.stderr[-1000:]}")
            print(f"   release {release!r:26} Service {svc['metadata']['name']!r:42} job={job!r:28} "
                  f"({name}): Down fires on up == 0, Absent silent on up == 1")
        # The emulation against a real prometheus applying the same relabel configuration.
        real = jobs_by_prometheus(cases, tmp)
        for name, (release, svc, sm, pr) in rendered.items():
            if real[name] != derive_job(svc, sm):
                fail(f"{name}: prometheus gave job={real[name]!r}, the emulation {derive_job(svc, sm)!r}")
        print(f"any release name works: {len(variants)} renders, job derived as Prometheus Operator "
              f"does (a real prometheus agrees), rules follow it; service account {sa_ns}/{sa_name} "
              "as the CloudFormation template trusts")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# helm test


# bcrypt of "probe-secret" (cost 4: the check needs no strength).
PROBE_PASSWORD = "probe-secret"
PROBE_HASH = "$2b$04$uYJqeupbs0Cu8PAIB0ICoORqHyWh7hA/sWVTdaG8pdub8oaIioYdi"


def make_web_secret(d, host):
    """The Secret webConfig.secretName names: web-config.yml (TLS, basic auth), the certificate and
    key it names, and the probe user's password."""
    d.mkdir(parents=True)
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", f"/CN={host}", "-addext",
         f"subjectAltName=DNS:{host},IP:127.0.0.1", "-keyout", str(d / "tls.key"),
         "-out", str(d / "tls.crt")],
        capture_output=True, text=True,
    )
    if r.returncode != 0:
        fail(f"openssl: {r.stderr}")
    (d / "web-config.yml").write_text(
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
        f"basic_auth_users:\n  probe: '{PROBE_HASH}'\n  prometheus: '{PROBE_HASH}'\n"
    )
    (d / "probe-password").write_text(PROBE_PASSWORD + "\n")


def map_args(argv, bin_path, mounts, hosts):
    """The command with the image's binary, mounted paths and the Service's host:port mapped;
    fails on a Service-looking host:port that is not mapped."""
    out = []
    for a in argv:
        if a == IMAGE_BIN:
            # The binary here, never mapped again (a clone under /tmp would match the pod's /tmp).
            out.append(bin_path)
            continue
        hit = [c for c in mounts if a == c or a.startswith(c + "/")]
        if hit:
            cpath = max(hit, key=len)
            a = str(mounts[cpath]) + a[len(cpath):]
        for svc, loop in hosts.items():
            a = a.replace(svc, loop)
        m = re.search(r"([a-z0-9.-]+\.svc(\.cluster\.local)?):?(\d*)", a)
        if m:
            fail(f"the command names {m.group(0)}, which is not the Service "
                 f"({', '.join(hosts)}): the test would not reach the exporter")
        out.append(a)
    return out


def cmd_helm_test(helm, chart, bin_path, export):
    bin_path = str(Path(bin_path).resolve())
    export = str(Path(export).resolve())
    variants = {
        "plain": ["--set", f"source={export}"],
        "web": ["--set", f"source={export}", "--set", "webConfig.secretName=bce-web",
                "--set", "webConfig.probeUser=probe"],
    }
    for name, args in variants.items():
        tmp = Path(tempfile.mkdtemp(prefix="bce-helm-test-"))
        daemon = None
        try:
            objs = render(helm, chart, "finops", args)
            dep = one(objs, "Deployment", name)
            svc = one(objs, "Service", name)
            pods = [p for p in objs.get("Pod") or []
                    if (p["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
            if len(pods) != 1:
                fail(f"{name}: expected one helm test pod (annotation helm.sh/hook: test), got {len(pods)}")
            test = pods[0]
            cm = next(c for c in objs["ConfigMap"] if "config.toml" in (c.get("data") or {}))
            svc_host = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc"
            svc_port = svc["spec"]["ports"][0]["port"]
            port = free_port()
            hosts = {f"{svc_host}:{svc_port}": f"127.0.0.1:{port}"}
            # The volumes the pods mount, as files here.
            vols = {}
            cfg_dir = tmp / "config"
            cfg_dir.mkdir()
            (cfg_dir / "config.toml").write_text(cm["data"]["config.toml"])
            for v in dep["spec"]["template"]["spec"]["volumes"]:
                if v["name"] == "config":
                    if (v.get("configMap") or {}).get("name") != cm["metadata"]["name"]:
                        fail(f"{name}: the Deployment's config volume is not the chart's ConfigMap")
                    vols["config"] = cfg_dir
                elif v["name"] == "tmp":
                    vols["tmp"] = tmp / "podtmp"
                    vols["tmp"].mkdir()
                elif "secret" in v:
                    make_web_secret(tmp / "web", svc_host)
                    vols[v["name"]] = tmp / "web"
            c = dep["spec"]["template"]["spec"]["containers"][0]
            mounts = {m["mountPath"]: vols[m["name"]] for m in c.get("volumeMounts") or []}
            env = {k: v for k, v in os.environ.items() if not k.startswith("BCE_") and k != "RUST_LOG"}
            env["AWS_EC2_METADATA_DISABLED"] = "true"
            for e in c.get("env") or []:
                env[e["name"]] = e["value"]
            if env.get("BCE_LISTEN") != f"0.0.0.0:{c['ports'][0]['containerPort']}":
                fail(f"{name}: BCE_LISTEN {env.get('BCE_LISTEN')} is not the container port")
            env["BCE_LISTEN"] = f"127.0.0.1:{port}"
            argv = map_args([IMAGE_BIN] + c["args"], bin_path, mounts, hosts)
            log = open(tmp / "daemon.log", "w")
            daemon = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
            # The rendered readiness probe, natively (exec with webConfig, else httpGet).
            rp = c["readinessProbe"]
            deadline = time.time() + 30
            while True:
                if daemon.poll() is not None:
                    fail(f"{name}: the exporter exited {daemon.returncode}: "
                         f"{(tmp / 'daemon.log').read_text()[-2000:]}")
                if "exec" in rp:
                    probe_env = dict(env)
                    # The probe runs in the pod: loopback at the container port.
                    pod_lo = {f"127.0.0.1:{c['ports'][0]['containerPort']}": f"127.0.0.1:{port}"}
                    r = subprocess.run(map_args(rp["exec"]["command"], bin_path, mounts, pod_lo),
                                       env=probe_env, capture_output=True, text=True)
                    ok, why = r.returncode == 0, r.stderr
                else:
                    try:
                        with urllib.request.urlopen(
                                f"http://127.0.0.1:{port}{rp['httpGet']['path']}", timeout=2) as r:
                            ok, why = r.status == 200, ""
                    except OSError as e:
                        ok, why = False, str(e)
                if ok:
                    break
                if time.time() > deadline:
                    fail(f"{name}: the readiness probe never passed: {why}")
                time.sleep(0.3)
            # The test pod: its command with its own mounts (the same files).
            tc = test["spec"]["containers"][0]
            tvols = {}
            for v in test["spec"].get("volumes") or []:
                if v["name"] == "config":
                    tvols["config"] = cfg_dir
                elif "secret" in v:
                    if v["secret"]["secretName"] != "bce-web":
                        fail(f"{name}: the test pod mounts Secret {v['secret']['secretName']}, not webConfig.secretName")
                    tvols[v["name"]] = tmp / "web"
            tmounts = {m["mountPath"]: tvols[m["name"]] for m in tc.get("volumeMounts") or []}
            tenv = {k: v for k, v in os.environ.items() if not k.startswith("BCE_") and k != "RUST_LOG"}
            for e in tc.get("env") or []:
                tenv[e["name"]] = e["value"]
            targv = map_args(tc["command"] + (tc.get("args") or []), bin_path, tmounts, hosts)
            t0 = time.time()
            r = subprocess.run(targv, env=tenv, capture_output=True, text=True, cwd=tmp)
            if r.returncode != 0:
                fail(f"{name}: the helm test pod's command failed ({r.returncode}): {' '.join(targv)}\n"
                     f"{r.stdout}{r.stderr}")
            print(f"   helm test ({name}): `{' '.join(tc['command'][1:])}` → {r.stdout.strip()} "
                  f"({time.time() - t0:.1f} s)")
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(15)
                except subprocess.TimeoutExpired:
                    daemon.kill()
            shutil.rmtree(tmp, ignore_errors=True)
    print("helm test: the test pod's command passes against the exporter, plain and with TLS and basic auth")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    globals()["cmd_" + cmd.replace("-", "_")](*args)
