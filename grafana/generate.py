#!/usr/bin/env python3
"""The five Bedrock cost dashboards (classic dashboard JSON), built from the rules' and dashboards'
parameter set (deploy/mixin/config.toml): job selector, currency, tag variables, spike thresholds.

deploy/mixin/generate.py writes them (grafana/dashboards/*.json and the Helm chart's copies);
running this file does the same. The JSON files are what Grafana loads and what the tests check;
this module is how they are made, so that every panel gets the same datasource variable, filters
and conventions. The test suite fails when the committed JSON differs from the generator's output.
Standard library only.

Why Python builders, not grafana-foundation-sdk or jsonnet: the rules, the Helm template and these
dashboards come from one parameter file with one language and no dependency (python3 alone
regenerates them); the foundation SDK's PyPI builds target Grafana ≤ 11.6 (schemaVersion 41) while
we validate against @grafana/schema 13.2.3 (schemaVersion 42), and jsonnet's grafonnet library is
not installable from a package registry.

Conventions (docs/src/dashboards.md):
- Values are billing-period-to-date gauges: panels read them as they are (stat, bar gauge, table,
  time series of the month to date); no rate() of costs.
- `max without (instance, pod)` before any sum, so two replicas never double a number; recording
  rules of deploy/prometheus/bedrock-cost-exporter.rules.yml where the panel is not filtered by
  the dashboard's label variables (budgets, month elapsed, current period).
- Every query on the exporter's own series carries `job=~"$job"`; counters only inside increase().
"""

import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent / "dashboards"
TAG = "bedrock-cost-exporter"
DS = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 42  # @grafana/schema 13.2.3's default

UIDS = {
    "overview": "bedrock-overview",
    "principals": "bedrock-principals",
    "models": "bedrock-models",
    "budgets": "bedrock-budgets",
    "health": "bedrock-exporter-health",
}
SLUGS = {
    "overview": "bedrock-cost-overview",
    "principals": "bedrock-principals-and-teams",
    "models": "bedrock-models-and-tokens",
    "budgets": "bedrock-budgets",
    "health": "bedrock-cost-exporter-health",
}


def dlink(board, title, params):
    """A data link to another dashboard, keeping time range, datasource and period."""
    q = "${__url_time_range}&${datasource:queryparam}&${job:queryparam}"
    if board != "health":
        q += "&${billing_period:queryparam}"
    for k, v in params:
        q += f"&var-{k}={v}"
    return {"title": title, "url": f"/d/{UIDS[board]}/{SLUGS[board]}?{q}"}


# ---------------------------------------------------------------------------------------------
# Variables

def v_datasource():
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "description": "The Prometheus that scrapes bedrock-cost-exporter (and evaluates its rules).",
        "refresh": 1,
        "hide": 0,
        "options": [],
    }


