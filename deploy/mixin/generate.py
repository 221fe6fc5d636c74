#!/usr/bin/env python3
"""Writes everything made from the rules' and dashboards' parameter set (deploy/mixin/config.toml).

  python3 deploy/mixin/generate.py
      the repository's copies, with the shipped parameters:
        deploy/prometheus/bedrock-cost-exporter.rules.yml        (also mounted by the compose demo)
        deploy/prometheus/tests/bedrock-cost-exporter.test.yml  (promtool unit tests)
        deploy/helm/bedrock-cost-exporter/templates/prometheusrule.yaml
        grafana/dashboards/*.json, deploy/helm/bedrock-cost-exporter/files/dashboards/*.json
  python3 deploy/mixin/generate.py --check
      the same, comparing instead of writing: fails naming every file that differs (CI)
  python3 deploy/mixin/generate.py --config my-params.toml [--config more.toml] --out DIR
      your own parameters (only the keys you change; later files win): DIR/bedrock-cost-exporter.rules.yml,
      DIR/bedrock-cost-exporter.test.yml and DIR/dashboards/*.json

Python 3.11 or later, standard library only.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import importlib.util  # noqa: E402

import params as P  # noqa: E402
import rules  # noqa: E402
import ruletests  # noqa: E402


def dashboards_module():
    """grafana/generate.py: the dashboards' builders."""
    spec = importlib.util.spec_from_file_location("dashboards", REPO / "grafana/generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

CHART = REPO / "deploy/helm/bedrock-cost-exporter"
RULES = "bedrock-cost-exporter.rules.yml"
TESTS = "bedrock-cost-exporter.test.yml"
# Placeholders in the chart's dashboard copies, replaced by the chart (templates/dashboards.yaml)
# with its own job selector and currency.
CHART_JOB = "__BCE_JOB_SELECTOR__"
CHART_CCY = "__bce_ccy__"
CHART_UNIT = "__BCE_CURRENCY_UNIT__"


DURATION_PATTERN = "^([0-9]+(ms|s|m|h|d|w|y))+$"


def config_schema(params):
    """values.schema.json's prometheusRule.config: config.toml's keys, alert names included, so
    that helm lint refuses a misspelt one."""
    alert = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean"},
            "severity": {"enum": list(P.LEVELS)},
            "for": {"type": "string", "pattern": DURATION_PATTERN},
            "threshold": {"type": "number", "minimum": 0},
            "factor": {"type": "number", "minimum": 0},
        },
    }
    return {
        "type": "object",
        "description": "The rules' and dashboards' parameter set: the keys of deploy/mixin/config.toml.",
        "additionalProperties": False,
        "properties": {
            "jobSelector": {"type": "string", "minLength": 1},
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
            "runbookBaseUrl": {"type": "string", "pattern": "^https?://"},
            "keepFiringFor": {"type": "string", "pattern": DURATION_PATTERN},
            "closedPeriodDays": {"type": "integer", "minimum": 0, "maximum": 27},
            "scrapeInterval": {"type": "string", "pattern": DURATION_PATTERN},
            "severities": {
                "type": "object",
                "additionalProperties": False,
                "properties": {lvl: {"type": "string", "minLength": 1} for lvl in P.LEVELS},
            },
            "tagVariables": {"type": "array"},
            "alerts": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: alert for name in params["alerts"]},
            },
        },
    }


def chart_schema(params):
    """The chart's values.schema.json with prometheusRule.config written from the parameters."""
    import json

    path = CHART / "values.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["prometheusRule"]["properties"]["config"] = config_schema(params)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def repo_files(params):
    dashboards = dashboards_module()
    out = {
        REPO / "deploy/prometheus" / RULES: rules.plain_rules(params),
        REPO / "deploy/prometheus/tests" / TESTS: ruletests.test_file(params, f"../{RULES}"),
        CHART / "templates/prometheusrule.yaml": rules.helm_template(params),
        CHART / "values.schema.json": chart_schema(params),
    }
    for name, text in dashboards.boards(params).items():
        out[REPO / "grafana/dashboards" / name] = text
    for name, text in dashboards.boards(params, CHART_JOB, CHART_CCY, CHART_UNIT).items():
        out[CHART / "files/dashboards" / name] = text
    return out


def user_files(params, out_dir, sources):
    dashboards = dashboards_module()
    extra = " with " + ", ".join(str(s) for s in sources)
    out = {out_dir / RULES: rules.plain_rules(params, extra)}
    try:
        out[out_dir / TESTS] = ruletests.test_file(params, RULES)
    except P.ParamError as e:
        # A regex job selector (job=~"…") selects fine; only the unit tests cannot build series
        # that match it. The rules are written; their tests are not.
        print(f"note: no promtool unit tests written: {e}", file=sys.stderr)
    for name, text in dashboards.boards(params).items():
        out[out_dir / "dashboards" / name] = text
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", action="append", default=[], type=Path,
                    help="a TOML file of parameters to change (see deploy/mixin/config.toml); repeatable")
    ap.add_argument("--out", type=Path, help="with --config: the folder to write into")
    ap.add_argument("--check", action="store_true", help="compare the repository's copies instead of writing them")
    args = ap.parse_args()
    if bool(args.config) != bool(args.out):
        ap.error("--config and --out go together (without both, the repository's copies are written)")
    try:
        params = P.load(args.config)
    except (P.ParamError, OSError) as e:
        sys.exit(f"error: {e}")
    files = user_files(params, args.out, args.config) if args.out else repo_files(params)
    if args.check:
        stale = [f for f, text in files.items() if not f.exists() or f.read_text() != text]
        generated_dirs = {REPO / "grafana/dashboards", CHART / "files/dashboards"}
        for d in generated_dirs:
            for f in sorted(d.glob("*.json")):
                if f not in files:
                    stale.append(f)
        if stale:
            for f in stale:
                print(f"out of date: {f.relative_to(REPO)} (run python3 deploy/mixin/generate.py)", file=sys.stderr)
            sys.exit(1)
        print(f"{len(files)} generated files are up to date")
        return
    for d in {REPO / "grafana/dashboards", CHART / "files/dashboards"}:
        if not args.out:
            for f in d.glob("*.json"):
                if f not in files:
                    f.unlink()
    for f, text in files.items():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    print(f"wrote {len(files)} files")


if __name__ == "__main__":
    main()
