"""promtool unit tests of the rules, written for a parameter set: the input series carry the job
selector's labels and the currency's metric names, the figures sit on either side of the configured
thresholds, and the expected alerts carry the configured severities, `for` timing and runbook URLs.
So a rule that ignores a parameter fails its tests under other parameters (the test suite runs
them with a second, non-default set).

Time is the exporter's: promtool's clock starts at 1970-01-01, but the rules read the calendar from
bedrock_exporter_now_timestamp_seconds, which the tests set to 2026 dates.
"""

import json
import re
from datetime import datetime, timezone

from params import ParamError, number, runbook

MIN = 60
STEP = 5  # minutes between input samples (longer ones go stale and `for` never holds)


def minutes(d):
    total = 0.0
    for n, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", d):
        total += int(n) * {"ms": 1 / 60000, "s": 1 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080, "y": 525600}[unit]
    return total


def ts(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp())


def job_labels(selector):
    """The labels a series needs to match the job selector (equality matchers only)."""
    labels = {}
    for part in selector.split(","):
        m = re.fullmatch(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*', part)
        if not m:
            raise ParamError(f"jobSelector {selector!r}: the generated unit tests need equality matchers "
                             "(label=\"value\", …) to build matching series")
        labels[m.group(1)] = m.group(2)
    return labels


def pct(v):
    """Prometheus' humanizePercentage."""
    return "%.4g%%" % (v * 100)


def hdur(v):
    """Prometheus' humanizeDuration."""
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        i = int(v)
        seconds, minutes_, hours, days = i % 60, (i // 60) % 60, (i // 3600) % 24, i // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes_}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes_}m {seconds}s"
        if minutes_:
            return f"{sign}{minutes_}m {seconds}s"
        return f"{sign}%.4gs" % v
    return "%.4gms" % (v * 1000)


def f2(x):
    return "%.2f" % x


def labelset(name, labels):
    inner = ",".join(f"{k}={json.dumps(v)}" for k, v in labels.items())
    return f"{name}{{{inner}}}"


class Case:
    """One promtool test: input series and expectations, in minutes."""

    def __init__(self, comment, length):
        self.comment = comment
        self.n = int(length // STEP) + 1
        self.series = []
        self.exprs = []
        self.alerts = []

    def add(self, name, labels, values):
        """`values`: a number, or a function of the minute giving a number or None (missing)."""
        vals = []
        for i in range(self.n):
            v = values(i * STEP) if callable(values) else values
            vals.append("_" if v is None else ("stale" if v == "stale" else number(v)))
        self.series.append((labelset(name, labels), compress(vals)))

    def expect(self, alertname, at, alerts):
        self.alerts.append((alertname, at, alerts))

    def expect_expr(self, expr, at, samples):
        self.exprs.append((expr, at, samples))


def compress(vals):
    """promtool's expanding notation: runs of one value as `vxN`."""
    out = []
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[i]:
            j += 1
        run = j - i
        if vals[i] == "stale":
            out.extend(["stale"] * (run + 1))
        elif vals[i] == "_":
            out.append(f"_x{run + 1}" if run else "_")
        else:
            out.append(f"{vals[i]}x{run}" if run else vals[i])
        i = j + 1
    return " ".join(out)


class Tests:
    def __init__(self, params):
        self.p = params
        self.job = job_labels(params["jobSelector"])
        self.ccy = "".join(c for c in params["currency"] if c.isalnum()).lower()
        self.cases = []

    # Parameters.
    def a(self, name, key):
        return self.p["alerts"][name][key]

    def for_(self, name):
        return minutes(self.a(name, "for"))

    def sev(self, name):
        return self.p["severities"][self.a(name, "severity")]

    def on(self, name):
        return self.a(name, "enabled")

    def money(self, prefix):
        return f"{prefix}_{self.ccy}"

    def L(self, **kw):
        return {**self.job, **kw}

    def expected(self, name, labels, annotations):
        return {
            "exp_labels": {"severity": self.sev(name), **labels},
            "exp_annotations": {**annotations, "runbook_url": runbook(self.p, name)},
        }

    # The exporter's clock and periods.
    def clock(self, c, instances, now, current, previous):
        """`now`, `current`, `previous`: functions of the minute."""
        for inst in instances:
            c.add("bedrock_exporter_now_timestamp_seconds", self.L(instance=inst), now)
            for period in sorted({current(m) for m in range(0, c.n * STEP, STEP)}):
                c.add("bedrock_exporter_current_billing_period", self.L(instance=inst, billing_period=period),
                      lambda m, period=period: 1 if current(m) == period else None)
            for period in sorted({previous(m) for m in range(0, c.n * STEP, STEP)}):
                c.add("bedrock_exporter_previous_billing_period_age_seconds", self.L(instance=inst, billing_period=period),
                      lambda m, period=period: now(m) - ts(f"{current(m)}-01T00:00:00Z") if previous(m) == period else None)

    def budget_description(self, budget, owner, period, spend, limit, forecast=None, closed=False):
        d = (f"Budget {budget} (owner {owner}) has spent {f2(spend)} of its {f2(limit)} in billing period "
             f"{period} ({pct(spend / limit)})")
        if forecast is not None:
            d += f"; forecast for the period's end: {f2(forecast)}"
        d += "."
        if closed:
            d += " The period has closed: its spend was restated after the month ended."
        return d

    def thresholds(self):
        return [(n, self.a(n, "threshold")) for n in ("BedrockBudgetHalfUsed", "BedrockBudgetAlmostUsed", "BedrockBudgetExceeded")]

    # Cases.
    def budgets_case(self):
        """Three budgets on either side of the thresholds, two replicas, last month's overspend."""
        ts_ = self.thresholds()
        top = max(t for _, t in ts_)
        fc_t = self.a("BedrockBudgetForecastExceeded", "threshold")
        wait = max(self.for_(n) for n, _ in ts_ + [("BedrockBudgetForecastExceeded", 0)])
        at = wait + 10
        c = Case("Thresholds and the forecast: web over every threshold, ml between the lowest two, "
                 "data under all; two replicas double nothing; last month's overspend (day 20, past "
                 "closedPeriodDays) alerts nobody.", at + 10)
        now = ts("2026-11-20T12:00:00Z")
        self.clock(c, ["a:9747", "b:9747"], lambda m: now + m * MIN, lambda m: "2026-11", lambda m: "2026-10")
        lo = sorted(t for _, t in ts_)
        budgets = {
            # name: (owner, extra labels, limit, spend ratio, forecast ratio)
            "web": ("web-team", {}, 100.0, top + 0.2, fc_t * 3 if fc_t else 3.0),
            "ml": ("ml-leads", {"email": "ml@example.org"}, 1000.0, (lo[0] + lo[1]) / 2, fc_t * 0.9),
            "data": ("data-team", {}, 1000.0, lo[0] * 0.5, fc_t * 1.1 if fc_t else 0.5),
        }
        for b, (owner, extra, limit, r, fr) in budgets.items():
            base = dict(budget=b, owner=owner, **extra)
            for inst in ("a:9747", "b:9747"):
                c.add(self.money("bedrock_budget_limit"), self.L(instance=inst, **base), limit)
                c.add(self.money("bedrock_budget_spend"), self.L(instance=inst, **base, billing_period="2026-11"), limit * r)
                c.add(self.money("bedrock_budget_forecast"), self.L(instance=inst, **base, billing_period="2026-11"), limit * fr)
            c.add(self.money("bedrock_budget_spend"), self.L(instance="a:9747", **base, billing_period="2026-10"), limit * (top + 4))
        c.expect_expr("budget_billing_period:bedrock_budget_used:ratio{budget=\"web\"}", 10, [
            (self.L(budget="web", owner="web-team", billing_period="2026-10"), top + 4),
            (self.L(budget="web", owner="web-team", billing_period="2026-11"), top + 0.2),
        ])
        c.expect_expr("budget:bedrock_budget_used:current_period_ratio", 10, [
            (self.L(budget=b, owner=o, **e, billing_period="2026-11"), r) for b, (o, e, _, r, _) in budgets.items()
        ])
        c.expect_expr("utc:bedrock_month_elapsed:ratio", 0, [({}, (19 * 86400 + 12 * 3600) / (30 * 86400))])
        for name, t in ts_:
            exp = []
            for b, (owner, extra, limit, r, fr) in budgets.items():
                if r >= t:
                    exp.append(self.expected(name, self.L(budget=b, owner=owner, **extra, billing_period="2026-11"), {
                        "summary": f"Bedrock budget {b} is {pct(r)} used in 2026-11",
                        "description": self.budget_description(b, owner, "2026-11", limit * r, limit, limit * fr),
                    }))
            if self.on(name):
                if self.for_(name) >= 15:
                    c.expect(name, self.for_(name) - 10, [])
                c.expect(name, at, exp)
        name = "BedrockBudgetForecastExceeded"
        if self.on(name):
            exp = []
            for b, (owner, extra, limit, r, fr) in budgets.items():
                if fr >= fc_t:
                    exp.append(self.expected(name, self.L(budget=b, owner=owner, **extra, billing_period="2026-11"), {
                        "summary": f"Bedrock budget {b} is forecast at {pct(fr)} of its limit in 2026-11",
                        "description": f"At the current daily rate, budget {b} (owner {owner}) ends 2026-11 at "
                                       f"{f2(limit * fr)} against a limit of {f2(limit)} (spent so far: {f2(limit * r)}).",
                    }))
            c.expect(name, at, exp)
        self.cases.append(c)

    def month_end_case(self):
        """The month rolls over: an alert of the closed period keeps firing (no second notification)
        for closedPeriodDays; a restatement that crosses a limit in that window alerts with the closed
        period's billing_period; after the window both stop (after keep_firing_for)."""
        name = "BedrockBudgetExceeded"
        if not self.on(name):
            return
        t = self.a(name, "threshold")
        fo = self.for_(name)
        keep = minutes(self.p["keepFiringFor"])
        n_days = self.p["closedPeriodDays"]
        boundary = fo + 30
        restated = boundary + 30
        after = restated + fo + 20
        end = after + keep + 20
        c = Case(f"Month end: web over its limit in 2026-11 stays one alert across the rollover; ml's 2026-11 "
                 f"spend is restated over its limit on day {min(2, n_days) or 1} of December (closedPeriodDays "
                 f"{n_days}); past the window both stop after keep_firing_for ({self.p['keepFiringFor']}).", end)
        grace_day = max(1, min(2, n_days))

        def now(m):
            if m < boundary:
                return ts("2026-11-29T12:00:00Z") + m * MIN
            if m < after:
                return ts(f"2026-12-{grace_day:02d}T00:00:00Z") + (m - boundary) * MIN
            return ts(f"2026-12-{n_days + 1:02d}T00:00:00Z") + (m - after) * MIN

        self.clock(c, ["a:9747"], now,
                   lambda m: "2026-11" if m < boundary else "2026-12",
                   lambda m: "2026-10" if m < boundary else "2026-11")
        limit = 100.0
        for b, owner in (("web", "web-team"), ("ml", "ml-leads")):
            c.add(self.money("bedrock_budget_limit"), self.L(instance="a:9747", budget=b, owner=owner), limit)
            c.add(self.money("bedrock_budget_spend"), self.L(instance="a:9747", budget=b, owner=owner, billing_period="2026-12"),
                  lambda m: None if m < boundary else 0)
        over = limit * (t + 0.5)
        under = limit * t * 0.5
        c.add(self.money("bedrock_budget_spend"), self.L(instance="a:9747", budget="web", owner="web-team", billing_period="2026-11"), over)
        c.add(self.money("bedrock_budget_spend"), self.L(instance="a:9747", budget="ml", owner="ml-leads", billing_period="2026-11"),
              lambda m: under if m < restated else over)

        def web(closed):
            return self.expected(name, self.L(budget="web", owner="web-team", billing_period="2026-11"), {
                "summary": f"Bedrock budget web is {pct(t + 0.5)} used in 2026-11",
                "description": self.budget_description("web", "web-team", "2026-11", over, limit, closed=closed),
            })

        ml = self.expected(name, self.L(budget="ml", owner="ml-leads", billing_period="2026-11"), {
            "summary": f"Bedrock budget ml is {pct(t + 0.5)} used in 2026-11",
            "description": self.budget_description("ml", "ml-leads", "2026-11", over, limit, closed=True),
        })
        c.expect(name, boundary - 5, [web(False)])
        if n_days >= 1:
            c.expect(name, restated - 5, [web(True)])
            c.expect(name, restated + fo + 10, [web(True), ml])
            if keep >= 15:
                c.expect(name, after + keep - 10, [web(True), ml])
        c.expect(name, after + keep + 10, [])
        self.cases.append(c)

    def replicas_at_the_turn_case(self):
        """Two replicas a refresh apart at the month's turn (or a series left over from before a
        Prometheus restart): one in December (its previous period November), one still in November
        (its previous period October, closed 30 days before). November is watched; October, over
        its limit, never is."""
        name = "BedrockBudgetExceeded"
        if not self.on(name):
            return
        t = self.a(name, "threshold")
        fo = self.for_(name)
        c = Case("Two replicas a refresh apart at the month's turn: October (the period before last) "
                 "stays unwatched although one replica still calls it previous.", fo + 20)
        grace_day = max(1, min(2, self.p["closedPeriodDays"]))
        dec = ts(f"2026-12-{grace_day:02d}T00:00:00Z")
        c.add("bedrock_exporter_now_timestamp_seconds", self.L(instance="a:9747"), lambda m: dec + m * MIN)
        c.add("bedrock_exporter_current_billing_period", self.L(instance="a:9747", billing_period="2026-12"), 1)
        c.add("bedrock_exporter_previous_billing_period_age_seconds", self.L(instance="a:9747", billing_period="2026-11"),
              lambda m: dec + m * MIN - ts("2026-12-01T00:00:00Z"))
        c.add("bedrock_exporter_now_timestamp_seconds", self.L(instance="b:9747"), lambda m: ts("2026-11-30T23:00:00Z") + m * MIN)
        c.add("bedrock_exporter_current_billing_period", self.L(instance="b:9747", billing_period="2026-11"), 1)
        c.add("bedrock_exporter_previous_billing_period_age_seconds", self.L(instance="b:9747", billing_period="2026-10"),
              lambda m: ts("2026-11-30T23:00:00Z") + m * MIN - ts("2026-11-01T00:00:00Z"))
        limit = 100.0
        for inst in ("a:9747", "b:9747"):
            c.add(self.money("bedrock_budget_limit"), self.L(instance=inst, budget="web", owner="web-team"), limit)
            c.add(self.money("bedrock_budget_spend"), self.L(instance=inst, budget="web", owner="web-team", billing_period="2026-10"),
                  limit * (t + 1))
            c.add(self.money("bedrock_budget_spend"), self.L(instance=inst, budget="web", owner="web-team", billing_period="2026-11"),
                  limit * (t + 0.5))
        c.expect(name, fo + 10, [self.expected(name, self.L(budget="web", owner="web-team", billing_period="2026-11"), {
            "summary": f"Bedrock budget web is {pct(t + 0.5)} used in 2026-11",
            "description": self.budget_description("web", "web-team", "2026-11", limit * (t + 0.5), limit, closed=True),
        })])
        self.cases.append(c)

    def gaps_case(self):
        """Failed scrapes (stale markers, as a down exporter leaves) do not resolve a firing alert;
        a restatement below the limit resolves it, after keep_firing_for."""
        name = "BedrockBudgetExceeded"
        if not self.on(name):
            return
        t = self.a(name, "threshold")
        fo = self.for_(name)
        keep = minutes(self.p["keepFiringFor"])
        gap = max(5, min(15, int(keep // 2) // 5 * 5))
        gap_at = fo + 20
        lowered = gap_at + gap + 20
        end = lowered + keep + 20
        c = Case(f"Missed scrapes: {gap} min of stale series (a down exporter) keep a firing alert firing; "
                 f"a restatement to half the threshold resolves it after keep_firing_for.", end)
        now = ts("2026-11-10T00:00:00Z")

        def up(v):
            return lambda m: "stale" if gap_at <= m < gap_at + gap else (v(m) if callable(v) else v)

        c.add("bedrock_exporter_now_timestamp_seconds", self.L(instance="a:9747"), up(lambda m: now + m * MIN))
        c.add("bedrock_exporter_current_billing_period", self.L(instance="a:9747", billing_period="2026-11"), up(1))
        c.add("bedrock_exporter_previous_billing_period_age_seconds", self.L(instance="a:9747", billing_period="2026-10"),
              up(lambda m: now + m * MIN - ts("2026-11-01T00:00:00Z")))
        limit = 100.0
        spend = lambda m: limit * (t + 0.5) if m < lowered else limit * t * 0.5  # noqa: E731
        c.add(self.money("bedrock_budget_limit"), self.L(instance="a:9747", budget="web", owner="web-team"), up(limit))
        c.add(self.money("bedrock_budget_spend"), self.L(instance="a:9747", budget="web", owner="web-team", billing_period="2026-11"), up(spend))
        exp = self.expected(name, self.L(budget="web", owner="web-team", billing_period="2026-11"), {
            "summary": f"Bedrock budget web is {pct(t + 0.5)} used in 2026-11",
            "description": self.budget_description("web", "web-team", "2026-11", limit * (t + 0.5), limit),
        })
        c.expect(name, gap_at - 5, [exp])
        c.expect(name, gap_at + gap - 5 + (1 if gap == 5 else 0), [exp] if keep >= gap else [])
        if keep >= 15:
            c.expect(name, lowered + keep - 10, [exp])
        c.expect(name, lowered + keep + 10, [])
        self.cases.append(c)

    def spikes_case(self):
        b, pr = "BedrockBudgetSpendSpike", "BedrockPrincipalSpendSpike"
        u = "BedrockUnattributedCostShareHigh"
        wait = max(self.for_(x) for x in (b, pr, u))
        at = wait + 10
        c = Case("Spikes: a budget and two principals over factor × baseline and the minimum (one "
                 "attributed to a budget, one to none), one under; unattributed usage share.", at + 10)
        self.clock(c, ["a:9747"], lambda m: ts("2026-11-20T12:00:00Z") + m * MIN, lambda m: "2026-11", lambda m: "2026-10")
        day = "2026-11-17"
        fb, tb = self.a(b, "factor"), self.a(b, "threshold")
        fp, tp = self.a(pr, "factor"), self.a(pr, "threshold")
        bl = {"budget": "web", "owner": "web-team", "usage_date": day}
        base_b = max(tb, 1.0)
        spike_b = base_b * fb + tb + 10
        c.add(self.money("bedrock_budget_day_spend"), self.L(instance="a:9747", **bl), spike_b)
        c.add(self.money("bedrock_budget_baseline_day_spend"), self.L(instance="a:9747", **bl), base_b)
        quiet = {"budget": "ml", "owner": "ml-leads", "usage_date": day}
        c.add(self.money("bedrock_budget_day_spend"), self.L(instance="a:9747", **quiet), base_b * fb * 0.9)
        c.add(self.money("bedrock_budget_baseline_day_spend"), self.L(instance="a:9747", **quiet), base_b)
        owned = {"principal": "arn:aws:iam::111122223333:user/alice", "usage_date": day,
                 "budget": "web", "owner": "web-team", "email": "web@example.org"}
        unowned = {"principal": "arn:aws:iam::111122223333:user/bob", "usage_date": day}
        below = {"principal": "arn:aws:iam::111122223333:user/carol", "usage_date": day}
        base_p = max(tp, 1.0)
        spike_p = base_p * fp + tp + 5
        for labels, v in ((owned, spike_p), (unowned, spike_p), (below, tp * 0.5)):
            c.add(self.money("bedrock_principal_day_cost"), self.L(instance="a:9747", **labels), v)
            c.add(self.money("bedrock_principal_baseline_day_cost"), self.L(instance="a:9747", **labels), base_p)
        if self.on(b):
            c.expect(b, at, [self.expected(b, self.L(**bl), {
                "summary": f"Bedrock budget web spent {f2(spike_b)} on {day}, over {number(fb)} times its daily baseline",
                "description": f"Budget web (owner web-team) spent {f2(spike_b)} on {day}; its mean over the days before was {f2(base_b)}.",
            })])
        if self.on(pr):
            exp = []
            for labels, who in ((owned, "alice"), (unowned, "bob")):
                tail = ("It counts toward budget web (owner web-team), the first budget whose selector its spend matches."
                        if "budget" in labels else "No budget's selector matches its spend.")
                exp.append(self.expected(pr, self.L(**labels), {
                    "summary": f"Bedrock principal {labels['principal']} spent {f2(spike_p)} on {day}, over {number(fp)} times its daily baseline",
                    "description": f"{labels['principal']} spent {f2(spike_p)} on {day}; its mean over the days before was {f2(base_p)}. {tail}",
                }))
            c.expect(pr, at, exp)
        share = self.a(u, "threshold")
        usage = 1000.0
        un = usage * min(0.99, share + 0.1)
        for lt, pr_, v in (("Usage", "unattributed", un), ("Usage", "arn:aws:iam::111122223333:user/alice", usage - un),
                           ("Tax", "unattributed", 500.0)):
            c.add(self.money("bedrock_cost"), self.L(instance="a:9747", billing_period="2026-11", line_item_type=lt, principal=pr_), v)
            c.add(self.money("bedrock_cost"), self.L(instance="a:9747", billing_period="2026-10", line_item_type=lt, principal=pr_), v)
        if self.on(u):
            r = un / usage
            c.expect(u, at, [self.expected(u, {"billing_period": "2026-11"}, {
                "summary": f"{pct(r)} of Bedrock usage cost in 2026-11 has no IAM principal",
                "description": f"{pct(r)} of the Bedrock usage cost of 2026-11 is principal=\"unattributed\": callers "
                               "behind a gateway or shared role, or an export without INCLUDE_IAM_PRINCIPAL_DATA. "
                               "Budgets on principals or tags miss this spend.",
            })])
        self.cases.append(c)

    def health_case(self):
        names = ["BedrockCostExportStale", "BedrockUsageAbsent", "BedrockCostExporterRefreshFailing",
                 "BedrockCostExporterDown", "BedrockCostExporterConfigReloadFailed",
                 "BedrockCostExporterOtlpPushFailing", "BedrockCostUnknownUsageTypes",
                 "BedrockCostSeriesNearLimit", "BedrockCostSeriesFolded"]
        wait = max(self.for_(n) for n in names)
        at = wait + 10
        c = Case("Exporter health: export s3-main stopped arriving, export local has had no Bedrock usage "
                 "for a while, instance b is failing in every way.", at + 10)
        now0 = ts("2026-11-20T12:00:00Z")
        stale_h = self.a("BedrockCostExportStale", "threshold")
        absent_d = self.a("BedrockUsageAbsent", "threshold")
        near = self.a("BedrockCostSeriesNearLimit", "threshold")
        for inst, bad in (("a:9747", False), ("b:9747", True)):
            L = lambda **kw: self.L(instance=inst, **kw)  # noqa: E731
            c.add("up", L(), 0 if bad else 1)
            c.add("bedrock_exporter_now_timestamp_seconds", L(), lambda m: now0 + m * MIN)
            # s3-main: the last manifest older than the threshold, usage current.
            c.add("bedrock_exporter_manifest_last_modified_timestamp_seconds", L(export="s3-main", billing_period="2026-11"),
                  now0 - stale_h * 3600 - 3600)
            c.add("bedrock_exporter_manifest_last_modified_timestamp_seconds", L(export="s3-main", billing_period="2026-10"),
                  now0 - 20 * 86400)
            c.add("bedrock_exporter_data_newest_usage_timestamp_seconds", L(export="s3-main", billing_period="2026-11"),
                  now0 - 86400)
            # local: the export is fresh, the usage old.
            c.add("bedrock_exporter_manifest_last_modified_timestamp_seconds", L(export="local", billing_period="2026-11"), now0 - 600)
            c.add("bedrock_exporter_data_newest_usage_timestamp_seconds", L(export="local", billing_period="2026-11"),
                  now0 - absent_d * 86400 - 7200)
            c.add("bedrock_exporter_last_refresh_success", L(export="s3-main"), 0 if bad else 1)
            c.add("bedrock_exporter_config_last_reload_successful", L(), 0 if bad else 1)
            c.add("bedrock_exporter_otlp_last_push_success", L(), 0 if bad else 1)
            c.add("bedrock_exporter_series", L(), 1000 * min(near + 0.05, 1.0))
            c.add("bedrock_exporter_series_limit", L(), 1000)
            c.add("bedrock_exporter_folded_series", L(), 3)
            for ut, rows in (("USE1-NewThing-input-tokens", 4), ("USE1-NewThing-output-tokens", 2)):
                c.add("bedrock_exporter_unknown_usage_type_rows", L(export="s3-main", billing_period="2026-11", usage_type=ut), rows)

        def exp(name, labels, summary, description):
            if self.on(name):
                c.expect(name, at, [self.expected(name, self.L(**labels), {"summary": summary, "description": description})] if summary else [])

        at_now = now0 + (int(at) // STEP) * STEP * MIN  # the sample in force at `at`
        s_age = at_now - (now0 - stale_h * 3600 - 3600)
        exp("BedrockCostExportStale", {"export": "s3-main"},
            f"Export s3-main has not been delivered for {hdur(s_age)}",
            f"The newest manifest of export s3-main was written {hdur(s_age)} before the exporter's now "
            f"(threshold {number(stale_h)} h). AWS rewrites a CUR 2.0 export several times a day: check the "
            "export's status in the Billing console, its S3 bucket policy, and that `source` points at it. "
            "Budgets and forecasts are as old as the export.")
        u_age = at_now - (now0 - absent_d * 86400 - 7200)
        exp("BedrockUsageAbsent", {"export": "local"},
            f"No Bedrock usage in export local for {hdur(u_age)}",
            f"The newest Bedrock usage billed in export local ended {hdur(u_age)} before the exporter's now "
            f"(threshold {number(absent_d)} days), while the export itself keeps arriving "
            "(BedrockCostExportStale says otherwise). Nobody has used Bedrock, or the usage moved to an "
            "account or payer this export does not cover.")
        exp("BedrockCostExporterRefreshFailing", {"instance": "b:9747", "export": "s3-main"},
            "bedrock-cost-exporter b:9747 cannot refresh export s3-main",
            "The last refresh of export s3-main by b:9747 failed and has kept failing; it serves the last "
            "good data. Its log names the object and the error; bedrock_exporter_errors_total says at which stage.")
        exp("BedrockCostExporterDown", {"instance": "b:9747"},
            "bedrock-cost-exporter b:9747 is down",
            "Prometheus cannot scrape b:9747; no budget alert can fire from it.")
        exp("BedrockCostExporterConfigReloadFailed", {"instance": "b:9747"},
            "bedrock-cost-exporter b:9747 could not reload its configuration",
            "The last configuration reload of b:9747 (SIGHUP or POST /-/reload) failed; the previous "
            "configuration stays in effect, so budgets and settings changed since are not applied. Its log "
            "says which key of which file; `bedrock-cost-exporter check-config` does too.")
        exp("BedrockCostExporterOtlpPushFailing", {"instance": "b:9747"},
            "bedrock-cost-exporter b:9747 cannot push over OTLP",
            "The last OTLP push of b:9747 failed and has kept failing; the OTLP receiver's copy of the "
            "Bedrock series is getting old. bedrock_exporter_otlp_requests_total says how (status or "
            "transport error); the log names the endpoint.")
        exp("BedrockCostUnknownUsageTypes", {"export": "s3-main", "billing_period": "2026-11"},
            "6 Bedrock line items of 2026-11 have usage types no rule knows",
            "Export s3-main has 6 Bedrock line items in 2026-11 whose usage type matched no classification "
            "rule (bedrock_exporter_unknown_usage_type_rows names them). Their cost is in every total under "
            "model=\"unknown\"; per-model figures miss them. A new model or usage-type form: report it, with the string.")
        r = min(near + 0.05, 1.0)
        exp("BedrockCostSeriesNearLimit", {},
            f"Bedrock series are at {pct(r)} of max_series",
            f"The exporter holds {pct(r)} of its series cap (max_series); further growth folds the smallest "
            "series into principal=\"__other__\", out of per-principal panels. Raise max_series, set "
            "fold_sessions, or narrow tags.allow.")
        exp("BedrockCostSeriesFolded", {},
            "3 Bedrock series are folded into principal=\"__other__\"",
            "The series cap (max_series) folded 3 series into overflow buckets; totals and budgets stay "
            "exact, per-principal panels do not show them.")
        self.cases.append(c)

    def absent_case(self):
        name = "BedrockCostExporterAbsent"
        if not self.on(name):
            return
        fo = self.for_(name)
        c = Case("No target of the job up: Absent fires; while one is up it stays silent.", fo * 2 + 40)
        c.add("up", self.L(instance="a:9747"), lambda m: 1 if m < fo + 20 else 0)
        c.expect(name, fo + 10, [])
        sel = "{" + self.p["jobSelector"] + "}"
        c.expect(name, fo * 2 + 35, [self.expected(name, {}, {
            "summary": "No bedrock-cost-exporter is being scraped",
            "description": f"No target selected by {sel} is up; no budget alert can fire. Check that the "
                           "exporter runs and that the rules' job selector (jobSelector) matches the job its "
                           "series carry.",
        })])
        self.cases.append(c)


def yq(s):
    return "'" + str(s).replace("'", "''") + "'"


def test_file(params, rules_path):
    t = Tests(params)
    t.budgets_case()
    t.month_end_case()
    t.replicas_at_the_turn_case()
    t.gaps_case()
    t.spikes_case()
    t.health_case()
    t.absent_case()
    lines = [
        "# promtool unit tests of the rules (run: promtool test rules THIS_FILE).",
        "# GENERATED by deploy/mixin/generate.py (deploy/mixin/ruletests.py) for the same parameters as",
        "# the rules: do not edit. promtool's clock starts at 1970-01-01; the rules read the calendar from",
        "# bedrock_exporter_now_timestamp_seconds, set to 2026 dates here. Input every 5m (longer ones go",
        "# stale between samples and `for` never holds).",
        "rule_files:",
        f"  - {rules_path}",
        "evaluation_interval: 1m",
        "tests:",
    ]
    for c in t.cases:
        lines.append(f"  # {c.comment}")
        lines.append(f"  - interval: {STEP}m")
        lines.append("    input_series:")
        for series, values in c.series:
            lines.append(f"      - series: {yq(series)}")
            lines.append(f"        values: {yq(values)}")
        if c.exprs:
            lines.append("    promql_expr_test:")
            for expr, at, samples in c.exprs:
                lines.append(f"      - expr: {yq(expr)}")
                lines.append(f"        eval_time: {number(at)}m")
                lines.append("        exp_samples:")
                for labels, v in samples:
                    name = expr.split("{")[0]
                    lines.append(f"          - labels: {yq(labelset(name, labels))}")
                    lines.append(f"            value: {number(v)}")
        if c.alerts:
            lines.append("    alert_rule_test:")
            for name, at, alerts in c.alerts:
                lines.append(f"      - alertname: {name}")
                lines.append(f"        eval_time: {number(at)}m")
                if not alerts:
                    lines.append("        exp_alerts: []")
                    continue
                lines.append("        exp_alerts:")
                for a in alerts:
                    lines.append("          - exp_labels:")
                    for k, v in a["exp_labels"].items():
                        lines.append(f"              {k}: {yq(v)}")
                    lines.append("            exp_annotations:")
                    for k, v in a["exp_annotations"].items():
                        lines.append(f"              {k}: {yq(v)}")
    return "\n".join(lines) + "\n"
