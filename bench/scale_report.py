#!/usr/bin/env python3
"""Report of bench/scale.sh: medians per set, the targets, a Markdown table and a plot.

usage: scale_report.py RAW.jsonl RESULTS_DIR BENCH_DIR key=value...
Writes RESULTS_DIR/scale.json and scale.md, BENCH_DIR/scale.png, and the table into
BENCH_DIR/README.md between <!-- scale:begin --> and <!-- scale:end -->. Prints the Markdown.
"""
import json
import os
import re
import statistics
import sys

raw_path, out_dir, bench_dir = sys.argv[1:4]
meta = dict(a.split("=", 1) for a in sys.argv[4:])
lines = [json.loads(l) for l in open(raw_path) if l.strip()]
sets = [l for l in lines if l["kind"] == "dataset"]
s3 = {l["dataset"]: l for l in lines if l["kind"] == "s3"}


def med(name, tool, key):
    v = [l[key] for l in lines if l["kind"] == "batch" and l["dataset"] == name and l["tool"] == tool]
    return statistics.median(v) if v else None


def variant(s):
    return f'{"one file" if s["files"] == 1 else "~1M-row files"}, {s["share"] * 100:g} % Bedrock' + (
        ", ordered" if s["layout"] == "ordered" else "")


def human(n):
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k"


rows = []
for s in sets:
    n = s["dataset"]
    r = {k: s[k] for k in ("dataset", "rows", "files", "share", "layout", "bytes", "exporter_bytes_read")}
    r["variant"] = variant(s)
    for tool in ("exporter", "duckdb"):
        for key in ("wall_s", "cpu_s", "rss_kb", "other_cpu_s"):
            r[f"{tool}_{key}"] = med(n, tool, key)
    r["wall_ratio"] = r["exporter_wall_s"] / r["duckdb_wall_s"]
    r["rss_ratio"] = r["exporter_rss_kb"] / r["duckdb_rss_kb"]
    dq = s["duckdb"]
    r["cost_agrees"] = abs(s["exporter_cost"] - dq["cost"]) <= 1e-6 * max(1.0, abs(dq["cost"]))
    if n in s3:
        p = s3[n]["physical"]
        r["s3_fetched"] = s3[n]["fetched_bytes"]
        r["s3_limit"] = p["limit_bytes"]
        r["s3_ratio"] = s3[n]["fetched_bytes"] / p["limit_bytes"]
        r["s3_share_of_objects"] = s3[n]["fetched_bytes"] / p["object_bytes"]
        r["row_groups_to_read"] = f'{p["row_groups_to_read"]}/{p["row_groups"]}'
    rows.append(r)

# Targets.
checks = []
big1 = [r for r in rows if r["files"] == 1 and r["share"] == 0.01 and r["layout"] == "random"]
if big1:
    r = max(big1, key=lambda r: r["rows"])
    checks.append((f'{human(r["rows"])} rows, one file, 1 %: wall ≤ 0.5 × DuckDB',
                   f'{r["wall_ratio"]:.2f}', r["wall_ratio"] <= 0.5 and r["rows"] >= 25_000_000))
worst_rss = max(rows, key=lambda r: r["rss_ratio"])
checks.append(("every set: RSS ≤ 0.5 × DuckDB", f'worst {worst_rss["rss_ratio"]:.2f} ({worst_rss["dataset"]})',
               worst_rss["rss_ratio"] <= 0.5))
top_rss = max(rows, key=lambda r: r["exporter_rss_kb"])
checks.append(("every set: RSS < 200 MB", f'max {top_rss["exporter_rss_kb"] / 1024:.0f} MB ({top_rss["dataset"]})',
               top_rss["exporter_rss_kb"] < 200 * 1024))
growth = []
for v in sorted({r["variant"] for r in rows}):
    pts = sorted((r["rows"], r["exporter_wall_s"]) for r in rows if r["variant"] == v)
    for (n1, w1), (n2, w2) in zip(pts, pts[1:]):
        growth.append(((w2 / w1) / (n2 / n1), v, n1, n2))
if growth:
    g = max(growth)
    checks.append(("wall grows no worse than linearly in rows",
                   f'worst step {human(g[2])}→{human(g[3])} ({g[1]}): {g[0]:.2f} × linear', g[0] <= 1.1))
s3rows = [r for r in rows if "s3_ratio" in r]
if s3rows:
    w = max(s3rows, key=lambda r: r["s3_ratio"])
    checks.append(("S3 bytes fetched ≤ 1.1 × physical limit", f'worst {w["s3_ratio"]:.3f} ({w["dataset"]})',
                   w["s3_ratio"] <= 1.1))