def v_query(name, label, query, description, multi=True, sort=1, hide=0):
    v = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": query,  # classic label_values(): every Grafana version reads it
        "description": description,
        "refresh": 2,
        "sort": sort,
        "hide": hide,
        "regex": "",
        "options": [],
    }
    if multi:
        v.update({
            "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        })
    else:
        v.update({"multi": False, "includeAll": False})
    return v


# Set by configure() from the parameter set.
JOB_SELECTOR = 'job="bedrock-cost-exporter"'
PARAMS = None


def v_job():
    return v_query(
        "job",
        "Job",
        f"label_values(bedrock_exporter_build_info{{{JOB_SELECTOR}}}, job)",
        "Prometheus job(s) scraping bedrock-cost-exporter. Replicas of one job are deduplicated "
        "(max without instance, pod); pick one job per bill.",
    )


def v_period(metric="bedrock_cost_usd"):
    return v_query(
        "billing_period",
        "Billing period",
        f'label_values({metric}{{job=~"$job"}}, billing_period)',
        "Billing period (YYYY-MM, the export's BILLING_PERIOD partition); newest first. One at a "
        "time: values are period to date, so periods are never added up.",
        multi=False,
        sort=2,
    )


COST_FILTER_VARS = []


def tag_vars():
    """(variable, title, label, description) of each tag variable of the parameter set."""
    return [(t["name"], t["title"], t["label"],
             f"activated principal or session tag (label {t['label']}; absent tags match All)")
            for t in PARAMS["tagVariables"]]


def configure(params):
    """Takes the parameter set (deploy/mixin/params.py load())."""
    global PARAMS, JOB_SELECTOR, COST_FILTER_VARS
    PARAMS = params
    JOB_SELECTOR = params["jobSelector"]
    COST_FILTER_VARS = [
        # (variable, label, metric label, description)
        ("payer_account_id", "Payer account", "payer_account_id",
         "bill_payer_account_id, the management account whose bill it is (one per export)"),
        ("account", "Account", "account_id", "line_item_usage_account_id"),
        *tag_vars(),
        ("principal", "Principal", "principal", "line_item_iam_principal (full ARN)"),
        ("model", "Model", "model", "model from the usage type or Marketplace product name"),
        ("region", "Region", "region", "region from the usage-type prefix"),
    ]


def alert_param(name, key):
    return PARAMS["alerts"][name][key]


def num(x):
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


def counter_window():
    """4 × the scrape interval: at least two scrapes, like $__rate_interval with the datasource's
    scrape interval set to the exporter's."""
    import re
    total = 0
    for n, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", PARAMS["scrapeInterval"]):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}[unit]
    secs = int(total * 4)
    return f"{secs // 60}m" if secs % 60 == 0 else f"{secs}s"


def cost_vars():
    out = [v_datasource(), v_job(), v_period()]
    for name, label, lab, desc in COST_FILTER_VARS:
        out.append(
            v_query(
                name,
                label,
                f'label_values(bedrock_cost_usd{{job=~"$job", billing_period="$billing_period"}}, {lab})',
                f"Filter on {lab}: {desc}.",
            )
        )
    return out


def sel(extra="", period=True):
    """Label matchers of a Bedrock cost/usage selector with every filter variable."""
    m = ['job=~"$job"']
    if period:
        m.append('billing_period="$billing_period"')
    m += [f'{lab}=~"${name}"' for name, _, lab, _ in COST_FILTER_VARS]
    if extra:
        m.append(extra)
    return "{" + ", ".join(m) + "}"


def cost(extra=""):
    return f"max without (instance, pod) (bedrock_cost_usd{sel(extra)})"


def tokens(extra=""):
    return f"max without (instance, pod) (bedrock_usage_tokens{sel(extra)})"


# ---------------------------------------------------------------------------------------------
# Panels

class Grid:
    """Lays panels out left to right, wrapping at 24 columns."""

    def __init__(self):
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, panel, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel

    def row(self, title):
        if self.x:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        p = {
            "type": "row",
            "title": title,
            "collapsed": False,
            "panels": [],
            "id": self.next_id,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
        }
        self.next_id += 1
        self.y += 1
        return p


def target(expr, legend="", instant=True, fmt=None, ref="A"):
    t = {
        "datasource": DS,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        "editorMode": "code",
    }
    if fmt:
        t["format"] = fmt
    return t


def thresholds(*steps):
    s = [{"color": "green", "value": None}]
    for value, color in steps:
        s.append({"color": color, "value": value})
    return {"mode": "absolute", "steps": s}


def panel(ptype, title, description, targets, unit, options=None, custom=None, links=None,
          extra_defaults=None, overrides=None, transformations=None):
    defaults = {"unit": unit, "links": links or [], "mappings": []}
    if custom is not None:
        defaults["custom"] = custom
    defaults.update(extra_defaults or {})
    p = {
        "type": ptype,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        p["transformations"] = transformations
    return p


def stat(title, description, targets, unit, thr=None, links=None, color_mode="value", text_mode="auto", **kw):
    return panel(
        "stat", title, description, targets, unit,
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": color_mode,
            "graphMode": "none",
            "textMode": text_mode,
            "justifyMode": "auto",
            "orientation": "auto",
            "showPercentChange": False,
            "wideLayout": True,
        },
        extra_defaults={"thresholds": thr or thresholds(), "color": {"mode": "thresholds"}},
        links=links, **kw,
    )


def bargauge(title, description, targets, unit, thr=None, links=None, max_=None, **kw):
    extra = {"thresholds": thr or thresholds(), "color": {"mode": "thresholds" if thr else "palette-classic"}}
    if max_ is not None:
        extra["max"] = max_
        extra["min"] = 0
    return panel(
        "bargauge", title, description, targets, unit,
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "valueMode": "color",
            "showUnfilled": True,
            "namePlacement": "left",
            "sizing": "auto",
            "minVizHeight": 16,
            "maxVizHeight": 300,
        },
        extra_defaults=extra, links=links, **kw,
    )


def timeseries(title, description, targets, unit, stack=False, **kw):
    custom = {
        "drawStyle": "line",
        "lineInterpolation": "stepAfter",
        "lineWidth": 2,
        "fillOpacity": 10 if stack else 0,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisPlacement": "auto",
    }
    return panel(
        "timeseries", title, description, targets, unit, custom=custom,
        options={
            "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        extra_defaults={"color": {"mode": "palette-classic"}, "thresholds": thresholds()},
        **kw,
    )


def table(title, description, targets, unit, links=None, overrides=None, transformations=None, sort_by=None):
    return panel(
        "table", title, description, targets, unit,
        options={
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False},
            "sortBy": [{"displayName": sort_by or "Value", "desc": True}],
        },
        custom={"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
        extra_defaults={"thresholds": thresholds(), "color": {"mode": "thresholds"}},
        links=links, overrides=overrides,
        transformations=transformations or [],
    )


def piechart(title, description, targets, unit, links=None):
    return panel(
        "piechart", title, description, targets, unit,
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "pieType": "donut",
            "displayLabels": ["percent"],
            "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "values": ["value", "percent"]},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        extra_defaults={"color": {"mode": "palette-classic"}},
        links=links,
    )


def text(title, description, content):
    return {
        "type": "text",
        "title": title,
        "description": description,
        "options": {"mode": "markdown", "content": content, "code": {"language": "plaintext", "showLineNumbers": False, "showMiniMap": False}},
    }


def override(field, **props):
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": k.replace("_", "."), "value": v} for k, v in props.items()],
    }


def hide_fields(*names, rename=None, order=None):
    return {
        "id": "organize",
        "options": {
            "excludeByName": {n: True for n in names},
            "renameByName": rename or {},
            "indexByName": {n: i for i, n in enumerate(order or [])},
        },
    }


FROM_BILL = (
    " From the CUR 2.0 export: billing period to date, all line item types (usage, credits, "
    "refunds, tax, fees) unless stated; restatements can lower it."
)
FILTERS = " Filtered by every variable above."


# ---------------------------------------------------------------------------------------------
# Dashboards

def dashboard(key, title, description, panels, variables, time_from="now-7d"):
    return {
        "uid": UIDS[key],
        "title": title,
        "description": description,
        "tags": [TAG, "finops", "bedrock"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "5m",
        "timezone": "utc",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "weekStart": "",
        "annotations": {"list": [{
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "links": [{
            "title": "Bedrock cost dashboards",
            "type": "dashboards",
            "tags": [TAG],
            "asDropdown": False,
            "includeVars": True,
            "keepTime": True,
            "icon": "external link",
            "targetBlank": False,
            "tooltip": "",
        }],
        "templating": {"list": variables},
        "panels": panels,
    }


def budget_thresholds():
    t = [alert_param(n, "threshold") for n in ("BedrockBudgetHalfUsed", "BedrockBudgetAlmostUsed", "BedrockBudgetExceeded")]
    return thresholds((t[0], "yellow"), (t[1], "orange"), (t[2], "red"))


def budget_levels_text():
    t = [alert_param(n, "threshold") for n in ("BedrockBudgetHalfUsed", "BedrockBudgetAlmostUsed", "BedrockBudgetExceeded")]
    return ", ".join(f"{num(x * 100)} %" for x in t[:2]) + f" and {num(t[2] * 100)} %"


ELAPSED = (
    '(utc:bedrock_month_elapsed:ratio and on () '
    'billing_period:bedrock_exporter_current_billing_period:max{billing_period="$billing_period"}) '
    "or on () vector(1)"
)
WITH_SESSION = 'session!=""'
USAGE = 'line_item_type=~".*Usage"'
UNATTRIBUTED = USAGE + ', principal="unattributed"'
CACHE_READ = 'direction="cache_read"'
INPUT_SIDE = 'direction=~"input|cache_read|cache_write"'


def overview():
    g = Grid()
    P = []
    P.append(g.row("Month to date"))
    P.append(g.place(stat(
        "Spend, month to date",
        "Bedrock cost of the billing period so far: sum of line_item_unblended_cost." + FROM_BILL + FILTERS,
        [target(f"sum({cost()})", "spend")], "currencyUSD",
        links=[dlink("principals", "Who spent it", [])]), 5, 4))
    P.append(g.place(stat(
        "Forecast for the period's end (per budget)",
        "The exporter's forecast of each budget's spend at the end of the billing period: spend plus "
        "the mean daily spend of the last settled week for every remaining or unsettled day. A "
        "budget without selector forecasts the whole bill. Not filtered by the label variables.",
        [target('max by (budget) (budget_billing_period:bedrock_budget_forecast_usd:max{job=~"$job", billing_period="$billing_period"})', "{{budget}}")],
        "currencyUSD", links=[dlink("budgets", "Budgets", [])]), 6, 4))
    P.append(g.place(bargauge(
        "Budget used",
        "Spend / monthly limit of each configured budget in this billing period (bedrock_budget_spend_usd "
        f"over bedrock_budget_limit_usd). {budget_levels_text()} are where the shipped alerts fire.",
        [target('max by (budget) (budget_billing_period:bedrock_budget_used:ratio{job=~"$job", billing_period="$billing_period"})', "{{budget}}")],
        "percentunit", thr=budget_thresholds(), max_=1,
        links=[dlink("budgets", "Budget ${__field.labels.budget}", [("budget", "${__field.labels.budget}")])]), 6, 4))
    P.append(g.place(stat(
        "Data as of",
        "Newest line_item_usage_end_date in the billing period's export (all services): how current the "
        "bill is. CUR 2.0 lags usage by about a day and updates a few times a day.",
        [target('max(bedrock_exporter_data_newest_usage_timestamp_seconds{job=~"$job", billing_period="$billing_period"}) * 1000', "data as of")],
        "dateTimeAsIso", color_mode="none"), 4, 4))
    P.append(g.place(stat(
        "Bill age",
        "Time since the newest usage in the export (now − newest line_item_usage_end_date). "
        f"BedrockUsageAbsent (info) fires above {alert_param('BedrockUsageAbsent', 'threshold')} days; "
        "whether the export itself still arrives is BedrockCostExportStale's (Exporter health dashboard).",
        [target('time() - max(bedrock_exporter_data_newest_usage_timestamp_seconds{job=~"$job", billing_period="$billing_period"})', "age")],
        "s", thr=thresholds((36 * 3600, "orange"), (48 * 3600, "red")),
        links=[dlink("health", "Exporter health", [])]), 3, 4))

    P.append(g.place(stat(
        "Net spend, month to date",
        "Sum of line_item_net_unblended_cost (after discounts such as EDP and private pricing; the "
        "unblended cost where the export has no such column)." + FROM_BILL + FILTERS,
        [target(f'sum(max without (instance, pod) (bedrock_net_cost_usd{sel()}))', "net")], "currencyUSD"), 5, 4))
    P.append(g.place(stat(
        "Usage cost without a principal",
        "Share of usage cost (line_item_type ending in Usage) whose line_item_iam_principal is empty: "
        "calls through a gateway or shared role without per-user sessions, or an export without "
        "INCLUDE_IAM_PRINCIPAL_DATA. Budgets on principals or tags miss it. Tax, fees and credits never "
        "carry a principal and are left out." + FILTERS,
        [target(f"(sum({cost(UNATTRIBUTED)}) or vector(0)) / sum({cost(USAGE)})", "unattributed")],
        "percentunit", thr=thresholds((0.1, "orange"), (0.2, "red"))), 5, 4))
    P.append(g.place(stat(
        "Month elapsed",
        "Share of the billing period's calendar month elapsed (UTC); 100 % for a closed period. Compare "
        "with Budget used.",
        [target(ELAPSED, "elapsed")], "percentunit", color_mode="none"), 4, 4))
    P.append(g.place(stat(
        "Last successful refresh",
        "When the exporter last read the export successfully (bedrock_exporter_last_refresh_success_timestamp_seconds).",
        [target('max(bedrock_exporter_last_refresh_success_timestamp_seconds{job=~"$job"}) * 1000', "refreshed")],
        "dateTimeFromNow", color_mode="none", links=[dlink("health", "Exporter health", [])]), 5, 4))
    P.append(g.place(stat(
        "Series folded (cap)",
        "Bedrock series folded into principal=\"__other__\" by max_series; totals stay exact, per-principal "
        "panels miss them (bedrock_exporter_folded_series).",
        [target('max(bedrock_exporter_folded_series{job=~"$job"})', "folded")],
        "short", thr=thresholds((1, "orange")), links=[dlink("health", "Exporter health", [])]), 5, 4))

    P.append(g.row("Where it goes"))
    P.append(g.place(bargauge(
        "By model",
        "Cost per model (usage type or Marketplace product name; \"unknown\" for tax and the like)."
        + FROM_BILL + FILTERS + " Click a bar for the model's tokens and prices.",
        [target(f"sort_desc(sum by (model) ({cost()}))", "{{model}}")], "currencyUSD",
        links=[dlink("models", "Model ${__field.labels.model}", [("model", "${__field.labels.model}")])]), 8, 9))
    P.append(g.place(bargauge(
        "By region",
        "Cost per AWS region of the usage type's billing prefix; cross-region inference is billed to the "
        "source region." + FROM_BILL + FILTERS,
        [target(f"sort_desc(sum by (region) ({cost()}))", "{{region}}")], "currencyUSD"), 8, 9))
    P.append(g.place(piechart(
        "By direction",
        "Cost per token direction (input, output, cache_read, cache_write); \"other\" is non-token spend "
        "(provisioned throughput, guardrails, knowledge bases, tax)." + FROM_BILL + FILTERS,
        [target(f"sum by (direction) ({cost()})", "{{direction}}")], "currencyUSD"), 8, 9))
    P.append(g.place(bargauge(
        "By account",
        "Cost per usage account (line_item_usage_account_id)." + FROM_BILL + FILTERS,
        [target(f"sort_desc(sum by (account_id) ({cost()}))", "{{account_id}}")], "currencyUSD"), 8, 8))
    P.append(g.place(bargauge(
        "By line item type",
        "Cost per line_item_line_item_type: Usage, Credit (negative), Refund, Tax, Fee…" + FROM_BILL + FILTERS,
        [target(f"sort_desc(sum by (line_item_type) ({cost()}))", "{{line_item_type}}")], "currencyUSD"), 8, 8))
    P.append(g.place(table(
        "Top 10 principals",
        "The ten IAM principals (line_item_iam_principal) with the highest cost; \"unattributed\" is spend "
        "without a principal." + FROM_BILL + FILTERS + " Click a principal for its sessions, models and spikes.",
        [target(f"topk(10, sum by (principal, principal_type) ({cost()}))", "", fmt="table")], "currencyUSD",
        overrides=[override("principal", links=[dlink("principals", "Principal ${__value.raw}", [("principal", "${__value.raw:percentencode}")])])],
        transformations=[hide_fields("Time", rename={"Value": "Cost"}, order=["principal", "principal_type", "Value"])],
        sort_by="Cost"), 8, 8))
    P.append(g.place(timeseries(
        "Month to date over time",
        "Bedrock cost of the billing period so far, as each scrape saw it: steps up when AWS delivers a "
        "new version of the bill (a few times a day), may step down on a restatement." + FILTERS,
        [target(f"sum({cost()})", "spend", instant=False),
         target(f"sum({cost(USAGE)})", "usage line items", instant=False, ref="B")], "currencyUSD"), 16, 8))
    P.append(g.place(text(
        "How to read these numbers",
        "What the figures are and where they come from in the bill.",
        "**Source:** the newest CUR 2.0 export of AWS Data Exports, reread every `refresh_interval`. "
        "Every figure is **billing period to date** and equals the sum of the named CUR column over "
        "the Bedrock line items (product codes AmazonBedrock*, Marketplace models \"(Amazon Bedrock "
        "Edition)\").\n\n**Lag:** CUR lags usage by about a day — see *Data as of*.\n\n"
        "**Restatements:** AWS restates a period for weeks; figures can go down.\n\n"
        "**Principal:** `line_item_iam_principal` (from April 2026); *unattributed* = empty.\n\n"
        "**Replicas:** every query takes `max without (instance, pod)` first."), 8, 8))
    return dashboard(
        "overview", "Bedrock cost — Overview",
        "Amazon Bedrock spend from the CUR 2.0 bill: month to date, forecast and budgets, by model, "
        "region, direction and account, top principals, freshness.",
        P, cost_vars(), time_from="now-7d")


def untagged(label, expr):
    """Names the group of line items without the tag "(untagged)" instead of an empty legend."""
    return f'label_replace({expr}, "{label}", "(untagged)", "{label}", "")'


def principals():
    g = Grid()
    P = []
    P.append(g.row("Tags and principal types"))
    for _, title, lab, desc in tag_vars():
        P.append(g.place(bargauge(
            f"By {title[0].lower() + title[1:]}",
            f"Cost per value of the {desc}; \"(untagged)\" is spend without the tag."
            + FROM_BILL + FILTERS,
            [target("sort_desc(" + untagged(lab, f"sum by ({lab}) ({cost()})") + ")", "{{" + lab + "}}")], "currencyUSD"), 6, 8))
    P.append(g.place(piechart(
        "By principal type",
        "Cost per kind of caller: user, bedrock_api_key, assumed_role (sessions), role, federated_user, "
        "root, unattributed (no principal in the bill)." + FROM_BILL + FILTERS,
        [target(f"sum by (principal_type) ({cost()})", "{{principal_type}}")], "currencyUSD"), 6, 8))

    P.append(g.row("Principals and sessions"))
    P.append(g.place(table(
        "Top spenders",
        "The 25 principals with the highest cost, with their type and user/role name." + FROM_BILL + FILTERS
        + " Click a principal to filter this dashboard to it.",
        [target(f"topk(25, sum by (principal, principal_type, principal_name) ({cost()}))", "", fmt="table")],
        "currencyUSD",
        overrides=[override("principal", links=[dlink("principals", "Only ${__value.raw}", [("principal", "${__value.raw:percentencode}")])])],
        transformations=[hide_fields("Time", rename={"Value": "Cost"}, order=["principal", "principal_type", "principal_name", "Value"])],
        sort_by="Cost"), 14, 10))
    P.append(g.place(table(
        "By session",
        "Cost per assumed-role session (role session name: an e-mail for IdP federation, a user or "
        "tenant behind a gateway); top 25." + FROM_BILL + FILTERS,
        [target(f'topk(25, sum by (principal_name, session) ({cost(WITH_SESSION)}))', "", fmt="table")],
        "currencyUSD",
        transformations=[hide_fields("Time", rename={"Value": "Cost", "principal_name": "role"}, order=["principal_name", "session", "Value"])],
        sort_by="Cost"), 10, 10))
    first = tag_vars()[0] if tag_vars() else ("principal_type", "Principal type", "principal_type", "")
    P.append(g.place(timeseries(
        f"Month to date by {first[1][0].lower() + first[1][1:]}",
        f"Cost of the billing period so far per {first[2]}, as each scrape saw it." + FILTERS,
        [target(untagged(first[2], f"sum by ({first[2]}) ({cost()})"), "{{" + first[2] + "}}", instant=False)], "currencyUSD"), 12, 8))
    P.append(g.place(bargauge(
        "Models used by the selected principals",
        "Cost per model of the principals selected above (all of them with All)." + FROM_BILL + FILTERS,
        [target(f"sort_desc(sum by (model) ({cost()}))", "{{model}}")], "currencyUSD",
        links=[dlink("models", "Model ${__field.labels.model}", [("model", "${__field.labels.model}")])]), 12, 8))

    P.append(g.row("Spikes"))
    factor = num(alert_param("BedrockPrincipalSpendSpike", "factor"))
    minimum = num(alert_param("BedrockPrincipalSpendSpike", "threshold"))
    day = 'max by (principal, usage_date, budget, owner) (bedrock_principal_day_cost_usd{job=~"$job", principal=~"$principal"})'
    base = 'max by (principal, usage_date, budget, owner) (bedrock_principal_baseline_day_cost_usd{job=~"$job", principal=~"$principal"})'
    # BedrockPrincipalSpendSpike's condition: the table lists the principals it fires (or will) for.
    over = f"({day} > {factor} * {base} and {day} > {minimum})"
    spikes = table(
        "Principal spend spikes",
        "Principals whose cost on the last settled usage day (usage_date; bedrock_principal_day_cost_usd) "
        f"is over {factor}× their mean daily cost over the baseline days before "
        f"(bedrock_principal_baseline_day_cost_usd) and over {minimum}: the ones "
        "BedrockPrincipalSpendSpike fires for, with the budget (and owner) the exporter attributes them "
        "to — the first budget whose selector their spend matches. Only the day's top spenders "
        "(spikes.top_principals) have these series.",
        [target(over, "", fmt="table"),
         target(f"{base} and on (principal, usage_date) {over}", "", fmt="table", ref="B"),
         target(f"{over} / on (principal, usage_date, budget, owner) ({base} > 0)", "", fmt="table", ref="C")],
        "currencyUSD",
        overrides=[override("Day / baseline", unit="none", decimals=2,
                            custom_cellOptions={"type": "color-background", "mode": "basic"},
                            thresholds=thresholds((float(factor), "orange"), (float(factor) * 1.5, "red")))],
        transformations=[{"id": "merge", "options": {}},
                         hide_fields("Time", rename={"Value #A": "Day cost", "Value #B": "Baseline (mean/day)", "Value #C": "Day / baseline"},
                                     order=["principal", "usage_date", "budget", "owner", "Value #A", "Value #B", "Value #C"])],
        sort_by="Day cost")
    spikes["fieldConfig"]["defaults"]["noValue"] = "No principal over the spike threshold"
    P.append(g.place(spikes, 24, 9))
    return dashboard(
        "principals", "Bedrock cost — Principals and teams",
        "Who spends on Amazon Bedrock: by tag (team, cost centre, project), principal type, principal "
        "and session; top spenders; spend spikes of the last settled day.",
        P, cost_vars())


def models():
    g = Grid()
    P = []
    token_lines = 'direction=~"input|output|cache_read|cache_write"'
    P.append(g.row("Tokens"))
    P.append(g.place(bargauge(
        "Tokens by direction",
        "line_item_usage_amount of token line items normalised to tokens (1K/1M tokens pricing units), "
        "per direction." + FILTERS,
        [target(f"sort_desc(sum by (direction) ({tokens()}))", "{{direction}}")], "count:tokens"), 8, 8))
    P.append(g.place(stat(
        "Prompt-cache read share",
        "Cache-read tokens / all input-side tokens (input + cache_read + cache_write): how much of the "
        "prompt was served from the prompt cache." + FILTERS,
        [target(f'sum({tokens(CACHE_READ)}) / sum({tokens(INPUT_SIDE)})', "cache read share")],
        "percentunit", color_mode="none"), 4, 8))
    P.append(g.place(bargauge(
        "Prompt-cache read share by model",
        "Per model: cache-read tokens / input-side tokens (input + cache_read + cache_write). Models "
        "without cache reads are not listed." + FILTERS,
        [target(f'sort_desc(sum by (model) ({tokens(CACHE_READ)}) / sum by (model) ({tokens(INPUT_SIDE)}))', "{{model}}")],
        "percentunit", max_=1), 12, 8))
    P.append(g.place(table(
        "Tokens by model and direction",
        "Tokens per model and direction (bedrock_usage_tokens)." + FILTERS,
        [target(f"sum by (model, direction) ({tokens()})", "", fmt="table")], "count:tokens",
        transformations=[{"id": "groupingToMatrix", "options": {"columnField": "direction", "rowField": "model", "valueField": "Value"}}],
        sort_by="output"), 12, 9))
    P.append(g.place(table(
        "Effective cost per million tokens",
        "Unblended cost of usage line items / tokens × 1,000,000, per model and direction: the price "
        "actually billed (after negotiated rates, before credits)." + FILTERS,
        [target(f'sum by (model, direction) ({cost(USAGE + ", " + token_lines)}) / (sum by (model, direction) ({tokens(USAGE)}) > 0) * 1e6', "", fmt="table")],
        "currencyUSD",
        transformations=[{"id": "groupingToMatrix", "options": {"columnField": "direction", "rowField": "model", "valueField": "Value"}}],
        sort_by="output"), 12, 9))

    P.append(g.row("Tiers and scope"))
    P.append(g.place(piechart(
        "Tier mix",
        "Cost per service tier: on_demand, batch, flex, priority, latency_optimized, provisioned "
        "(model units), reserved, custom_model." + FROM_BILL + FILTERS,
        [target(f"sum by (tier) ({cost()})", "{{tier}}")], "currencyUSD"), 8, 8))
    P.append(g.place(piechart(
        "Cross-region scope mix",
        "Cost per inference scope: in_region, geo (cross-region within a geography), global "
        "(cross-region global)." + FROM_BILL + FILTERS,
        [target(f"sum by (scope) ({cost()})", "{{scope}}")], "currencyUSD"), 8, 8))
    P.append(g.place(table(
        "Non-token usage",
        "line_item_usage_amount of line items not priced per token, per model and pricing_unit "
        "(provisioned throughput hours, guardrail and knowledge-base units, images…)." + FILTERS,
        [target(f"sum by (model, pricing_unit) (max without (instance, pod) (bedrock_usage_amount{sel()}))", "", fmt="table")],
        "short",
        transformations=[hide_fields("Time", rename={"Value": "Amount"}, order=["model", "pricing_unit", "Value"])],
        sort_by="Amount"), 8, 8))
    P.append(g.place(timeseries(
        "Tokens month to date by model",
        "Tokens of the billing period so far per model, as each scrape saw it." + FILTERS,
        [target(f"sum by (model) ({tokens()})", "{{model}}", instant=False)], "count:tokens"), 12, 8))
    P.append(g.place(timeseries(
        "Cost month to date by model",
        "Cost of the billing period so far per model, as each scrape saw it." + FILTERS,
        [target(f"sum by (model) ({cost()})", "{{model}}", instant=False)], "currencyUSD"), 12, 8))
    return dashboard(
        "models", "Bedrock cost — Models and tokens",
        "Amazon Bedrock models from the bill: tokens by direction, effective price per million tokens, "
        "prompt-cache read share, tier and cross-region scope mix.",
        P, cost_vars())


def budgets():
    g = Grid()
    P = []
    B = 'job=~"$job", budget=~"$budget"'
    BP = B + ', billing_period="$billing_period"'
    variables = [
        v_datasource(), v_job(), v_period("bedrock_budget_spend_usd"),
        v_query("budget", "Budget", 'label_values(bedrock_budget_limit_usd{job=~"$job"}, budget)',
                "Budgets configured in the exporter ([[budgets]]: name, owner, selector, monthly)."),
    ]
    P.append(g.row("Budgets"))
    P.append(g.place(table(
        "Every budget",
        "Per budget: monthly limit (bedrock_budget_limit_usd), spend of the billing period to date "
        "(cost of the line items its selector matches, computed before the series cap), the "
        "exporter's forecast for the period's end, and both as a share of the limit.",
        [target(f"max by (budget, owner) (budget:bedrock_budget_limit_usd:max{{{B}}})", "", fmt="table"),
         target(f"max by (budget, owner) (budget_billing_period:bedrock_budget_spend_usd:max{{{BP}}})", "", fmt="table", ref="B"),
         target(f"max by (budget, owner) (budget_billing_period:bedrock_budget_forecast_usd:max{{{BP}}})", "", fmt="table", ref="C"),
         target(f"max by (budget, owner) (budget_billing_period:bedrock_budget_used:ratio{{{BP}}})", "", fmt="table", ref="D"),
         target(f"max by (budget, owner) (budget_billing_period:bedrock_budget_forecast_used:ratio{{{BP}}})", "", fmt="table", ref="E")],
        "currencyUSD",
        overrides=[override(n, unit="percentunit", custom_cellOptions={"type": "color-background", "mode": "basic"},
                            thresholds=thresholds((0.5, "yellow"), (0.8, "orange"), (1, "red")))
                   for n in ("Used", "Forecast / limit")],
        transformations=[{"id": "merge", "options": {}},
                         hide_fields("Time", rename={"Value #A": "Limit", "Value #B": "Spend", "Value #C": "Forecast",
                                                     "Value #D": "Used", "Value #E": "Forecast / limit"},
                                     order=["budget", "owner", "Value #A", "Value #B", "Value #C", "Value #D", "Value #E"])],
        sort_by="Used"), 24, 7))
    P.append(g.place(bargauge(
        "Burn: budget used against month elapsed",
        "Share of each budget used (spend / limit) next to the share of the month elapsed (UTC; 100 % "
        "for a closed period). A budget ahead of the month is burning too fast.",
        [target(f"max by (budget) (budget_billing_period:bedrock_budget_used:ratio{{{BP}}})", "{{budget}} used"),
         target(ELAPSED, "month elapsed", ref="B")],
        "percentunit", thr=thresholds((0.8, "orange"), (1, "red")), max_=1), 12, 8))
    P.append(g.place(bargauge(
        "Burn rate",
        "Budget used / month elapsed: 1 = on track to end the month exactly at the limit, 2 = spending "
        "twice as fast. Absent on the 1st at 00:00 UTC (nothing elapsed).",
        [target(f"max by (budget) (budget_billing_period:bedrock_budget_used:ratio{{{BP}}}) / on () group_left () (({ELAPSED}) > 0)", "{{budget}}")],
        "none", thr=thresholds((1, "orange"), (1.25, "red")), max_=2), 6, 8))
    P.append(g.place(stat(
        "Budget alerts firing",
        "Budget alerts of the shipped rules (BedrockBudget*) firing now; 0 when none (ALERTS series "
        "exist only while an alert is pending or firing).",
        [target(f'count(ALERTS{{alertname=~"BedrockBudget.*", alertstate="firing", budget=~"$budget"}}) or vector(0)', "firing")],
        "none", thr=thresholds((1, "red"))), 6, 8))
    P.append(g.place(timeseries(
        "Spend and limit over time",
        "Each budget's spend of the billing period so far as each scrape saw it, with its limit.",
        [target(f"max by (budget) (budget_billing_period:bedrock_budget_spend_usd:max{{{BP}}})", "{{budget}} spend", instant=False),
         target(f"max by (budget) (budget:bedrock_budget_limit_usd:max{{{B}}})", "{{budget}} limit", instant=False, ref="B"),
         target(f"max by (budget) (budget_billing_period:bedrock_budget_forecast_usd:max{{{BP}}})", "{{budget}} forecast", instant=False, ref="C")],
        "currencyUSD"), 12, 9))
    P.append(g.place(table(
        "Day spend against baseline",
        "Each budget's spend on the last settled usage day (bedrock_budget_day_spend_usd) and its mean "
        "daily spend over the baseline days before (bedrock_budget_baseline_day_spend_usd), from "
        "line_item_usage_start_date. BedrockBudgetSpendSpike fires above 2× and 50.",
        [target(f"max by (budget, usage_date) (bedrock_budget_day_spend_usd{{{B}}})", "", fmt="table"),
         target(f"max by (budget, usage_date) (bedrock_budget_baseline_day_spend_usd{{{B}}})", "", fmt="table", ref="B")],
        "currencyUSD",
        transformations=[{"id": "merge", "options": {}},
                         hide_fields("Time", rename={"Value #A": "Day spend", "Value #B": "Baseline (mean/day)"},
                                     order=["budget", "usage_date", "Value #A", "Value #B"])],
        sort_by="Day spend"), 12, 9))
    alerts = table(
        "Budget and spike alerts",
        "Alerts of the shipped rules about budgets and spikes that are pending (condition true, "
        "waiting for its for: duration) or firing, from Prometheus' ALERTS series.",
        [target('max by (alertname, alertstate, severity, budget, owner, billing_period, principal) '
                '(ALERTS{alertname=~"Bedrock(Budget|PrincipalSpend).*", budget=~"$budget"})', "", fmt="table")],
        "none",
        transformations=[hide_fields("Time", "Value", order=["alertname", "alertstate", "severity", "budget", "owner", "billing_period", "principal"])],
        sort_by="alertname")
    alerts["fieldConfig"]["defaults"]["noValue"] = "No budget or spike alert pending or firing"
    P.append(g.place(alerts, 24, 7))
    return dashboard(
        "budgets", "Bedrock cost — Budgets",
        "Every configured budget: spend, forecast, limit, burn against the month elapsed, day spend "
        "against baseline, and the alerts of the shipped rules.",
        P, variables)


def health():
    g = Grid()
    P = []
    S = 'job=~"$job", instance=~"$instance"'
    variables = [
        v_datasource(), v_job(),
        v_query("instance", "Instance", 'label_values(bedrock_exporter_build_info{job=~"$job"}, instance)',
                "Exporter instances (replicas) of the selected job(s)."),
    ]
    P.append(g.row("Refreshes"))
    up = stat("Up", "Prometheus' up series of each exporter target: 1 when the last scrape succeeded.",
              [target(f"up{{{S}}}", "{{instance}}")], "none", thr={"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]},
              color_mode="background")
    up["fieldConfig"]["defaults"]["mappings"] = [{"type": "value", "options": {"0": {"text": "DOWN", "index": 0}, "1": {"text": "UP", "index": 1}}}]
    P.append(g.place(up, 4, 5))
    ok = stat("Last refresh", "bedrock_exporter_last_refresh_success: OK if the last read of the export succeeded; FAILED "
              "means the last good data is being served (see Errors by stage and the log).",
              [target(f"bedrock_exporter_last_refresh_success{{{S}}}", "{{instance}}")], "none",
              thr={"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]}, color_mode="background")
    ok["fieldConfig"]["defaults"]["mappings"] = [{"type": "value", "options": {"0": {"text": "FAILED", "index": 0}, "1": {"text": "OK", "index": 1}}}]
    P.append(g.place(ok, 4, 5))
    P.append(g.place(stat(
        "Since last successful refresh",
        "Now − bedrock_exporter_last_refresh_success_timestamp_seconds. Expect at most refresh_interval (default 1 h).",
        [target(f"time() - bedrock_exporter_last_refresh_success_timestamp_seconds{{{S}}}", "{{instance}}")], "s",
        thr=thresholds((3 * 3600, "orange"), (6 * 3600, "red"))), 4, 5))
    P.append(g.place(stat(
        "Refreshes in range",
        "Refresh attempts in the dashboard's time range by outcome (increase of bedrock_exporter_refreshes_total).",
        [target(f"sum by (outcome) (increase(bedrock_exporter_refreshes_total{{{S}}}[$__range]))", "{{outcome}}")], "short"), 6, 5))
    P.append(g.place(stat(
        "Version",
        "bedrock_exporter_build_info: the versions running (one name per version).",
        [target(f"count by (version) (bedrock_exporter_build_info{{{S}}})", "{{version}}")], "short", color_mode="none",
        text_mode="name"), 6, 5))
    P.append(g.place(timeseries(
        "Refresh duration",
        "Duration of the last refresh attempt (bedrock_exporter_last_refresh_duration_seconds): listing, "
        "manifests and decoding of the changed periods.",
        [target(f"bedrock_exporter_last_refresh_duration_seconds{{{S}}}", "{{instance}}", instant=False)], "s"), 12, 8))
    w = counter_window()
    P.append(g.place(timeseries(
        "Errors by stage",
        f"Errors per stage over the {w} before each point (increase of bedrock_exporter_errors_total; "
        f"{w} = 4 × the exporter's {PARAMS['scrapeInterval']} scrape interval, so every window holds "
        "two scrapes or more): list, manifest, read, decode, duplicate, internal. Each is logged with "
        "the object key.",
        [target(f"sum by (stage) (increase(bedrock_exporter_errors_total{{{S}}}[{w}]))", "{{stage}}", instant=False)],
        "short", stack=True), 12, 8))
    P.append(g.row("Reading the export"))
    for metric, title, unit in [
        ("rows_read_total", "Rows read", "short"),
        ("bytes_read_total", "Bytes of data files read", "bytes"),
        ("files_read_total", "Data files read", "short"),
        ("s3_bytes_fetched_total", "Bytes fetched from S3", "bytes"),
    ]:
        P.append(g.place(stat(
            title,
            f"In the dashboard's time range (increase of bedrock_exporter_{metric}); an unchanged "
            "manifest costs no data reads. S3 figures are 0 for a local source.",
            [target(f"sum(increase(bedrock_exporter_{metric}{{{S}}}[$__range])) or vector(0)", title)], unit), 6, 4))
    P.append(g.place(table(
        "S3 requests",
        "S3 HTTP attempts (retries included) in the time range by operation and status code "
        "(bedrock_exporter_s3_requests_total); 0 for a local source.",
        [target(f"sum by (operation, code) (increase(bedrock_exporter_s3_requests_total{{{S}}}[$__range])) or vector(0)", "", fmt="table")],
        "short",
        transformations=[hide_fields("Time", rename={"Value": "Requests"}, order=["operation", "code", "Value"])],
        sort_by="Requests"), 8, 8))
    P.append(g.place(table(
        "Billing periods served",
        "Per billing period: rows in the manifest-listed files, Bedrock line items, those without a "
        "principal, those whose tag keys collide on one label (bedrock_exporter_period_tag_label_collisions: "
        "map one key elsewhere with tags.rename; doctor names them), and the manifest execution served.",
        [target(f"max by (billing_period) (bedrock_exporter_period_rows{{{S}}})", "", fmt="table"),
         target(f"max by (billing_period) (bedrock_exporter_period_bedrock_rows{{{S}}})", "", fmt="table", ref="B"),
         target(f"max by (billing_period) (bedrock_exporter_period_unattributed_rows{{{S}}})", "", fmt="table", ref="C"),
         target(f"max by (billing_period, execution_id) (bedrock_exporter_manifest_info{{{S}}})", "", fmt="table", ref="D"),
         target(f"max by (billing_period) (bedrock_exporter_period_tag_label_collisions{{{S}}})", "", fmt="table", ref="E")],
        "short",
        transformations=[{"id": "merge", "options": {}},
                         hide_fields("Time", "Value #D", rename={"Value #A": "Rows", "Value #B": "Bedrock rows", "Value #C": "Without principal",
                                                                 "Value #E": "Tag key collisions"},
                                     order=["billing_period", "Value #A", "Value #B", "Value #C", "Value #E", "execution_id"])],
        sort_by="billing_period"), 16, 8))
    stale_h = alert_param("BedrockCostExportStale", "threshold")
    P.append(g.place(stat(
        "Since each export was written",
        "Now − when AWS last wrote the newest manifest of each export "
        "(bedrock_exporter_manifest_last_modified_timestamp_seconds): CUR 2.0 rewrites an export "
        f"several times a day. BedrockCostExportStale fires above {num(stale_h)} h — the export stopped "
        "arriving, whatever the usage in it.",
        [target(f"time() - max by (export) (bedrock_exporter_manifest_last_modified_timestamp_seconds{{{S}}})", "{{export}}")],
        "s", thr=thresholds((stale_h * 3600 * 2 / 3, "orange"), (stale_h * 3600, "red"))), 8, 8))
    P.append(g.row("Cardinality"))
    P.append(g.place(bargauge(
        "Series against the cap",
        "Bedrock series in the snapshot / max_series (bedrock_exporter_series / bedrock_exporter_series_limit). "
        "At 100 % the smallest series fold into principal=\"__other__\".",
        [target(f"bedrock_exporter_series{{{S}}} / bedrock_exporter_series_limit{{{S}}}", "{{instance}}")],
        "percentunit", thr=thresholds((0.8, "orange"), (1, "red")), max_=1), 8, 6))
    P.append(g.place(timeseries(
        "Series and cap",
        "bedrock_exporter_series and bedrock_exporter_series_limit over time.",
        [target(f"max(bedrock_exporter_series{{{S}}})", "series", instant=False),
         target(f"max(bedrock_exporter_series_limit{{{S}}})", "cap (max_series)", instant=False, ref="B")], "short"), 8, 6))
    P.append(g.place(stat(
        "Folded",
        "Series folded into overflow buckets (bedrock_exporter_folded_series) and the cost moved into "
        "them (bedrock_exporter_folded_cost_usd, still inside every total; absent, shown as 0, until "
        "something is folded).",
        [target(f"max(bedrock_exporter_folded_series{{{S}}})", "series folded"),
         target(f"max(bedrock_exporter_folded_cost_usd{{{S}}}) or vector(0)", "cost folded", ref="B")], "short",
        overrides=[override("cost folded", unit="currencyUSD")]), 8, 6))
    P.append(g.place(table(
        "Export columns",
        "Per billing period: 1 when the export has line_item_iam_principal (INCLUDE_IAM_PRINCIPAL_DATA) "
        "and line_item_net_unblended_cost; 0 means principals or net cost are missing.",
        [target(f"max by (billing_period) (bedrock_exporter_principal_column_present{{{S}}})", "", fmt="table"),
         target(f"max by (billing_period) (bedrock_exporter_net_cost_column_present{{{S}}})", "", fmt="table", ref="B")],
        "none",
        transformations=[{"id": "merge", "options": {}},
                         hide_fields("Time", rename={"Value #A": "Principal column", "Value #B": "Net cost column"},
                                     order=["billing_period", "Value #A", "Value #B"])],
        sort_by="billing_period"), 24, 5))
    return dashboard(
        "health", "Bedrock cost — Exporter health",
        "bedrock-cost-exporter itself: refreshes, errors by stage, what it reads (rows, bytes, files, S3 "
        "requests), series against the cap and folded cost.",
        P, variables, time_from="now-24h")


BOARDS = {
    "bedrock-overview.json": overview,
    "bedrock-principals.json": principals,
    "bedrock-models.json": models,
    "bedrock-budgets.json": budgets,
    "bedrock-exporter-health.json": health,
}


# Grafana's currency units (grafana-data valueFormats/categories.ts); other codes get a suffix unit.
CURRENCY_UNITS = {
    "USD", "GBP", "EUR", "JPY", "RUB", "UAH", "BRL", "DKK", "ISK", "NOK", "SEK", "CZK", "CHF", "PLN",
    "ZAR", "INR", "KRW", "IDR", "PHP", "VND", "TRY", "MYR", "XPF", "BGN", "PYG", "UYU", "ILS",
}


def currency_unit(code):
    code = code.upper()
    return f"currency{code}" if code in CURRENCY_UNITS else f"suffix: {code}"


def boards(params, job_selector=None, ccy_suffix=None, unit=None):
    """{file name: JSON text} of every dashboard with these parameters. The panels are written in
    USD (bedrock_cost_usd, currencyUSD) and renamed to the parameter's currency here; the job
    selector, metric suffix and unit can be replaced by placeholders (the Helm chart's copies)."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "deploy/mixin"))
    from params import ccy_suffix as suffix_of

    configure(dict(params, jobSelector=job_selector or params["jobSelector"]))
    suffix = ccy_suffix or suffix_of(params["currency"])
    unit = unit or currency_unit(params["currency"])
    out = {}
    for name, fn in BOARDS.items():
        text = json.dumps(fn(), indent=2, ensure_ascii=False) + "\n"
        out[name] = text.replace("_usd", "_" + suffix).replace("currencyUSD", unit)
    return out


if __name__ == "__main__":
    # One command writes every generated file: deploy/mixin/generate.py.
    import runpy

    sys.argv[0] = str(pathlib.Path(__file__).resolve().parents[1] / "deploy/mixin/generate.py")
    runpy.run_path(sys.argv[0], run_name="__main__")
