"""The parameter set (deploy/mixin/config.toml): loading, overriding and checking it, and the
placeholders the rules are written with so that one text serves both the plain rules file and the
Helm template (see rules.py).

A placeholder ⟦path⟧ names a parameter (`jobSelector`, `alerts.BedrockBudgetExceeded.threshold`)
or a value derived from parameters (`ccy`: the currency's metric-name suffix; `severity:NAME`: the
label value of an alert's level; `runbook:NAME`: an alert's runbook URL).
"""

import copy
import re
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULTS = HERE / "config.toml"
LEVELS = ("critical", "warning", "info")
TOKEN = re.compile("⟦([^⟧]+)⟧")
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def p(path):
    """The placeholder of a parameter."""
    return f"⟦{path}⟧"


class ParamError(Exception):
    pass


def merge(base, over, where=""):
    """`over` on top of `base` (tables merge key by key); an unknown key is an error naming it."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        at = f"{where}.{k}" if where else k
        if k not in base and not (where == "" and k == "tagVariables"):
            known = ", ".join(sorted(base))
            raise ParamError(f"unknown parameter `{at}` (known here: {known})")
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            out[k] = merge(base[k], v, at)
        else:
            out[k] = v
    return out


def load(override_files=()):
    """The defaults with each override file applied in turn, checked."""
    with open(DEFAULTS, "rb") as f:
        params = tomllib.load(f)
    for path in override_files:
        with open(path, "rb") as f:
            try:
                over = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ParamError(f"{path}: {e}") from None
        try:
            params = merge(params, over)
        except ParamError as e:
            raise ParamError(f"{path}: {e}") from None
    check(params)
    return params


def check(params):
    """Types and values, each error naming the parameter."""
    def need(cond, what):
        if not cond:
            raise ParamError(what)

    job = params["jobSelector"]
    need(isinstance(job, str) and job.strip() and "{" not in job and "}" not in job,
         f"jobSelector {job!r}: label matchers without braces, e.g. 'job=\"bedrock-cost-exporter\"'")
    ccy = params["currency"]
    need(isinstance(ccy, str) and re.fullmatch(r"[A-Za-z]{3}", ccy or ""),
         f"currency {ccy!r}: a three-letter ISO 4217 code such as USD or EUR")
    url = params["runbookBaseUrl"]
    need(isinstance(url, str) and re.match(r"^https?://[^\s'\"]+$", url),
         f"runbookBaseUrl {url!r}: an absolute http(s) URL")
    for k in ("keepFiringFor", "scrapeInterval"):
        need(isinstance(params[k], str) and DURATION.match(params[k]), f"{k} {params[k]!r}: a Prometheus duration such as 2h")
    days = params["closedPeriodDays"]
    need(isinstance(days, int) and 0 <= days <= 27, f"closedPeriodDays {days!r}: a whole number of days, 0 to 27")
    for level in LEVELS:
        v = params["severities"][level]
        need(isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_.:-]+", v or ""),
             f"severities.{level} {v!r}: a label value of letters, digits, _ . : -")
    for name, a in params["alerts"].items():
        at = f"alerts.{name}"
        need(isinstance(a.get("enabled"), bool), f"{at}.enabled: true or false")
        need(a.get("severity") in LEVELS, f"{at}.severity {a.get('severity')!r}: one of {', '.join(LEVELS)}")
        need(isinstance(a.get("for"), str) and DURATION.match(a["for"]), f"{at}.for {a.get('for')!r}: a Prometheus duration")
        for k in ("threshold", "factor"):
            if k in a:
                need(isinstance(a[k], (int, float)) and not isinstance(a[k], bool) and a[k] >= 0,
                     f"{at}.{k} {a[k]!r}: a number ≥ 0")
    tags = params["tagVariables"]
    need(isinstance(tags, list), "tagVariables: a list of tables {label, name, title}")
    for i, t in enumerate(tags):
        at = f"tagVariables[{i}]"
        need(isinstance(t, dict) and set(t) == {"label", "name", "title"}, f"{at}: keys label, name, title")
        need(re.fullmatch(r"tag_[a-zA-Z0-9_]+", t["label"]), f"{at}.label {t['label']!r}: an exporter tag label (tag_…)")
        need(re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", t["name"]), f"{at}.name {t['name']!r}: a variable name")


def number(x):
    """A number as Go's %v prints a float64 or int (what Helm prints for the same value)."""
    if isinstance(x, bool):
        raise TypeError(x)
    if isinstance(x, int):
        return str(x)
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


def ccy_suffix(code):
    """The exporter's metric-name suffix of a currency code (src/metrics: lower-case letters)."""
    return "".join(c for c in code if c.isalnum()).lower() or "usd"


def anchor(heading):
    """mdBook's anchor of a heading: trimmed, lower-cased, letters/digits/_/- kept, whitespace → -,
    the rest dropped (docs/src/alerts.md states the rule)."""
    out = []
    for c in heading.strip().lower():
        if c.isalnum() or c in "_-":
            out.append(c)
        elif c.isspace():
            out.append("-")
    return "".join(out)


def runbook(params, alert):
    return f"{params['runbookBaseUrl'].rstrip('/')}/alerts.html#{anchor(alert)}"


def resolve(path, params):
    """The text a placeholder stands for, with these parameters."""
    if path == "ccy":
        return ccy_suffix(params["currency"])
    if path.startswith("severity:"):
        return params["severities"][params["alerts"][path[9:]]["severity"]]
    if path.startswith("runbook:"):
        return runbook(params, path[8:])
    v = params
    for k in path.split("."):
        v = v[k]
    return v if isinstance(v, str) else number(v)


def substitute(text, params):
    return TOKEN.sub(lambda m: resolve(m.group(1), params), text)
