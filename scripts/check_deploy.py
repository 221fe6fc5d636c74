#!/usr/bin/env python3
"""Structured checks of the deployment artifacts, called by scripts/check-deploy.sh.

Each subcommand exits non-zero with a message naming the file when a check fails, and prints
"SKIP: ..." when a check waits for a file that is not shipped yet.
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
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_stages(path):
    """[(from_line, [(instruction, args)])] with continuation lines joined."""
    text = Path(path).read_text()
    text = re.sub(r"\\\n", " ", text)
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, args = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            stages.append((args, []))
        elif stages:
            stages[-1][1].append((instr, args.strip()))
    return stages


def exec_form(args):
    args = args.strip()
    if not args.startswith("["):
        fail(f"Dockerfile: {args!r} is in shell form; the image has no shell, use the exec form")
    return json.loads(args)


def dockerignore_allows(src):
    """The .dockerignore is an allow list: `*` then `!path` lines."""
    lines = [
        l.strip()
        for l in (REPO / ".dockerignore").read_text().splitlines()
        if l.strip() and not l.startswith("#")
    ]
    if lines[0] != "*":
        fail(".dockerignore: expected an allow list starting with `*`")
    allowed = [l[1:].rstrip("/") for l in lines[1:] if l.startswith("!")]
    src = src.rstrip("/")
    return any(src == a or src.startswith(a + "/") for a in allowed)


def cmd_dockerfile_context(out_dir):
    """Copies the build stage's COPY sources into out_dir (what `docker build` would send)."""
    stages = dockerfile_stages(REPO / "Dockerfile")
    build = stages[0][1]
    out = Path(out_dir)
    for instr, args in build:
        if instr != "COPY" or "--from" in args:
            continue
        *srcs, _dst = args.split()
        for s in srcs:
            if not (REPO / s).exists():
                fail(f"Dockerfile COPY source {s} does not exist")
            if not dockerignore_allows(s):
                fail(f"Dockerfile COPY source {s} is excluded by .dockerignore")
            target = out / s
            if (REPO / s).is_dir():
                shutil.copytree(REPO / s, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / s, target)
    # Runtime-stage copies from the context, too.
    for instr, args in stages[-1][1]:
        if instr == "COPY" and "--from" not in args:
            for s in args.split()[:-1]:
                if not (REPO / s).exists() or not dockerignore_allows(s):
                    fail(f"Dockerfile COPY source {s} is missing or excluded by .dockerignore")
    print(f"Dockerfile build context complete ({out_dir})")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cmd_dockerfile_contract(binary, dockerfile="Dockerfile"):
    """Runs the final stage as the image would: ENTRYPOINT + CMD with its ENV and WORKDIR, the
    copied files laid out under a temporary root (the build stage's binaries are BINARY and
    the cur-sample beside BINARY). With no source it must stop at start with exit status 78
    and say how to set one (no sample is baked in); with the demo data its documented first step
    writes (cur-sample --demo into the state directory) and BCE_SOURCE it must serve it (marked as
    sample), pass its own HEALTHCHECK and stop cleanly on SIGTERM; with the source in a --config
    file (CMD overridden, as the compose demo does) its HEALTHCHECK must still pass."""
    binary = str(Path(binary).resolve())
    cur_sample = str((Path(binary).parent / "cur-sample").resolve())
    if not os.access(cur_sample, os.X_OK):
        fail(f"no cur-sample at {cur_sample}: build it (cargo build -p cur-sample)")
    stages = dockerfile_stages(REPO / dockerfile)
    final = stages[-1][1]
    instr = {}
    env = {}
    copies = []
    for i, a in final:
        if i == "ENV":  # ENV k=v [k=v …]
            for kv in shlex.split(a):
                k, _, v = kv.partition("=")
                env[k] = v
        elif i == "COPY":
            copies.append(a.split())
        else:
            instr[i] = a
    for need in ["ENTRYPOINT", "CMD", "HEALTHCHECK", "EXPOSE", "USER", "WORKDIR"]:
        if need not in instr:
            fail(f"Dockerfile: the runtime stage has no {need}")
    user = instr["USER"].split(":")[0]
    if user in ("root", "0") or not user.isdigit():
        fail(f"Dockerfile: USER {instr['USER']} must be a numeric non-root user (runAsNonRoot)")
    listen = env.get("BCE_LISTEN", "")
    if not listen.startswith("0.0.0.0:"):
        fail(f"Dockerfile: ENV BCE_LISTEN={listen!r}; the container must listen on 0.0.0.0")
    if listen.split(":")[1] != instr["EXPOSE"].strip():
        fail(f"Dockerfile: EXPOSE {instr['EXPOSE']} differs from BCE_LISTEN {listen}")
    baked = sorted(k for k in env if k.startswith("BCE_") and k != "BCE_LISTEN")
    if baked:
        fail(f"Dockerfile: ENV {baked} baked into the image: the image must hold no source or "
             "configuration but the listen address (an exporter without a source must stop, not "
             "serve example data as if it were a bill)")
    hc = instr["HEALTHCHECK"]
    if " CMD " not in f" {hc} ":
        fail("Dockerfile: HEALTHCHECK without CMD")
    hc_cmd = exec_form(hc.split(" CMD ", 1)[1] if not hc.startswith("CMD") else hc[3:])
    entry = exec_form(instr["ENTRYPOINT"])
    cmd = exec_form(instr["CMD"])
    if entry[0] != hc_cmd[0]:
        fail("Dockerfile: HEALTHCHECK runs another program than the ENTRYPOINT")
    build_outputs = {"/bedrock-cost-exporter": binary, "/cur-sample": cur_sample}

    root = Path(tempfile.mkdtemp(prefix="bce-image-"))
    try:
        image_paths = {}  # path in the image -> path here
        for c in copies:
            if c[0].startswith("--from"):
                src = c[-2]
                if src == "/state":
                    d = root / c[-1].lstrip("/")
                    d.mkdir(parents=True, exist_ok=True)
                    image_paths[c[-1]] = str(d)
                elif src in build_outputs:
                    image_paths[c[-1]] = build_outputs[src]
                else:
                    fail(f"Dockerfile: COPY {' '.join(c)}: unknown build-stage output {src}")
                continue
            if c[0].startswith("sample"):
                fail(f"Dockerfile: COPY {c[0]}: the image bundles the sample export; nothing "
                     "documented uses it (the demo writes its own with cur-sample --demo)")
            src, dst = REPO / c[0], root / c[-1].lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, dst)
            image_paths[c[-1]] = str(dst)
        if image_paths.get(entry[0]) != binary:
            fail(f"Dockerfile: ENTRYPOINT {entry[0]} is not the copied exporter binary")
        if "/usr/bin/cur-sample" not in image_paths:
            fail("Dockerfile: the image has no /usr/bin/cur-sample (the compose demo's data step)")
        workdir = root / instr["WORKDIR"].lstrip("/")
        workdir.mkdir(parents=True, exist_ok=True)
        state = next((h for i, h in image_paths.items() if i == instr["WORKDIR"]), None)
        if state is None:
            fail(f"Dockerfile: WORKDIR {instr['WORKDIR']} is not the directory owned by the "
                 "runtime user (COPY --chown from /state), where the demo data is written")
        base_env = {
            k: v for k, v in os.environ.items()
            if not k.startswith("BCE_") and k != "RUST_LOG" and k != "BEDROCK_COST_EXPORTER_FALLBACK_SOURCE"
        }
        base_env.update(env)
        base_env["AWS_EC2_METADATA_DISABLED"] = "true"

        def run_image(extra_env, argv, what):
            """Starts ENTRYPOINT (+ argv or CMD); waits for its HEALTHCHECK with --ready; checks
            the HEALTHCHECK itself; returns (daemon, env)."""
            port = free_port()
            run_env = dict(base_env, **extra_env)
            run_env["BCE_LISTEN"] = f"0.0.0.0:{port}"
            daemon = subprocess.Popen(
                [binary] + entry[1:] + argv, cwd=workdir, env=run_env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            deadline = time.time() + 60
            while True:
                r = subprocess.run([binary] + hc_cmd[1:] + ["--ready"], cwd=workdir, env=run_env,
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    break
                if r.returncode == 78:  # a configuration error: waiting will not help
                    daemon.kill()
                    fail(f"{what}: the image's HEALTHCHECK ({' '.join(hc_cmd)} --ready) cannot "
                         f"start (exit 78): {r.stderr.strip()}")
                if daemon.poll() is not None:
                    fail(f"{what}: the image's daemon exited {daemon.returncode}: "
                         f"{daemon.stderr.read().decode()[-2000:]}")
                if time.time() > deadline:
                    daemon.kill()
                    fail(f"{what}: the image's daemon never became ready: {r.stderr}")
                time.sleep(0.3)
            r = subprocess.run([binary] + hc_cmd[1:], cwd=workdir, env=run_env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                daemon.kill()
                fail(f"{what}: the image's HEALTHCHECK ({' '.join(hc_cmd)}) fails against its own "
                     f"daemon ({r.returncode}): {r.stderr.strip()}")
            return daemon, port

        def stop(daemon, what):
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                fail(f"{what}: the daemon did not stop within 15 s of SIGTERM (docker stop would kill it)")
            if daemon.returncode != 0:
                fail(f"{what}: the daemon exited {daemon.returncode} on SIGTERM")

        # 1. No source: stop at start, exit 78 (EX_CONFIG), saying how to set one.
        r = subprocess.run([binary] + entry[1:] + cmd, cwd=workdir, env=dict(base_env, BCE_LISTEN=f"0.0.0.0:{free_port()}"),
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 78 or "BCE_SOURCE" not in r.stderr or "source" not in r.stderr:
            fail(f"the image with no source: `{' '.join(entry + cmd)}` exited {r.returncode} "
                 f"(want 78, EX_CONFIG, with a message naming `source`/BCE_SOURCE): {r.stderr[-1500:]}")
        first_line = r.stderr.strip().splitlines()[-1][:110]
        print(f"   no source: exit 78, {first_line}…")

        # 2. The demo data, as the Dockerfile's header documents it.
        demo = f"{instr['WORKDIR'].rstrip('/')}/demo/export"
        demo_here = state + "/demo/export"
        r = subprocess.run([image_paths["/usr/bin/cur-sample"], "--demo", "--out", demo_here],
                           cwd=workdir, env=base_env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            fail(f"/usr/bin/cur-sample --demo --out {demo}: {r.stderr}")
        daemon, port = run_image({"BCE_SOURCE": demo_here}, cmd, "demo data")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            body = resp.read().decode()
        if not re.search(r"^bedrock_cost_usd\{", body, re.M):
            daemon.kill()
            fail("demo data: no bedrock_cost_usd series")
        m = re.search(r"^bedrock_exporter_sample_data(\{[^}]*\})? (\S+)", body, re.M)
        if not m or float(m.group(2)) != 1:
            daemon.kill()
            fail(f"demo data: bedrock_exporter_sample_data is {m.group(2) if m else 'absent'}, want 1")
        stop(daemon, "demo data")
        print(f"   demo data: /usr/bin/cur-sample --demo --out {demo}, then BCE_SOURCE={demo}: "
              "ready, HEALTHCHECK passes, bedrock_exporter_sample_data 1, SIGTERM stops it")

        # 3. The source in a configuration file (docker run … IMAGE --config FILE serve).
        cfg = root / "etc/bedrock-cost-exporter/config.toml"
        cfg.parent.mkdir(parents=True)
        cfg.write_text(f'source = "{demo_here}"\n')
        daemon, _ = run_image({}, ["--config", str(cfg), "serve"], "source in --config")
        stop(daemon, "source in --config")
        print("   source in a --config file (CMD overridden): HEALTHCHECK passes")
        print(
            f"Dockerfile runtime contract holds: `{' '.join(entry + cmd)}` in {instr['WORKDIR']} "
            f"with BCE_LISTEN={env['BCE_LISTEN']}, no source baked in"
        )
    finally:
        shutil.rmtree(root)


def cmd_systemd_no_source(unit, envfile, binary):
    """The unit as systemd would start it with the shipped environment file and a configuration
    file without `source` (none is shipped): the exporter stops at start with exit status 78
    saying how to set one, and the unit does not restart on that status."""
    text = Path(unit).read_text()
    directives = dict(
        l.split("=", 1) for l in text.splitlines() if "=" in l and not l.startswith("#")
    )
    if "78" not in directives.get("RestartPreventExitStatus", "").split():
        fail(f"{unit}: no RestartPreventExitStatus=78: without a source systemd would restart it "
             "every RestartSec forever")
    argv = shlex.split(directives["ExecStart"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCE_")
           and k not in ("RUST_LOG", "BEDROCK_COST_EXPORTER_FALLBACK_SOURCE")}
    for line in Path(envfile).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "config.toml"
        cfg.write_text('refresh_interval = "1h"\n')  # an installed config without `source`
        if "--config" in argv:
            argv[argv.index("--config") + 1] = str(cfg)
        argv[0] = str(Path(binary).resolve())
        r = subprocess.run(argv, env=env, cwd=d, capture_output=True, text=True, timeout=30)
    if r.returncode != 78 or "BCE_SOURCE" not in r.stderr:
        fail(f"{unit}: with no source, `{directives['ExecStart']}` exited {r.returncode} (want 78 "
             f"with a message naming BCE_SOURCE): {r.stderr[-1000:]}")
    print(f"{unit}: with no source the service stops at start (exit 78, says how to set one) and "
          "is not restarted (RestartPreventExitStatus=78)")


# ---------------------------------------------------------------------------------------------
# Prometheus configurations


def cmd_prom_config(src, out, *maps):
    """Writes a copy of a Prometheus config for `promtool check config`: rule_files mapped from
    container paths to repository paths (`container=host` pairs), absolute; rules files that are
    not shipped yet dropped with a SKIP line."""
    mapping = dict(m.split("=", 1) for m in maps)
    cfg = yaml.safe_load(Path(src).read_text())
    kept = []
    for rf in cfg.get("rule_files") or []:
        host = mapping.get(rf, rf)
        p = Path(host) if os.path.isabs(host) else (Path(src).parent / host)
        if p.exists():
            kept.append(str(p.resolve()))
        else:
            print(f"SKIP: {src}: rule file {rf} ({p}) is not shipped yet; checking the rest")
    if kept:
        cfg["rule_files"] = kept
    else:
        cfg.pop("rule_files", None)
    Path(out).write_text(yaml.safe_dump(cfg, sort_keys=False))


# ---------------------------------------------------------------------------------------------
# Helm


def cmd_helm_split(rendered, out_dir):
    """Splits `helm template` output: core kinds → core.yaml (for kubernetes-validate); each
    PrometheusRule's groups → rules-N.yml (for promtool) and compared with the shipped rules files;
    dashboard ConfigMaps compared byte for byte with grafana/dashboards; the exporter's config.toml
    written out (for check-config); the Deployment's pod template checked for what the issue asks."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    docs = [d for d in yaml.safe_load_all(Path(rendered).read_text()) if d]
    core, crds = [], []
    shipped_rules = {
        p.name: yaml.safe_load(p.read_text())
        for p in sorted((REPO / "deploy/prometheus").glob("*.rules.yml"))
    }
    shipped_dash = {p.name: p.read_text() for p in sorted((REPO / "grafana/dashboards").glob("*.json"))}
    seen_rules, seen_dash = [], []
    config = None
    existing_config = False
    for d in docs:
        kind = d["kind"]
        if d["apiVersion"].startswith("monitoring.coreos.com/"):
            crds.append(d)
            if kind == "PrometheusRule":
                n = len(seen_rules)
                groups = {"groups": d["spec"]["groups"]}
                (out / f"rules-{n}.yml").write_text(yaml.safe_dump(groups, sort_keys=False))
                match = [name for name, r in shipped_rules.items() if r == groups]
                if not match:
                    fail(f"{rendered}: PrometheusRule {d['metadata']['name']} equals no shipped rules file")
                seen_rules.append(match[0])
            continue
        core.append(d)
        labels = d["metadata"].get("labels") or {}
        if kind == "ConfigMap" and "grafana_dashboard" in labels:
            for k, v in d["data"].items():
                if shipped_dash.get(k) != v:
                    fail(f"{rendered}: dashboard ConfigMap key {k} differs from grafana/dashboards/{k}")
                seen_dash.append(k)
        elif kind == "ConfigMap" and "config.toml" in (d.get("data") or {}):
            config = d["data"]["config.toml"]
        elif kind == "Deployment":
            pod = d["spec"]["template"]["spec"]
            cfg_vol = next(v for v in pod["volumes"] if v["name"] == "config")
            existing_config = "secret" in cfg_vol or "items" in (cfg_vol.get("configMap") or {})
            c = pod["containers"][0]
            sc = c.get("securityContext") or {}
            psc = pod.get("securityContext") or {}
            def probes(probe, path):
                """An httpGet on path, or (with a web config) the healthcheck subcommand speaking it."""
                if "httpGet" in probe:
                    return probe["httpGet"]["path"] == path
                cmd = (probe.get("exec") or {}).get("command") or []
                web = "--web.config.file" in cmd and "--web.config.file" in c.get("args", [])
                same_file = web and cmd[cmd.index("--web.config.file") + 1] == c["args"][c["args"].index("--web.config.file") + 1]
                return ("healthcheck" in cmd and same_file
                        and (("--ready" in cmd) == (path == "/readyz")))
            checks = {
                "runAsNonRoot": psc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True,
                "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
                "capabilities drop ALL": "ALL" in (sc.get("capabilities") or {}).get("drop", []),
                "liveness /healthz": probes(c["livenessProbe"], "/healthz"),
                "readiness /readyz": probes(c["readinessProbe"], "/readyz"),
                "resources": bool(c.get("resources", {}).get("requests")),
                "config checksum": existing_config
                or "checksum/config" in (d["spec"]["template"]["metadata"].get("annotations") or {}),
            }
            bad = [k for k, ok in checks.items() if not ok]
            if bad:
                fail(f"{rendered}: the Deployment lacks {bad}")
    (out / "core.yaml").write_text(yaml.safe_dump_all(core, sort_keys=False))
    if config is None and not existing_config:
        fail(f"{rendered}: no ConfigMap with config.toml")
    if config is not None:
        (out / "config.toml").write_text(config)
    summary = f"{len(core)} core objects, {len(crds)} Prometheus Operator objects"
    if seen_rules:
        if sorted(seen_rules) != sorted(shipped_rules):
            fail(f"{rendered}: PrometheusRules carry {seen_rules}, shipped are {sorted(shipped_rules)}")
        summary += f", rules {seen_rules} identical to deploy/prometheus"
    if seen_dash:
        if sorted(seen_dash) != sorted(shipped_dash):
            fail(f"{rendered}: dashboard ConfigMaps carry {seen_dash}, shipped are {sorted(shipped_dash)}")
        summary += f", dashboards {seen_dash} identical to grafana/dashboards"
    print(summary)
    (out / "rule-count").write_text(str(len(seen_rules)))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    globals()["cmd_" + cmd.replace("-", "_")](*args)
