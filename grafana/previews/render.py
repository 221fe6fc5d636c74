#!/usr/bin/env python3
"""Draws previews of the Grafana dashboards from real query results.

Input: the JSON the dashboard test writes (`PREVIEW_RESULTS_OUT=… cargo test --test it
every_panel_and_variable_query_returns_data`): every panel query of every dashboard, with the
dashboard's default variables, as a real Prometheus answered it after scraping the daemon serving
a generated export with budgets. Output: one PNG per dashboard, panels where the dashboard's
gridPos puts them, drawn the way Grafana's panel type would (stat, bar gauge, pie, time series,
table). Not Grafana: an honest sketch of what each panel shows. Run through scripts/previews.sh.

Usage: render.py RESULTS.json DASHBOARDS_DIR OUT_DIR
"""

import datetime as dt
import json
import math
import pathlib
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BG = "#111217"
PANEL = "#181b1f"
FG = "#ccccdc"
DIM = "#8e8e98"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
           "#705da0", "#37872d", "#fade2a", "#c4162a", "#1f60c4", "#8f3bb8", "#96d98d"]
HIDDEN_LABELS = {"__name__", "job", "instance", "pod"}


def fmt(v, unit, now):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if unit == "currencyUSD":
        return f"-${abs(v):,.2f}" if v < 0 else f"${v:,.2f}"
    if unit == "percentunit":
        return f"{v * 100:.1f}%"
    if unit.startswith("count:") or unit == "short":
        suffix = " " + unit[6:] if unit.startswith("count:") else ""
        for div, s in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " K")):
            if abs(v) >= div:
                return f"{v / div:.2f}{s}{suffix}"
        return f"{v:.4g}{suffix}"
    if unit == "bytes":
        for div, s in ((1 << 30, " GiB"), (1 << 20, " MiB"), (1 << 10, " KiB")):
            if abs(v) >= div:
                return f"{v / div:.1f}{s}"
        return f"{v:.0f} B"
    if unit == "s":
        a = abs(v)
        sign = "-" if v < 0 else ""
        if a >= 86400:
            return f"{sign}{a / 86400:.1f} day"
        if a >= 3600:
            return f"{sign}{a / 3600:.1f} hour"
        if a >= 60:
            return f"{sign}{a / 60:.1f} min"
        return f"{sign}{a:.1f} s"
    if unit == "dateTimeAsIso":
        return dt.datetime.fromtimestamp(v / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    if unit == "dateTimeFromNow":
        ago = now - v / 1000
        return f"{ago:.0f} s ago" if ago < 120 else f"{ago / 60:.0f} min ago"
    return f"{v:.3g}"


def legend(fmt_str, metric):
    labels = {k: v for k, v in metric.items() if k not in HIDDEN_LABELS}
    if not fmt_str or fmt_str == "__auto":
        return ", ".join(f"{k}={v}" for k, v in labels.items()) or metric.get("__name__", "value")
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt_str)


def short(s, n=34):
    s = re.sub(r"^arn:aws:(iam|sts)::\d+:", "", s)
    return s if len(s) <= n else s[: n - 1] + "…"


def series(panel):
    """(legend, value) of every instant result, in result order."""
    out = []
    for t in panel["targets"]:
        for r in t["result"] or []:
            if "value" in r:
                out.append((legend(t["legendFormat"], r["metric"]), float(r["value"][1]), t["refId"]))
    return out


def color_for(v, steps):
    c = steps[0]["color"] if steps else PALETTE[0]
    for s in steps[1:]:
        if s.get("value") is not None and v >= s["value"]:
            c = s["color"]
    return {"green": "#73bf69", "yellow": "#fade2a", "orange": "#ff9830", "red": "#f2495c"}.get(c, c)


