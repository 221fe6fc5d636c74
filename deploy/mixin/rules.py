"""bedrock-cost-exporter's Prometheus rules, written once with parameter placeholders (params.p) and
emitted two ways: as a plain rules file with the parameters filled in, and as the Helm chart's
PrometheusRule template whose every parameter is a value (prometheusRule.config.<key>, defaulting
to config.toml's).

Conventions of the rules:
- `max without (instance, pod)` before anything is summed or divided: two replicas scraped by one
  Prometheus never double a number, and one replica is enough for every alert.
- Values are billing period to date and can go down (CUR restates): no rate()/increase().
- The calendar is the exporter's (bedrock_exporter_now_timestamp_seconds, honouring its `now`
  setting), not Prometheus' clock; bedrock_exporter_current_billing_period and
  bedrock_exporter_previous_billing_period_age_seconds name the periods, which PromQL cannot compute.
- Budget alerts fire once per budget, threshold and billing period: they watch the current period,
  and the previous one for closedPeriodDays more (restated spend arrives late); keep_firing_for
  rides over missed scrapes and restarts, and Alertmanager's repeat_interval and --data.retention
  are longer than a period (deploy/alertmanager/alertmanager.example.yml).
"""

import re
import textwrap

from params import LEVELS, TOKEN, number, p, resolve

J = p("jobSelector")
USAGE = 'line_item_type=~".*Usage"'
UNATTRIBUTED = USAGE + ', principal="unattributed"'
C = p("ccy")


def sel(metric, extra=""):
    return f"{metric}{{{J}{', ' + extra if extra else ''}}}"


def dd(expr):
    """Replicas deduplicated."""
    return f"max without (instance, pod) ({expr})"


def money(prefix):
    return f"{prefix}_{C}"


NOW = f"max(bedrock_exporter_now_timestamp_seconds{{{J}}})"
CURRENT = f"max by (billing_period) (bedrock_exporter_current_billing_period{{{J}}})"
# The periods budget alerts watch: the current one, and the previous one during the first
# closedPeriodDays of the month. The previous period's series carries its own age: two replicas a
# refresh apart, or a series left over from before a Prometheus restart, never make the period
# before last watched.
WATCHED = (
    f"(\n  {CURRENT}\n  or max by (billing_period) (\n"
    f"    bedrock_exporter_previous_billing_period_age_seconds{{{J}}} < {p('closedPeriodDays')} * 86400\n  )\n)"
)


def ratio(num, den):
    return (
        f"{dd(sel(money(num)))}\n  / on (budget, owner) group_left\n"
        f"max by (budget, owner) ({sel(money(den))})"
    )


def q(metric, matchers):
    """A Go-template query string (a raw string: the job selector holds double quotes)."""
    return f"`max({metric}{{{J},{matchers}}})`"


def fig(query, *args):
    """A figure from a query, two decimals."""
    return f"{{{{ with printf {query} {' '.join(args)} | query }}}}{{{{ . | first | value | printf \"%.2f\" }}}}{{{{ end }}}}"


def rec(record, expr):
    return {"record": record, "expr": expr}


def alert(name, expr, summary, description, keep=False):
    r = {
        "alert": name,
        "expr": expr,
        "for": p(f"alerts.{name}.for"),
    }
    if keep:
        r["keep_firing_for"] = p("keepFiringFor")
    r["labels"] = {"severity": p(f"severity:{name}")}
    r["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook_url": p(f"runbook:{name}"),
    }
    return r


