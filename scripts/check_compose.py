#!/usr/bin/env python3
"""The compose demo as its containers see it, run natively; called by scripts/check-deploy.sh.

  check_compose.py COMPOSE_FILE EXPORTER_BIN CUR_SAMPLE_BIN

Resolves every mount, environment variable and host name of COMPOSE_FILE the way the containers
see them, then runs the one-shot demo-data step (cur-sample), the exporter, `prometheus` and
`prometheus-alertmanager` natively with exactly the files compose mounts:

- a bind mount is its host file or folder (it must exist); a named volume is one temporary folder
  shared by every service that mounts it; what a service reads (a command-line path, a path in
  its configuration file: the exporter's source, Prometheus's rule_files) must lie in one of its
  mounts or in its image (the exporter image's files are the Dockerfile's: the binaries given here);
- a host name is a compose service (or the service itself as localhost), and host:port must be a
  port that service listens on (the exporter's BCE_LISTEN, prometheus :9090, alertmanager :9093);
  each is mapped to 127.0.0.1 and a free port. Unmapped names and ports fail;
- the harness's only other change: scrape and evaluation intervals become 1 s (the demo's 30 s
  would not fit the time bound), storage paths are the volumes' folders, listen addresses loopback.

Then it waits (at most 45 s) until Prometheus has scraped the exporter and Alertmanager, evaluated
the shipped rules with data (the recording rules select the exporter's job: the demo's job_name
must be what the rules select), found Alertmanager, and no rule reports an error; the data is the
current UTC month's and marked as sample; BedrockCostExporterAbsent is not firing. Grafana is not
run: its provisioning is resolved as Grafana would (each dashboard provider's path lies in a mount
holding the shipped dashboards; each datasource URL, with ${VAR} from the grafana service's
environment, names the prometheus service's port) and the datasource URL, mapped, must answer a
query. Everything on loopback; AWS_EC2_METADATA_DISABLED=true.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from check_deploy import dockerfile_stages  # noqa: E402

DEADLINE_S = 45


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get_json(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


class Demo:
    def __init__(self, compose_file, exporter, cur_sample):
        self.file = Path(compose_file).resolve()
        self.base = self.file.parent
        self.c = yaml.safe_load(self.file.read_text())
        self.services = self.c["services"]
        self.exporter = str(Path(exporter).resolve())
        self.cur_sample = str(Path(cur_sample).resolve())
        self.tmp = Path(tempfile.mkdtemp(prefix="bce-compose-"))
        self.volumes = {}
        for name in self.c.get("volumes") or {}:
            d = self.tmp / "volumes" / name
            d.mkdir(parents=True)
            self.volumes[name] = d
        self.procs = []
        self.ports = {}  # (service, container port) -> host port
        self.images = {}  # service -> {path in the image: path here}
        self.image_env = {}
        self.entry = {}

    # -- static resolution ---------------------------------------------------------------------

    def mounts(self, svc):
        """{container path: host path} of a service's volumes (short and long syntax)."""
        out = {}
        for v in self.services[svc].get("volumes") or []:
            if isinstance(v, dict):
                src, dst, typ = v.get("source"), v["target"], v.get("type", "volume")
            else:
                parts = v.split(":")
                src, dst = parts[0], parts[1]
                typ = "bind" if src.startswith((".", "/", "~")) else "volume"
            if typ == "volume":
                if src not in self.volumes:
                    fail(f"{svc}: volume {src!r} is not declared under the top-level `volumes`")
                out[dst] = self.volumes[src]
            else:
                host = (self.base / src).resolve()
                if not host.exists():
                    fail(f"{svc}: bind mount {src} ({host}) does not exist")
                out[dst] = host
        return out

    def resolve(self, svc, path, what):
        """A path as service `svc` sees it → the file here (a mount, or the image's own files)."""
        if not path.startswith("/"):
            fail(f"{svc}: {what} {path!r} is relative; say the absolute path it has in the container")
        table = dict(self.images.get(svc, {}))
        table.update(self.mounts(svc))
        hits = [c for c in table if path == c or path.startswith(c.rstrip("/") + "/")]
        if not hits:
            fail(f"{svc}: {what} {path} is in no mount of the service ({sorted(self.mounts(svc))}) "
                 "nor in its image: the container would not find it")
        c = max(hits, key=len)
        return Path(str(table[c]) + path[len(c):])

    def env(self, svc):
        e = dict(self.image_env.get(svc, {}))
        env = self.services[svc].get("environment") or {}
        if isinstance(env, list):
            env = dict(x.split("=", 1) for x in env)
        e.update({k: str(v) for k, v in env.items()})
        return e

    def interpolate(self, svc, s, what):
        env = self.env(svc)

        def sub(m):
            k = m.group(1) or m.group(2)
            if k not in env:
                fail(f"{svc}: {what} {s!r} uses ${k}, which the service's environment does not set "
                     f"(it sets {sorted(env)})")
            return env[k]
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, s)

    def listens(self, svc):
        """The container ports a service listens on."""
        s = self.services[svc]
        img = s.get("image", "")
        if svc in self.images:  # the exporter image
            listen = self.env(svc).get("BCE_LISTEN", "")
            return {int(listen.rsplit(":", 1)[1])} if listen else set()
        if "prometheus" in img and "alertmanager" not in img:
            return {9090}
        if "alertmanager" in img:
            return {9093}
        if "grafana" in img:
            return {3000}
        return set()

    def map_hostport(self, svc, hp, what):
        """host:port as `svc` sees it → 127.0.0.1:free port."""
        host, _, port = hp.rpartition(":")
        if not port.isdigit():
            fail(f"{svc}: {what} {hp!r} has no port")
        target = svc if host in ("localhost", "127.0.0.1") else host
        if target not in self.services:
            fail(f"{svc}: {what} {hp!r}: {host!r} is no service of the compose file "
                 f"({sorted(self.services)}): the name would not resolve")
        if int(port) not in self.listens(target):
            fail(f"{svc}: {what} {hp!r}: service {target} listens on {sorted(self.listens(target))}, "
                 f"not {port}")
        key = (target, int(port))
        if key not in self.ports:
            self.ports[key] = free_port()
        return f"127.0.0.1:{self.ports[key]}"

    def exporter_image(self):
        """The services built from the repository's Dockerfile run its binaries."""
        stages = dockerfile_stages(REPO / "Dockerfile")
        final = stages[-1][1]
        env, files, entry, workdir = {}, {}, None, "/"
        build_outputs = {"/bedrock-cost-exporter": self.exporter, "/cur-sample": self.cur_sample}
        for i, a in final:
            if i == "ENV":
                for kv in shlex.split(a):
                    k, _, v = kv.partition("=")
                    env[k] = v
            elif i == "COPY" and a.startswith("--from"):
                parts = a.split()
                if parts[-2] in build_outputs:
                    files[parts[-1]] = build_outputs[parts[-2]]
                else:
                    d = self.tmp / "image" / parts[-1].lstrip("/")
                    d.mkdir(parents=True, exist_ok=True)
                    files[parts[-1]] = d
            elif i == "ENTRYPOINT":
                entry = json.loads(a)
            elif i == "WORKDIR":
                workdir = a
        return env, files, entry, workdir

    def static(self):
        env, files, entry, workdir = self.exporter_image()
        for name, s in self.services.items():
            b = s.get("build")
            if b:
                df = (self.base / b["context"]).resolve() / b.get("dockerfile", "Dockerfile")
                if not df.is_file() or df.read_text() != (REPO / "Dockerfile").read_text():
                    fail(f"{name}: builds from {df}, not the repository's Dockerfile")
                self.images[name] = files
                self.image_env[name] = env
                self.entry[name] = s.get("entrypoint") or entry
                self.workdir = workdir
            for m in self.mounts(name):
                pass  # every bind mount exists, every volume is declared
        for need in ("demo-data", "exporter", "prometheus", "alertmanager", "grafana"):
            if need not in self.services:
                fail(f"no {need} service")
        dep = (self.services["exporter"].get("depends_on") or {})
        if isinstance(dep, list) or (dep.get("demo-data") or {}).get("condition") != "service_completed_successfully":
            fail("exporter: must depend on demo-data with condition service_completed_successfully "
                 "(else it can start before the example data is written)")
        print("   compose: every bind mount exists, every volume is declared; the exporter starts "
              "after demo-data completed")

    # -- processes ----------------------------------------------------------------------------

    def start(self, name, argv, env, log):
        p = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)
        self.procs.append((name, p))
        return p

    def base_env(self):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("BCE_", "AWS_")) and k not in ("RUST_LOG", "BEDROCK_COST_EXPORTER_FALLBACK_SOURCE")}
        e["AWS_EC2_METADATA_DISABLED"] = "true"
        return e

    def map_image_argv(self, svc, argv):
        """Paths in a command line → here (an argument that is an absolute path, or --flag=/path)."""
        out = []
        for a in argv:
            m = re.match(r"^(--[\w.-]+=)?(/.*)$", a)
            if m:
                a = (m.group(1) or "") + str(self.resolve(svc, m.group(2), f"argument {a!r}"))
            out.append(a)
        return out

    def run_demo_data(self):
        s = self.services["demo-data"]
        argv = list(self.entry["demo-data"]) + list(s.get("command") or [])
        binary = self.resolve("demo-data", argv[0], "entrypoint")
        argv = [str(binary)] + self.map_image_argv("demo-data", argv[1:])
        env = self.base_env()
        env.update(self.env("demo-data"))
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd=self.tmp)
        if r.returncode != 0:
            fail(f"demo-data: `{' '.join(argv)}` exited {r.returncode}: {r.stderr[-1500:]}")
        print(f"   demo-data: {' '.join(s.get('entrypoint') or [])} {' '.join(s.get('command') or [])}: "
              f"{r.stdout.strip()}")

    def start_exporter(self):
        s = self.services["exporter"]
        argv = list(self.entry["exporter"]) + list(s.get("command") or [])
        if "--listen" in argv:
            fail("exporter: --listen in the command: set BCE_LISTEN so the health check agrees")
        binary = self.resolve("exporter", argv[0], "entrypoint")
        args = argv[1:]
        if "--config" in args:
            i = args.index("--config") + 1
            cfg_path = args[i]
            cfg_host = self.resolve("exporter", cfg_path, "--config")
            text = cfg_host.read_text()
            cfg = tomllib.loads(text)
            paths = []
            if "source" in cfg:
                paths.append(cfg["source"])
            paths += cfg.get("sources") or []
            paths += [e.get("source") for e in cfg.get("exports") or [] if e.get("source")]
            if not paths and "BCE_SOURCE" not in self.env("exporter"):
                fail(f"exporter: {cfg_path} names no source")
            for pth in paths:
                if pth.startswith("s3://"):
                    fail(f"exporter: {cfg_path}: source {pth} is S3: the demo reads the example data")
                host = self.resolve("exporter", pth, f"source in {cfg_path}")
                if not (host / "metadata").is_dir():
                    fail(f"exporter: source {pth} ({host}) holds no export (no metadata/): the "
                         "demo-data service writes elsewhere")
                text = text.replace(f'"{pth}"', json.dumps(str(host)))
            mapped = self.tmp / "exporter-config.toml"
            mapped.write_text(text)
            self.exporter_config = (cfg_path, mapped)
            args[i] = str(mapped)
        env = self.base_env()
        env.update(self.env("exporter"))
        port = (self.listens("exporter") or {None}).pop()
        if port is None:
            fail("exporter: no BCE_LISTEN (image or service environment)")
        env["BCE_LISTEN"] = self.map_hostport("exporter", f"exporter:{port}", "listen address")
        self.exporter_env = env
        self.start("exporter", [str(binary)] + args, env, open(self.tmp / "exporter.log", "w"))

    def exporter_healthcheck(self):
        """The service's healthcheck test, mapped, until it passes."""
        hc = (self.services["exporter"].get("healthcheck") or {}).get("test")
        if not hc or hc[0] != "CMD":
            fail("exporter: no healthcheck in exec form (CMD …)")
        argv = [str(self.resolve("exporter", hc[1], "healthcheck"))]
        rest = list(hc[2:])
        if "--config" in rest and not hasattr(self, "exporter_config"):
            fail("exporter: the healthcheck reads --config, the service does not")
        if "--config" in rest:
            i = rest.index("--config") + 1
            if rest[i] != self.exporter_config[0]:
                self.resolve("exporter", rest[i], "healthcheck --config")
            rest[i] = str(self.exporter_config[1])
        argv += rest
        deadline = time.time() + 30
        while True:
            r = subprocess.run(argv, env=self.exporter_env, capture_output=True, text=True, cwd=self.tmp)
            if r.returncode == 0:
                return
            if r.returncode == 78 or time.time() > deadline:
                fail(f"exporter: the healthcheck `{' '.join(hc[1:])}` fails: {r.stderr.strip()}"
                     f"\n{(self.tmp / 'exporter.log').read_text()[-1500:]}")
            self.check_alive()
            time.sleep(0.3)

    def prom_config(self):
        s = self.services["prometheus"]
        args = list(s.get("command") or [])
        cfg_arg = next((a for a in args if a.startswith("--config.file=")), None)
        if cfg_arg is None:
            fail("prometheus: no --config.file in the command")
        host = self.resolve("prometheus", cfg_arg.split("=", 1)[1], "--config.file")
        cfg = yaml.safe_load(host.read_text())
        cfg.setdefault("global", {})
        cfg["global"]["scrape_interval"] = "1s"
        cfg["global"]["evaluation_interval"] = "1s"
        cfg["global"].pop("scrape_timeout", None)
        rules = []
        for rf in cfg.get("rule_files") or []:
            h = self.resolve("prometheus", rf, "rule_files entry")
            if not h.exists():
                fail(f"prometheus: rule file {rf} ({h}) does not exist")
            rules.append(str(h))
        if not rules:
            fail("prometheus: no rule_files: the demo shows the shipped rules")
        cfg["rule_files"] = rules
        for sc in cfg.get("scrape_configs") or []:
            sc["scrape_interval"] = "1s"
            sc["scrape_timeout"] = "1s"
            for st in sc.get("static_configs") or []:
                st["targets"] = [self.map_hostport("prometheus", t, f"scrape target of job {sc['job_name']}")
                                 for t in st["targets"]]
        ams = []
        for am in (cfg.get("alerting") or {}).get("alertmanagers") or []:
            for st in am.get("static_configs") or []:
                st["targets"] = [self.map_hostport("prometheus", t, "alertmanager target") for t in st["targets"]]
                ams += st["targets"]
        if not ams:
            fail("prometheus: no alertmanager configured")
        out = self.tmp / "prometheus.yml"
        out.write_text(yaml.safe_dump(cfg, sort_keys=False))
        self.prom_jobs = {sc["job_name"]: sc for sc in cfg["scrape_configs"]}
        mapped = []
        for a in args:
            if a.startswith("--config.file="):
                a = f"--config.file={out}"
            elif a.startswith("--storage.tsdb.path="):
                a = "--storage.tsdb.path=" + str(self.resolve("prometheus", a.split("=", 1)[1], a))
            elif a.startswith("--web.listen-address="):
                fail("prometheus: --web.listen-address in the command; the demo relies on :9090")
            mapped.append(a)
        if not any(a.startswith("--storage.tsdb.path=") for a in mapped):
            mapped.append(f"--storage.tsdb.path={self.tmp / 'prometheus-data'}")
        self.prom_addr = self.map_hostport("prometheus", "prometheus:9090", "listen address")
        mapped.append(f"--web.listen-address={self.prom_addr}")
        return mapped

    def start_prometheus(self):
        args = self.prom_config()
        self.start("prometheus", ["prometheus"] + args, self.base_env(),
                   open(self.tmp / "prometheus.log", "w"))

    def start_alertmanager(self):
        s = self.services["alertmanager"]
        args = []
        for a in s.get("command") or []:
            if a.startswith(("--config.file=", "--storage.path=")):
                k, v = a.split("=", 1)
                a = f"{k}={self.resolve('alertmanager', v, k)}"
            args.append(a)
        self.am_addr = self.map_hostport("alertmanager", "alertmanager:9093", "listen address")
        args += [f"--web.listen-address={self.am_addr}", "--cluster.listen-address="]
        self.start("alertmanager", ["prometheus-alertmanager"] + args, self.base_env(),
                   open(self.tmp / "alertmanager.log", "w"))

    def check_alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                log = (self.tmp / f"{name}.log").read_text()[-2000:]
                fail(f"{name} exited {p.returncode}:\n{log}")

    def query(self, q):
        u = f"http://{self.prom_addr}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        return get_json(u)["data"]["result"]

    def wait_prometheus(self):
        t0 = time.time()
        t_up = None
        deadline = t0 + DEADLINE_S
        why = "prometheus did not answer"
        while time.time() < deadline:
            self.check_alive()
            time.sleep(0.5)
            try:
                targets = get_json(f"http://{self.prom_addr}/api/v1/targets")["data"]["activeTargets"]
                down = [t for t in targets if t["health"] == "down"]
                if down:
                    fail("prometheus: targets down: " + "; ".join(
                        f"job {t['labels']['job']} {t['scrapeUrl']}: {t['lastError']}" for t in down))
                if not targets or any(t["health"] != "up" for t in targets):
                    why = "targets not all scraped yet"
                    continue
                groups = get_json(f"http://{self.prom_addr}/api/v1/rules")["data"]["groups"]
                bad = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
                       if r.get("health") == "err"]
                if bad:
                    fail(f"prometheus: rules fail: {bad}")
                if not groups or any(g.get("lastEvaluation", "").startswith("0001") for g in groups):
                    why = "rules not evaluated yet"
                    continue
                ams = get_json(f"http://{self.prom_addr}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
                if not any(self.am_addr in a["url"] for a in ams):
                    why = f"alertmanager not discovered ({ams})"
                    continue
                rec = self.query("billing_period:bedrock_cost_usd:sum")
                t_up = t_up or time.time()
                if not rec:
                    # Every target is up; are the exporter's series selected by the rules' job
                    # selector? Four evaluations (1 s apart) after the first scrape say no.
                    up = self.query('up{job!~"prometheus|alertmanager"} == 1')
                    if up and time.time() - t_up > 4:
                        jobs = sorted({s["metric"]["job"] for s in up})
                        fail(f"prometheus: the recording rules stay empty although the exporter is "
                             f"scraped as job {jobs}: the rules select another job "
                             "(the demo's job_name must be what the rules' jobSelector says)")
                    why = "no recorded cost yet"
                    continue
                return time.time() - t0
            except OSError as e:
                why = str(e)
        fail(f"prometheus: not ready within {DEADLINE_S} s: {why}\n"
             f"{(self.tmp / 'prometheus.log').read_text()[-1500:]}")

    def check_data(self):
        month = datetime.now(timezone.utc).strftime("%Y-%m")
        cur = self.query("bedrock_exporter_current_billing_period")
        periods = sorted({s["metric"].get("billing_period") for s in cur})
        if month not in periods:
            fail(f"the demo's current billing period is {periods}, not this month ({month}): "
                 "budgets and staleness alerts would not make sense")
        rec = {s["metric"]["billing_period"] for s in self.query("billing_period:bedrock_cost_usd:sum")}
        if month not in rec:
            fail(f"no cost recorded for {month} (recorded: {sorted(rec)})")
        sample = self.query("bedrock_exporter_sample_data")
        if not sample or any(float(s["value"][1]) != 1 for s in sample):
            fail(f"bedrock_exporter_sample_data is {sample}: the demo's data must be marked as sample")
        # The first evaluation may precede the first scrape (Absent pending); later ones must not.
        until = time.time() + 6
        while self.query('ALERTS{alertname="BedrockCostExporterAbsent"}'):
            if time.time() > until:
                fail("BedrockCostExporterAbsent stays pending: the rules do not see the exporter")
            time.sleep(0.5)
        firing = sorted({s["metric"]["alertname"] for s in self.query('ALERTS')})
        print(f"   prometheus: scraped {sorted(self.prom_jobs)}, rules evaluated with data for {sorted(rec)} "
              f"(current {month}), sample data marked, alertmanager discovered; alerts: {firing or 'none yet'}")

    def check_alertmanager(self):
        st = get_json(f"http://{self.am_addr}/api/v2/status")
        if st.get("cluster", {}).get("status") not in ("ready", "disabled", None):
            fail(f"alertmanager: {st.get('cluster')}")
        print(f"   alertmanager: {st['versionInfo']['version']} serves the mounted configuration")

    def check_grafana(self):
        """Grafana's provisioning as Grafana resolves it (before anything runs)."""
        self.datasources = []
        mounts = self.mounts("grafana")
        prov = self.resolve("grafana", "/etc/grafana/provisioning", "provisioning directory")
        shipped = sorted(p.name for p in (REPO / "grafana/dashboards").glob("*.json"))
        n_prov = 0
        for f in sorted(prov.glob("dashboards/*.y*ml")):
            for p in (yaml.safe_load(f.read_text()) or {}).get("providers") or []:
                path = (p.get("options") or {}).get("path", "")
                path = self.interpolate("grafana", path, f"dashboard provider path in {f.name}")
                host = self.resolve("grafana", path, f"dashboard provider path ({f.name})")
                if not host.is_dir():
                    fail(f"grafana: dashboard provider path {path} ({host}) is no folder")
                got = sorted(x.name for x in host.rglob("*.json"))
                if got != shipped:
                    fail(f"grafana: dashboard provider path {path} holds {got}, not the shipped "
                         f"dashboards {shipped} (grafana mounts {sorted(mounts)})")
                n_prov += 1
        if not n_prov:
            fail("grafana: no dashboard provider")
        n_ds = 0
        for f in sorted(prov.glob("datasources/*.y*ml")):
            for d in (yaml.safe_load(f.read_text()) or {}).get("datasources") or []:
                url = self.interpolate("grafana", d.get("url", ""), f"datasource URL in {f.name}")
                m = re.match(r"^(https?)://([^/]+)(/.*)?$", url)
                if not m:
                    fail(f"grafana: datasource {d.get('name')!r} URL {url!r} is not a URL")
                hp = m.group(2) if ":" in m.group(2) else m.group(2) + (":443" if m.group(1) == "https" else ":80")
                if hp.rsplit(":", 1)[0] != "prometheus":
                    fail(f"grafana: datasource {d.get('name')!r} points at {url}, not the prometheus service")
                mapped = self.map_hostport("grafana", hp, f"datasource {d.get('name')!r}")
                self.datasources.append((url, f"http://{mapped}{m.group(3) or ''}"))
                n_ds += 1
        if not n_ds:
            fail("grafana: no datasource")
        self.grafana_summary = (n_prov, len(shipped), n_ds)

    def check_grafana_datasources(self):
        """The datasource URLs, mapped, answer a query of the recorded cost."""
        q = urllib.parse.urlencode({"query": "billing_period:bedrock_cost_usd:sum"})
        for url, mapped in self.datasources:
            if not get_json(f"{mapped}/api/v1/query?{q}")["data"]["result"]:
                fail(f"grafana: datasource {url} answers no data")
        n_prov, n_dash, n_ds = self.grafana_summary
        print(f"   grafana: {n_prov} dashboard provider(s) read a mounted folder holding the {n_dash} "
              f"shipped dashboards; {n_ds} datasource(s) reach the prometheus service and answer")

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main(compose_file, exporter, cur_sample):
    t0 = time.time()
    d = Demo(compose_file, exporter, cur_sample)
    try:
        d.static()
        # Resolve what can be resolved before anything runs (broken copies fail fast).
        d.prom_config()
        d.check_grafana()
        d.run_demo_data()
        d.start_exporter()
        d.start_alertmanager()
        d.exporter_healthcheck()
        d.start_prometheus()
        waited = d.wait_prometheus()
        d.check_data()
        d.check_alertmanager()
        d.check_grafana_datasources()
        print(f"compose demo works as its containers see it ({time.time() - t0:.1f} s; "
              f"{waited:.1f} s until Prometheus had everything)")
    finally:
        d.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