def draw_stat(ax, panel, spec, now):
    vals = series(panel)
    unit = panel["unit"]
    mappings = {}
    for m in spec["fieldConfig"]["defaults"].get("mappings", []):
        for k, o in m.get("options", {}).items():
            mappings[float(k)] = o["text"]
    steps = spec["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    colored = spec["options"].get("colorMode") != "none"
    units = {o["matcher"]["options"]: p["value"] for o in spec["fieldConfig"]["overrides"]
             for p in o["properties"] if p["id"] == "unit"}
    n = len(vals)
    for i, (name, v, _) in enumerate(vals):
        x = (i + 0.5) / n
        text = mappings.get(v) or fmt(v, units.get(name, unit), now)
        if spec["options"].get("textMode") == "name":
            text, name = name, ""
        size = 20 if n == 1 else max(9, 18 - 2 * n)
        size = min(size, 2.2 * spec["gridPos"]["w"] * 24 / max(len(text), 1) / n)
        ax.text(x, 0.45, text, ha="center", va="center", fontsize=size, weight="bold",
                color=color_for(v, steps) if colored else FG, transform=ax.transAxes)
        if n > 1:
            ax.text(x, 0.12, short(name, 18), ha="center", va="center", fontsize=7, color=DIM,
                    transform=ax.transAxes)
    ax.set_axis_off()


def draw_bars(ax, panel, spec, now):
    vals = series(panel)[:12]
    unit = panel["unit"]
    d = spec["fieldConfig"]["defaults"]
    steps = d.get("thresholds", {}).get("steps", [])
    by_thr = d.get("color", {}).get("mode") == "thresholds"
    names = [short(n, 28) for n, _, _ in vals][::-1]
    values = [v for _, v, _ in vals][::-1]
    colors = [color_for(v, steps) if by_thr else PALETTE[i % len(PALETTE)]
              for i, v in enumerate(values)]
    ax.barh(range(len(values)), values, color=colors, height=0.7)
    ax.set_ylim(len(values) - max(len(values), 6) - 0.4, len(values) - 0.4)
    ax.set_yticks(range(len(values)), names, fontsize=7, color=FG)
    hi = max([abs(v) for v in values] + [d.get("max") or 0]) or 1
    for i, v in enumerate(values):
        ax.text(max(v, 0) + hi * 0.02, i, fmt(v, unit, now), va="center", fontsize=7, color=FG)
    ax.set_xlim(min(0, min(values, default=0)), hi * 1.35)
    ax.set_xticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def draw_pie(ax, panel, spec, now):
    vals = [(n, v) for n, v, _ in series(panel) if v > 0]
    total = sum(v for _, v in vals) or 1
    ax.pie([v for _, v in vals], colors=PALETTE[: len(vals)], startangle=90, counterclock=False,
           wedgeprops={"width": 0.4, "edgecolor": PANEL})
    ax.legend([f"{short(n, 18)}  {fmt(v, panel['unit'], now)} ({v / total:.0%})" for n, v in vals],
              loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False, labelcolor=FG)
    ax.set_aspect("equal")


def draw_timeseries(ax, panel, spec, now):
    i = 0
    for t in panel["targets"]:
        for r in t["result"] or []:
            xs = [dt.datetime.fromtimestamp(float(p[0]), dt.timezone.utc) for p in r["values"]]
            ys = [float(p[1]) for p in r["values"]]
            ax.step(xs, ys, where="post", color=PALETTE[i % len(PALETTE)], linewidth=1.5,
                    label=short(legend(t["legendFormat"], r["metric"]), 24))
            i += 1
    ax.tick_params(colors=DIM, labelsize=6)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt(v, panel["unit"], now)))
    ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%H:%M:%S", tz=dt.timezone.utc))
    ax.legend(fontsize=6, frameon=False, labelcolor=FG, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(color="#2c3235", linewidth=0.5)
    for s in ax.spines.values():
        s.set_visible(False)


def table_rows(panel, spec):
    """Grafana's table transformations as used by the dashboards: merge, organize, groupingToMatrix."""
    transformations = {t["id"]: t.get("options", {}) for t in spec.get("transformations", [])}
    many = len(panel["targets"]) > 1
    rows = {}
    label_cols = []
    for t in panel["targets"]:
        col = f"Value #{t['refId']}" if many else "Value"
        for r in t["result"] or []:
            labels = {k: v for k, v in r["metric"].items() if k not in HIDDEN_LABELS}
            for k in labels:
                if k not in label_cols:
                    label_cols.append(k)
            key = tuple(sorted(labels.items()))
            row = rows.setdefault(key, dict(labels))
            row[col] = float(r["value"][1])
    if "merge" in transformations:
        # Rows of later targets with fewer labels (e.g. without execution_id) join on the common ones.
        merged = {}
        for row in rows.values():
            k = tuple(sorted((c, row[c]) for c in ("budget", "billing_period", "principal", "usage_date") if c in row))
            merged.setdefault(k, {}).update(row)
        rows = {k: v for k, v in merged.items()}
    rows = list(rows.values())
    if "groupingToMatrix" in transformations:
        o = transformations["groupingToMatrix"]
        pivot, cols = {}, []
        for r in rows:
            pivot.setdefault(r.get(o["rowField"], ""), {o["rowField"]: r.get(o["rowField"], "")})[r.get(o["columnField"], "")] = r.get("Value")
            if r.get(o["columnField"], "") not in cols:
                cols.append(r.get(o["columnField"], ""))
        return [o["rowField"]] + sorted(cols), list(pivot.values())
    org = transformations.get("organize", {})
    order = sorted(org.get("indexByName", {}), key=lambda k: org["indexByName"][k])
    cols = [c for c in order if not org.get("excludeByName", {}).get(c)]
    cols += [c for c in label_cols if c not in cols and not org.get("excludeByName", {}).get(c)]
    rename = org.get("renameByName", {})
    out = [{rename.get(c, c): r.get(c) for c in cols} for r in rows]
    return [rename.get(c, c) for c in cols], out


def draw_table(ax, panel, spec, now):
    cols, rows = table_rows(panel, spec)
    sort_by = (spec["options"].get("sortBy") or [{}])[0].get("displayName")
    if sort_by in cols:
        rows.sort(key=lambda r: (r.get(sort_by) is None, -(r.get(sort_by) or 0) if isinstance(r.get(sort_by), float) else str(r.get(sort_by))))
    units = {o["matcher"]["options"]: p["value"] for o in spec["fieldConfig"]["overrides"]
             for p in o["properties"] if p["id"] == "unit"}
    cells = []
    for r in rows[:10]:
        cells.append([fmt(r.get(c), units.get(c, panel["unit"]), now) if isinstance(r.get(c), float)
                      else short(str(r.get(c) if r.get(c) is not None else ""), 40) for c in cols])
    if not cells:
        noval = spec["fieldConfig"]["defaults"].get("noValue", "No data")
        ax.text(0.5, 0.5, noval, ha="center", va="center", color=DIM, transform=ax.transAxes)
        ax.set_axis_off()
        return
    tb = ax.table(cellText=cells, colLabels=[short(c, 22) for c in cols], loc="upper center", cellLoc="left")
    tb.auto_set_font_size(False)
    tb.set_fontsize(6.5)
    tb.scale(1, 1.15)
    for (i, _), cell in tb.get_celld().items():
        cell.set_edgecolor("#2c3235")
        cell.set_facecolor("#22252b" if i == 0 else PANEL)
        cell.get_text().set_color(FG if i else "#6e9fff")
    ax.set_axis_off()


def draw_text(ax, spec):
    body = re.sub(r"[*`]", "", spec["options"]["content"])
    ax.text(0.02, 0.95, body, ha="left", va="top", fontsize=6.5, color=FG, wrap=True,
            transform=ax.transAxes)
    ax.set_axis_off()


DRAW = {"stat": draw_stat, "bargauge": draw_bars, "piechart": draw_pie,
        "timeseries": draw_timeseries, "table": draw_table}


def render(dash_result, spec, out, now, periods):
    all_panels = []
    for p in spec["panels"]:
        all_panels.append(p)
        all_panels.extend(p.get("panels", []))
    specs = {p["title"]: p for p in all_panels}
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in all_panels)
    unit_h = 0.36  # inches per grid row
    width = 20.0
    fig = plt.figure(figsize=(width, rows * unit_h + 0.9), facecolor=BG)
    H = rows * unit_h + 0.9
    fig.text(0.01, 1 - 0.25 / H, spec["title"], color=FG, fontsize=14, weight="bold", va="top")
    vars_ = ", ".join(f"{k}={v.replace('Values([', '').replace('])', '').replace(chr(34), '')}"
                      for k, v in dash_result["variables"].items())
    fig.text(0.99, 1 - 0.25 / H, f"preview from real query results · {vars_}", color=DIM,
             fontsize=7, ha="right", va="top")
    top = 0.8  # inches reserved for the header

    def box(gp, pad=0.06):
        x0 = gp["x"] / 24
        w = gp["w"] / 24
        y_top = top + gp["y"] * unit_h
        h = gp["h"] * unit_h
        return [x0 + pad / width, 1 - (y_top + h) / H + pad / H, w - 2 * pad / width, (h - 2 * pad) / H]

    for p in all_panels:
        gp = p["gridPos"]
        if p["type"] == "row":
            fig.text(gp["x"] / 24 + 0.005, 1 - (top + gp["y"] * unit_h + 0.22) / H, p["title"],
                     color=FG, fontsize=10, weight="bold", va="center")
            continue
        frame = fig.add_axes(box(gp), facecolor=PANEL)
        frame.set_xticks([])
        frame.set_yticks([])
        for s in frame.spines.values():
            s.set_color("#2c3235")
        frame.text(0.01, 1 - 0.18 / (gp["h"] * unit_h), p["title"], color=FG, fontsize=8,
                   weight="bold", va="center", transform=frame.transAxes)
        b = box(gp)
        inner_top = 0.32 / H
        left = 0.0
        right = 0.0
        if p["type"] == "bargauge":
            left = b[2] * 0.30
        if p["type"] in ("timeseries",):
            left, right = b[2] * 0.07, b[2] * 0.22
        if p["type"] == "piechart":
            right = b[2] * 0.55
        ax = fig.add_axes([b[0] + left + 0.004, b[1] + 0.12 / H, b[2] - left - right - 0.008,
                           b[3] - inner_top - 0.12 / H], facecolor=PANEL)
        if p["type"] == "text":
            draw_text(ax, p)
            continue
        result = next(x for x in dash_result["panels"] if x["title"] == p["title"])
        DRAW[p["type"]](ax, result, specs[p["title"]], now)
    fig.savefig(out, dpi=72, facecolor=BG)
    plt.close(fig)


def main():
    results, dash_dir, out_dir = (pathlib.Path(a) for a in sys.argv[1:4])
    data = json.loads(results.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    for d in data["dashboards"]:
        spec = json.loads((dash_dir / d["file"]).read_text())
        out = out_dir / d["file"].replace(".json", ".png")
        render(d, spec, out, data["generated_at"], data["periods"])
        print(out)


if __name__ == "__main__":
    main()