def recording():
    cost = money("bedrock_cost")
    by = [
        ("billing_period", "billing_period"),
        ("billing_period_model", "billing_period, model"),
        ("billing_period_principal", "billing_period, principal, principal_type, principal_name"),
        ("billing_period_account", "billing_period, account_id"),
        ("billing_period_region", "billing_period, region"),
        ("billing_period_line_item_type", "billing_period, line_item_type"),
    ]
    rules = [rec(f"{lvl}:bedrock_cost_{C}:sum", f"sum by ({labels}) ({dd(sel(cost))})") for lvl, labels in by]
    rules += [
        rec(f"billing_period:bedrock_net_cost_{C}:sum",
            f"sum by (billing_period) ({dd(sel(money('bedrock_net_cost')))})"),
        rec("billing_period_model_direction:bedrock_usage_tokens:sum",
            f"sum by (billing_period, model, direction) ({dd(sel('bedrock_usage_tokens'))})"),
        rec(f"billing_period:bedrock_usage_cost_{C}:sum",
            f"sum by (billing_period) ({dd(sel(cost, USAGE))})"),
        rec(f"billing_period:bedrock_unattributed_usage_cost_{C}:sum",
            f"sum by (billing_period) ({dd(sel(cost, UNATTRIBUTED))})"),
        rec("billing_period:bedrock_unattributed_usage_cost:ratio",
            f"billing_period:bedrock_unattributed_usage_cost_{C}:sum\n  / (billing_period:bedrock_usage_cost_{C}:sum > 0)"),
        rec("billing_period:bedrock_exporter_current_billing_period:max", CURRENT),
        # Fraction of the exporter's current UTC month elapsed: 0 at the start of the 1st.
        rec("utc:bedrock_month_elapsed:ratio",
            f"(\n  (day_of_month({NOW}) - 1) * 86400 + hour({NOW}) * 3600 + minute({NOW}) * 60\n)\n"
            f"  / (days_in_month({NOW}) * 86400)"),
        rec(f"budget:bedrock_budget_limit_{C}:max", dd(sel(money("bedrock_budget_limit")))),
        rec(f"budget_billing_period:bedrock_budget_spend_{C}:max", dd(sel(money("bedrock_budget_spend")))),
        rec(f"budget_billing_period:bedrock_budget_forecast_{C}:max", dd(sel(money("bedrock_budget_forecast")))),
        rec("budget_billing_period:bedrock_budget_used:ratio", ratio("bedrock_budget_spend", "bedrock_budget_limit")),
        rec("budget_billing_period:bedrock_budget_forecast_used:ratio", ratio("bedrock_budget_forecast", "bedrock_budget_limit")),
        rec(f"budget:bedrock_budget_spend_{C}:current_period",
            f"{dd(sel(money('bedrock_budget_spend')))}\n  and on (billing_period) {CURRENT}"),
        rec("budget:bedrock_budget_used:current_period_ratio",
            f"{ratio('bedrock_budget_spend', 'bedrock_budget_limit')}\n  and on (billing_period) {CURRENT}"),
    ]
    return rules