checks.append(("exporter and DuckDB agree on the total cost", "every set" if all(r["cost_agrees"] for r in rows)
               else "NO", all(r["cost_agrees"] for r in rows)))

md = []
md.append(f'Scaling curve: commit `{meta.get("commit")}`, {meta.get("date")}, {meta.get("nproc")} cores '
          f'({meta.get("cpu")}), DuckDB {meta.get("duckdb")}, medians of {meta.get("runs")} alternating runs, '
          f'one billing period, 122,880-row row groups; {meta.get("elapsed_s")} s in all.')
md.append("")
md.append("| rows | layout | MB | exporter wall s | CPU s | RSS MB | DuckDB wall s | CPU s | RSS MB | wall ratio | RSS ratio | other CPU s |")
md.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: (r["variant"], r["rows"])):
    md.append(f'| {human(r["rows"])} | {r["variant"]} | {r["bytes"] / 1e6:.0f} | {r["exporter_wall_s"]:.2f} | '
              f'{r["exporter_cpu_s"]:.2f} | {r["exporter_rss_kb"] / 1024:.0f} | {r["duckdb_wall_s"]:.2f} | '
              f'{r["duckdb_cpu_s"]:.2f} | {r["duckdb_rss_kb"] / 1024:.0f} | {r["wall_ratio"]:.2f} | '
              f'{r["rss_ratio"]:.2f} | {max(r["exporter_other_cpu_s"], r["duckdb_other_cpu_s"]):.1f} |')
if s3rows:
    md.append("")
    md.append("Through S3 (moto on loopback): bytes fetched against the physical limit (footers plus the "
              "read columns' chunks of the row groups whose statistics do not rule Bedrock out, "
              "`bench/physical_limit.py`).")
    md.append("")
    md.append("| set | row groups to read | limit MB | fetched MB | fetched / limit | fetched / object bytes |")
    md.append("|---|---|---|---|---|---|")
    for r in s3rows:
        md.append(f'| {human(r["rows"])}, {r["variant"]} | {r["row_groups_to_read"]} | {r["s3_limit"] / 1e6:.2f} | '
                  f'{r["s3_fetched"] / 1e6:.2f} | {r["s3_ratio"]:.3f} | {r["s3_share_of_objects"]:.3f} |')
md.append("")
md.append("| target | measured | met |")
md.append("|---|---|---|")
for name, measured, ok in checks:
    md.append(f"| {name} | {measured} | {'yes' if ok else 'NO'} |")
md.append("")
md.append("![scaling curve](scale.png)")
text = "\n".join(md) + "\n"

os.makedirs(out_dir, exist_ok=True)
json.dump({"meta": meta, "sets": rows, "targets": [list(c) for c in checks]},
          open(os.path.join(out_dir, "scale.json"), "w"), indent=1)
open(os.path.join(out_dir, "scale.md"), "w").write(text)
readme = os.path.join(bench_dir, "README.md")
body = open(readme).read()
block = "<!-- scale:begin -->\n" + text + "<!-- scale:end -->"
if "<!-- scale:begin -->" in body:
    body = re.sub(r"<!-- scale:begin -->.*?<!-- scale:end -->", lambda _: block, body, flags=re.S)
else:
    body += "\n## Scaling curve (bench/scale.sh)\n\n" + block + "\n"
open(readme, "w").write(body)

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.8))
for i, v in enumerate(sorted({r["variant"] for r in rows})):
    pts = sorted((r for r in rows if r["variant"] == v), key=lambda r: r["rows"])
    x = [r["rows"] / 1e6 for r in pts]
    color = f"C{i}"
    a1.plot(x, [r["exporter_wall_s"] for r in pts], "o-", color=color, label=f"exporter, {v}")
    a1.plot(x, [r["duckdb_wall_s"] for r in pts], "s--", color=color, alpha=0.6, label=f"DuckDB, {v}")
    a2.plot(x, [r["exporter_rss_kb"] / 1024 for r in pts], "o-", color=color)
    a2.plot(x, [r["duckdb_rss_kb"] / 1024 for r in pts], "s--", color=color, alpha=0.6)
for a, title, unit in ((a1, "wall time", "seconds"), (a2, "peak RSS", "MB")):
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("rows in the export (millions)")
    a.set_ylabel(unit)
    a.set_title(f"{title}: exporter (solid) vs DuckDB (dashed)")
    a.grid(True, which="both", alpha=0.3)
a1.legend(fontsize=7)
fig.suptitle(f'bedrock-cost-exporter {meta.get("commit")} vs DuckDB {meta.get("duckdb")}, '
             f'{meta.get("nproc")} cores, {meta.get("date")}', fontsize=9)
fig.tight_layout()
fig.savefig(os.path.join(bench_dir, "scale.png"), dpi=110)
print(text)
