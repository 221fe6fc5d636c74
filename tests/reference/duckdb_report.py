#!/usr/bin/env python3
"""Independent reference for `bedrock-cost-exporter report`: its columns, computed with DuckDB SQL
over the same export and plain Python. Shares no code with the exporter.

The newest manifest of the reported period and of the one before (same rule as duckdb_sums.py,
whose Bedrock filter and label rules in SQL it reuses) lists the files; DuckDB reads them, keeps
the Bedrock line items and labels them; this script then groups the line items by the --by labels
(a tag label absent from a line item is ""; a principal-less line item is "unattributed") or by
budget (a line item counts under every budget of its currency whose selector matches it, else
"__none__"), per currency, with math.fsum, and derives every column of docs/src/report.md: cost,
net_cost, share, input/output tokens, cost_per_million_tokens, previous_cost, change, change_ratio,
public_on_demand_cost, discount, cache_read_share, account_name; and whether the period is
invoiced (every Bedrock line item has a bill_invoice_id).

usage: duckdb_report.py EXPORT_ROOT --period YYYY-MM --by LABEL[,LABEL] [--budgets JSON]
  --budgets: a JSON list of {"name", "selector", "cost": "unblended"|"net", "currency"}; selectors
  are PromQL matchers ({tag_team="ml", principal=~".*alice"}) over the labels below.
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duckdb_sums import manifest_files, prepare, tag_label  # noqa: E402

# The labels this reference computes (duckdb_sums.py's `final`), plus the tag labels.
FIXED = ["payer_account_id", "account_id", "principal", "model", "region", "direction", "line_item_type"]


def previous(period):
    y, m = int(period[:4]), int(period[5:])
    return f"{y - 1}-12" if m == 1 else f"{y}-{m - 1:02d}"


def extra(cols, parquet):
    """The columns only the report reads, NULL where the export lacks them."""
    def num(c):
        if c not in cols:
            return "NULL::DOUBLE"
        return f"CAST({c} AS DOUBLE)" if parquet else f"CAST(nullif(trim({c}), '') AS DOUBLE)"

    def text(c):
        return f"CAST({c} AS VARCHAR)" if c in cols else "NULL::VARCHAR"
    currency = text("line_item_currency_code")
    return (f", {num('pricing_public_on_demand_cost')} AS public_cost"
            f", nullif(trim({text('bill_invoice_id')}), '') AS invoice_id"
            f", coalesce({text('line_item_usage_account_name')}, '') AS account_name"
            f", coalesce(nullif({currency}, ''), 'USD') AS currency"
            f", {'true' if 'pricing_public_on_demand_cost' in cols else 'false'} AS public_column")


MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_selector(text):
    text = text.strip()
    if text in ("", "{}"):
        return []
    assert text.startswith("{") and text.endswith("}"), text
    body, out = text[1:-1], []
    while body.strip():
        m = MATCHER.match(body)
        assert m, f"cannot parse selector {text!r}"
        out.append((m.group(1), m.group(2), json.loads('"' + m.group(3) + '"')))
        body = body[m.end():]
    return out


def matches(selector, labels):
    for name, op, value in selector:
        v = labels.get(name, "")
        if op == "=" and v != value:
            return False
        if op == "!=" and v == value:
            return False
        if op == "=~" and not re.fullmatch(value, v):
            return False
        if op == "!~" and re.fullmatch(value, v):
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--period", required=True)
    ap.add_argument("--by", required=True)
    ap.add_argument("--budgets", default="[]")
    args = ap.parse_args()
    by = args.by.split(",")
    budgets = json.loads(args.budgets)
    for b in budgets:
        b["matchers"] = parse_selector(b.get("selector", ""))
    period, prev = args.period, previous(args.period)
    _, files = manifest_files(args.root, "all")
    files = [f for f in files if re.search(rf"BILLING_PERIOD=({period}|{prev})/", f.replace(os.sep, "/"))]
    con, base = prepare(files, extra=extra)
    rows = con.execute(base + """
        SELECT billing_period, currency, cost, net, tokens, direction, public_cost, public_column,
               invoice_id, account_name, tags, """ + ", ".join(FIXED) + " FROM final").fetchall()

    groups = {}   # (currency, key) -> {field: [values]}
    totals = {}
    names = {period: {}, prev: {}}
    line_items = invoiced = 0
    public_known = True
    overlap = set()
    for r in rows:
        (bp, currency, cost, net, tokens, direction, public, public_column, invoice, account_name, tags) = r[:11]
        labels = dict(zip(FIXED, r[11:]))
        # Tag labels: the first key (in sort order) of each label name, non-empty values only.
        for key in sorted((tags or {}).keys()):
            name, value = tag_label(key), tags[key]
            if name and value not in (None, "") and name not in labels:
                labels[name] = value
        current = bp == period
        if current:
            line_items += 1
            invoiced += invoice is not None
            public_known = public_known and bool(public_column)
        if account_name:
            per = names[bp].setdefault(labels["account_id"], {})
            per[account_name] = per.get(account_name, 0) + 1
        if "budget" in by:
            hit = [b["name"] for b in budgets if b.get("currency", "USD") == currency and matches(b["matchers"], labels)]
            if len(hit) > 1 and current:
                overlap.add(currency)
            budget_names = hit or ["__none__"]
        else:
            budget_names = [None]
        keys = []
        for bn in budget_names:
            keys.append(json.dumps([bn if l == "budget" else labels.get(l, "") for l in by], separators=(",", ":")))
        for acc in [totals.setdefault(currency, {})] + [groups.setdefault((currency, k), {}) for k in keys]:
            def add(field, x):
                acc.setdefault(field, []).append(x)
            if not current:
                add("previous_cost", cost)
                continue
            add("cost", cost)
            add("net_cost", net)
            add("public", public or 0.0)
            if tokens is not None:
                add("tokens", tokens)
                add("token_cost", cost)
                add(direction, tokens)

    # A manifest of the previous period was read (its groups may still have no Bedrock line item).
    have_previous = any(f"BILLING_PERIOD={prev}/" in f.replace(os.sep, "/") for f in files)

    def figures(acc, total):
        s = {k: math.fsum(v) for k, v in acc.items()}
        cost, net = s.get("cost", 0.0), s.get("net_cost", 0.0)
        tokens = s.get("tokens", 0.0)
        prev_cost = s.get("previous_cost", 0.0) if have_previous else None
        change = None if prev_cost is None else cost - prev_cost
        public = s.get("public", 0.0) if public_known else None
        cache = s.get("input", 0.0) + s.get("cache_read", 0.0) + s.get("cache_write", 0.0)
        return {
            "cost": cost,
            "net_cost": net,
            "share": cost / total if total else None,
            "input_tokens": s.get("input", 0.0),
            "output_tokens": s.get("output", 0.0),
            "cost_per_million_tokens": s.get("token_cost", 0.0) / tokens * 1e6 if tokens else None,
            "previous_cost": prev_cost,
            "change": change,
            "change_ratio": change / prev_cost if prev_cost else None,
            "public_on_demand_cost": public,
            "discount": None if public is None else public - net,
            "cache_read_share": s.get("cache_read", 0.0) / cache if cache else None,
        }

    def account_name(account):
        for p in (period, prev):
            per = names[p].get(account)
            if per:
                return sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        return ""

    out = {
        "period": period,
        "previous_period": prev,
        "files": [os.path.relpath(f, args.root) for f in files],
        "invoice": {
            "bedrock_line_items": line_items,
            "invoiced_line_items": invoiced,
            "status": "unknown" if line_items == 0 else ("invoiced" if invoiced == line_items else "open"),
        },
        "currencies": {},
    }
    for currency, acc in sorted(totals.items()):
        total = math.fsum(acc.get("cost", []))
        cur = {"total": figures(acc, total), "groups": {}, "overlap": currency in overlap}
        for (c, key), g in groups.items():
            if c != currency:
                continue
            f = figures(g, total)
            values = json.loads(key)
            if "account_id" in by:
                f["account_name"] = account_name(values[by.index("account_id")])
            cur["groups"][key] = f
        out["currencies"][currency] = cur
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