def budget_alerts():
    spend_q = q(money("bedrock_budget_spend"), "budget=%q,billing_period=%q")
    limit_q = q(money("bedrock_budget_limit"), "budget=%q")
    forecast_q = q(money("bedrock_budget_forecast"), "budget=%q,billing_period=%q")
    closed_q = f"`bedrock_exporter_previous_billing_period_age_seconds{{{J},billing_period=%q}}`"
    bp = "$labels.budget $labels.billing_period"
    description = (
        "Budget {{ $labels.budget }} (owner {{ $labels.owner }}) has spent "
        + fig(spend_q, bp) + " of its " + fig(limit_q, "$labels.budget")
        + " in billing period {{ $labels.billing_period }} ({{ $value | humanizePercentage }})"
        + "{{ with printf " + forecast_q + " " + bp + " | query }}; forecast for the period's end: "
        + "{{ . | first | value | printf \"%.2f\" }}{{ end }}."
        + "{{ with printf " + closed_q + " $labels.billing_period | query }} The period has closed: "
        + "its spend was restated after the month ended.{{ end }}"
    )
    out = []
    for name in ("BedrockBudgetHalfUsed", "BedrockBudgetAlmostUsed", "BedrockBudgetExceeded"):
        out.append(alert(
            name,
            f"(\n{ratio('bedrock_budget_spend', 'bedrock_budget_limit')}\n) >= {p(f'alerts.{name}.threshold')}\n"
            f"and on (billing_period) {WATCHED}",
            "Bedrock budget {{ $labels.budget }} is {{ $value | humanizePercentage }} used in {{ $labels.billing_period }}",
            description, keep=True))
    out.append(alert(
        "BedrockBudgetForecastExceeded",
        f"(\n{ratio('bedrock_budget_forecast', 'bedrock_budget_limit')}\n) >= {p('alerts.BedrockBudgetForecastExceeded.threshold')}\n"
        f"and on (billing_period) {CURRENT}",
        "Bedrock budget {{ $labels.budget }} is forecast at {{ $value | humanizePercentage }} of its limit in {{ $labels.billing_period }}",
        "At the current daily rate, budget {{ $labels.budget }} (owner {{ $labels.owner }}) ends "
        "{{ $labels.billing_period }} at " + fig(forecast_q, bp) + " against a limit of "
        + fig(limit_q, "$labels.budget") + " (spent so far: " + fig(spend_q, bp) + ").",
        keep=True))
    day = money("bedrock_budget_day_spend")
    base = money("bedrock_budget_baseline_day_spend")
    s = "alerts.BedrockBudgetSpendSpike"
    out.append(alert(
        "BedrockBudgetSpendSpike",
        f"{dd(sel(day))}\n  > {p(s + '.factor')} * {dd(sel(base))}\nand {dd(sel(day))} > {p(s + '.threshold')}",
        "Bedrock budget {{ $labels.budget }} spent {{ $value | printf \"%.2f\" }} on {{ $labels.usage_date }}, "
        f"over {p(s + '.factor')} times its daily baseline",
        "Budget {{ $labels.budget }} (owner {{ $labels.owner }}) spent {{ $value | printf \"%.2f\" }} on "
        "{{ $labels.usage_date }}; its mean over the days before was "
        + fig(q(base, "budget=%q,usage_date=%q"), "$labels.budget $labels.usage_date") + ".",
        keep=True))
    day = money("bedrock_principal_day_cost")
    base = money("bedrock_principal_baseline_day_cost")
    s = "alerts.BedrockPrincipalSpendSpike"
    out.append(alert(
        "BedrockPrincipalSpendSpike",
        f"{dd(sel(day))}\n  > {p(s + '.factor')} * {dd(sel(base))}\nand {dd(sel(day))} > {p(s + '.threshold')}",
        "Bedrock principal {{ $labels.principal }} spent {{ $value | printf \"%.2f\" }} on {{ $labels.usage_date }}, "
        f"over {p(s + '.factor')} times its daily baseline",
        "{{ $labels.principal }} spent {{ $value | printf \"%.2f\" }} on {{ $labels.usage_date }}; its mean "
        "over the days before was "
        + fig(q(base, "principal=%q,usage_date=%q"), "$labels.principal $labels.usage_date")
        + ". {{ with $labels.budget }}It counts toward budget {{ . }} (owner {{ $labels.owner }}), the first "
        "budget whose selector its spend matches.{{ else }}No budget's selector matches its spend.{{ end }}",
        keep=True))
    cost = money("bedrock_cost")
    out.append(alert(
        "BedrockUnattributedCostShareHigh",
        f"sum by (billing_period) ({dd(sel(cost, UNATTRIBUTED))})\n"
        f"  / (sum by (billing_period) ({dd(sel(cost, USAGE))}) > 0)\n"
        f"  > {p('alerts.BedrockUnattributedCostShareHigh.threshold')}\n"
        f"and on (billing_period) {CURRENT}",
        "{{ $value | humanizePercentage }} of Bedrock usage cost in {{ $labels.billing_period }} has no IAM principal",
        "{{ $value | humanizePercentage }} of the Bedrock usage cost of {{ $labels.billing_period }} is "
        "principal=\"unattributed\": callers behind a gateway or shared role, or an export without "
        "INCLUDE_IAM_PRINCIPAL_DATA. Budgets on principals or tags miss this spend.",
        keep=True))
    return out


def health_alerts():
    out = []
    out.append(alert(
        "BedrockCostExportStale",
        f"(\n  {NOW}\n    - on () group_right\n"
        f"  max without (instance, pod, billing_period) (bedrock_exporter_manifest_last_modified_timestamp_seconds{{{J}}})\n"
        f") > {p('alerts.BedrockCostExportStale.threshold')} * 3600",
        "Export {{ $labels.export }} has not been delivered for {{ $value | humanizeDuration }}",
        "The newest manifest of export {{ $labels.export }} was written {{ $value | humanizeDuration }} before "
        f"the exporter's now (threshold {p('alerts.BedrockCostExportStale.threshold')} h). AWS rewrites a "
        "CUR 2.0 export several times a day: check the export's status in the Billing console, its S3 "
        "bucket policy, and that `source` points at it. Budgets and forecasts are as old as the export."))
    out.append(alert(
        "BedrockUsageAbsent",
        f"(\n  {NOW}\n    - on () group_right\n"
        f"  max without (instance, pod, billing_period) (bedrock_exporter_data_newest_usage_timestamp_seconds{{{J}}})\n"
        f") > {p('alerts.BedrockUsageAbsent.threshold')} * 86400",
        "No Bedrock usage in export {{ $labels.export }} for {{ $value | humanizeDuration }}",
        "The newest Bedrock usage billed in export {{ $labels.export }} ended {{ $value | humanizeDuration }} "
        f"before the exporter's now (threshold {p('alerts.BedrockUsageAbsent.threshold')} days), while the "
        "export itself keeps arriving (BedrockCostExportStale says otherwise). Nobody has used Bedrock, "
        "or the usage moved to an account or payer this export does not cover."))
    out.append(alert(
        "BedrockCostExporterRefreshFailing",
        f"bedrock_exporter_last_refresh_success{{{J}}} == 0",
        "bedrock-cost-exporter {{ $labels.instance }} cannot refresh export {{ $labels.export }}",
        "The last refresh of export {{ $labels.export }} by {{ $labels.instance }} failed and has kept "
        "failing; it serves the last good data. Its log names the object and the error; "
        "bedrock_exporter_errors_total says at which stage."))
    out.append(alert(
        "BedrockCostExporterDown",
        f"up{{{J}}} == 0",
        "bedrock-cost-exporter {{ $labels.instance }} is down",
        "Prometheus cannot scrape {{ $labels.instance }}; no budget alert can fire from it."))
    out.append(alert(
        "BedrockCostExporterAbsent",
        f"absent(up{{{J}}} == 1)",
        "No bedrock-cost-exporter is being scraped",
        f"No target selected by {{{J}}} is up; no budget alert can fire. Check that the exporter runs "
        "and that the rules' job selector (jobSelector) matches the job its series carry."))
    out.append(alert(
        "BedrockCostExporterConfigReloadFailed",
        f"bedrock_exporter_config_last_reload_successful{{{J}}} == 0",
        "bedrock-cost-exporter {{ $labels.instance }} could not reload its configuration",
        "The last configuration reload of {{ $labels.instance }} (SIGHUP or POST /-/reload) failed; the "
        "previous configuration stays in effect, so budgets and settings changed since are not applied. "
        "Its log says which key of which file; `bedrock-cost-exporter check-config` does too."))
    out.append(alert(
        "BedrockCostExporterOtlpPushFailing",
        f"bedrock_exporter_otlp_last_push_success{{{J}}} == 0",
        "bedrock-cost-exporter {{ $labels.instance }} cannot push over OTLP",
        "The last OTLP push of {{ $labels.instance }} failed and has kept failing; the OTLP receiver's "
        "copy of the Bedrock series is getting old. bedrock_exporter_otlp_requests_total says how "
        "(status or transport error); the log names the endpoint."))
    out.append(alert(
        "BedrockCostUnknownUsageTypes",
        f"sum without (usage_type) ({dd(sel('bedrock_exporter_unknown_usage_type_rows'))}) > 0",
        "{{ $value }} Bedrock line items of {{ $labels.billing_period }} have usage types no rule knows",
        "Export {{ $labels.export }} has {{ $value }} Bedrock line items in {{ $labels.billing_period }} "
        "whose usage type matched no classification rule (bedrock_exporter_unknown_usage_type_rows names "
        "them). Their cost is in every total under model=\"unknown\"; per-model figures miss them. A new "
        "model or usage-type form: report it, with the string."))
    out.append(alert(
        "BedrockCostSeriesNearLimit",
        f"{dd(f'bedrock_exporter_series{{{J}}} / bedrock_exporter_series_limit{{{J}}}')}\n"
        f"  >= {p('alerts.BedrockCostSeriesNearLimit.threshold')}",
        "Bedrock series are at {{ $value | humanizePercentage }} of max_series",
        "The exporter holds {{ $value | humanizePercentage }} of its series cap (max_series); further growth "
        "folds the smallest series into principal=\"__other__\", out of per-principal panels. Raise "
        "max_series, set fold_sessions, or narrow tags.allow."))
    out.append(alert(
        "BedrockCostSeriesFolded",
        f"{dd(f'bedrock_exporter_folded_series{{{J}}}')} > 0",
        "{{ $value }} Bedrock series are folded into principal=\"__other__\"",
        "The series cap (max_series) folded {{ $value }} series into overflow buckets; totals and "
        "budgets stay exact, per-principal panels do not show them."))
    return out


def groups():
    return [
        {"name": "bedrock-cost-exporter.recording", "rules": recording()},
        {"name": "bedrock-cost-exporter.alerts", "rules": budget_alerts() + health_alerts()},
    ]


def alert_names():
    return [r["alert"] for g in groups() for r in g["rules"] if "alert" in r]


# ---------------------------------------------------------------------------------------------
# Emitting YAML: plain (parameters filled in) or Helm (parameters as values).

HEADER = """\
# Prometheus rules of bedrock-cost-exporter: recording rules for the dashboards, and alerts that
# reach budget owners once per budget, threshold and billing period.
# GENERATED by deploy/mixin/generate.py from deploy/mixin/config.toml{extra}: do not edit; change the
# parameters and regenerate (python3 deploy/mixin/generate.py). Conventions and parameters:
# deploy/mixin/rules.py, deploy/mixin/config.toml; runbooks: the docs' Alerts and runbooks page.
"""

BRACES = re.compile(r"\{\{|\}\}")


class Plain:
    """Parameters filled in."""

    def __init__(self, params):
        self.params = params

    def text(self, s, quoted):
        s = TOKEN.sub(lambda m: resolve(m.group(1), self.params), s)
        return s.replace("'", "''") if quoted else s

    def enabled(self, name):
        return self.params["alerts"][name]["enabled"]


class Helm:
    """Parameters as values: `{{ dig … $c }}` with config.toml's default inline."""

    def __init__(self, params):
        self.params = params

    def ref(self, path):
        d = self.params
        if path == "ccy":
            return "$ccy"
        if path == "jobSelector":
            return "$job"
        if path.startswith("severity:"):
            name = path[9:]
            level = d["alerts"][name]["severity"]
            return f'index $sev (dig "alerts" "{name}" "severity" "{level}" $c)'
        if path.startswith("runbook:"):
            return f'printf "%s/alerts.html#%s" $runbook "{path[8:].lower()}"'
        keys = path.split(".")
        v = d
        for k in keys:
            v = v[k]
        default = f'"{v}"' if isinstance(v, str) else number(v)
        if isinstance(v, float) and "." not in default and "e" not in default:
            default += ".0"
        return "dig " + " ".join(f'"{k}"' for k in keys) + f" {default} $c"

    def text(self, s, quoted):
        out = []
        pos = 0
        for m in TOKEN.finditer(s):
            lit = self.literal(s[pos:m.start()], quoted)
            if lit.endswith("{"):
                # A literal `{` right before an action would read as `{{{`: escape it.
                lit = lit[:-1] + '{{ "{" }}'
            out.append(lit)
            ref = self.ref(m.group(1))
            out.append(f"{{{{ {ref} | toString | replace \"'\" \"''\" }}}}" if quoted else f"{{{{ {ref} }}}}")
            pos = m.end()
        out.append(self.literal(s[pos:], quoted))
        return "".join(out)

    @staticmethod
    def literal(s, quoted):
        s = BRACES.sub(lambda m: '{{ "' + m.group(0) + '" }}', s)
        return s.replace("'", "''") if quoted else s


def emit_groups(groups_, fl, indent, helm):
    """The `groups:` list as YAML lines, `indent` spaces in."""
    pad = " " * indent
    lines = []
    for g in groups_:
        lines.append(f"{pad}- name: {g['name']}")
        lines.append(f"{pad}  rules:")
        for r in g["rules"]:
            name = r.get("alert")
            if name and not helm and not fl.enabled(name):
                continue
            body = emit_rule(r, fl, pad + "    ")
            if name and helm:
                lines.append(f'{pad}    {{{{- if dig "alerts" "{name}" "enabled" true $c }}}}')
                lines.extend(body)
                lines.append(f"{pad}    {{{{- end }}}}")
            else:
                lines.extend(body)
    return lines


def emit_rule(r, fl, pad):
    lines = []
    kind = "alert" if "alert" in r else "record"
    lines.append(f"{pad}- {kind}: {fl.text(r[kind], False)}")
    inner = pad + "  "
    lines.append(f"{inner}expr: |-")
    for line in fl.text(r["expr"], False).split("\n"):
        lines.append(f"{inner}  {line}")
    for k in ("for", "keep_firing_for"):
        if k in r:
            lines.append(f"{inner}{k}: {fl.text(r[k], False)}")
    if "labels" in r:
        lines.append(f"{inner}labels:")
        for k, v in r["labels"].items():
            lines.append(f"{inner}  {k}: '{fl.text(v, True)}'")
    if "annotations" in r:
        lines.append(f"{inner}annotations:")
        for k, v in r["annotations"].items():
            if k == "description":
                lines.append(f"{inner}  {k}: >-")
                # Wrapped before the parameters go in, so that both forms break at the same words.
                for line in textwrap.wrap(v, 96, break_long_words=False, break_on_hyphens=False):
                    lines.append(f"{inner}    {fl.text(line, False)}")
            else:
                lines.append(f"{inner}  {k}: '{fl.text(v, True)}'")
    return lines


def plain_rules(params, extra=""):
    lines = HEADER.format(extra=extra).splitlines()
    lines.append("groups:")
    lines += emit_groups(groups(), Plain(params), 2, False)
    return "\n".join(lines) + "\n"


HELM_HEAD = """\
{{- /* GENERATED by deploy/mixin/generate.py from deploy/mixin/config.toml: do not edit; change the
parameters there (or set them as values) and regenerate. Every parameter of config.toml is a value
under prometheusRule.config, with the same keys: an unset key takes config.toml's default, written
inline below. Prometheus' own `{{ … }}` in annotations is escaped as {{ "{{" }} … {{ "}}" }}. */ -}}
{{- if .Values.prometheusRule.enabled }}
{{- $c := .Values.prometheusRule.config | default dict }}
{{- $job := include "bce.rules.jobSelector" . }}
{{- $ccy := include "bce.rules.currencySuffix" . }}
{{- $runbook := dig "runbookBaseUrl" "%(runbook)s" $c | trimSuffix "/" }}
{{- $sev := dict %(sev)s }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "bce.fullname" . }}
  namespace: {{ .Values.prometheusRule.namespace | default .Release.Namespace }}
  labels:
    {{- include "bce.labels" . | nindent 4 }}
    {{- with .Values.prometheusRule.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:"""


def helm_template(params):
    sev = " ".join(f'"{lvl}" (dig "severities" "{lvl}" "{params["severities"][lvl]}" $c)' for lvl in LEVELS)
    head = HELM_HEAD % {
        "currency": params["currency"],
        "runbook": params["runbookBaseUrl"],
        "sev": sev,
    }
    lines = head.splitlines()
    lines += emit_groups(groups(), Helm(params), 4, True)
    lines.append("{{- end }}")
    return "\n".join(lines) + "\n"
