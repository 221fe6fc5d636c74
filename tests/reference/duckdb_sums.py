#!/usr/bin/env python3
"""Independent reference for bedrock-cost-exporter's numbers: DuckDB SQL over the same export.

Reads the export's manifests itself (newest execution per billing period, newest N periods), reads
exactly the data files they list with DuckDB, applies the Bedrock filter and the label rules in SQL,
and prints JSON sums: total cost/net/tokens, and cost by each label (principal, model, region,
direction, billing_period, line_item_type, account_id, payer_account_id, every tag_* label), net cost by period, tokens
by model; for budgets, cost by billing period and label value, and by UTC usage day
(line_item_usage_start_date) overall and per tag value. Shares no code with the exporter: a bug in
one is caught by the other.

usage: duckdb_sums.py EXPORT_ROOT [--periods N|all] [--fold-sessions] [--bare]
"""
import argparse
import glob
import json
import os
import re
import sys

import duckdb

# Region billing codes (AWS "Region billing codes" page; see shared/reference/cur2-bedrock.md §5).
BILLING_CODES = {
    "USE1": "us-east-1", "USE2": "us-east-2", "USW1": "us-west-1", "USW2": "us-west-2",
    "CAN1": "ca-central-1", "CAN2": "ca-west-1", "MXC1": "mx-central-1", "AFS1": "af-south-1",
    "CPT": "af-south-1", "APE1": "ap-east-1", "APE2": "ap-east-2", "APN1": "ap-northeast-1",
    "APN2": "ap-northeast-2", "APN3": "ap-northeast-3", "APS1": "ap-southeast-1",
    "APS2": "ap-southeast-2", "APS3": "ap-south-1", "APS4": "ap-southeast-3", "APS5": "ap-south-2",
    "APS6": "ap-southeast-4", "APS7": "ap-southeast-5", "APS8": "ap-southeast-6",
    "APS9": "ap-southeast-7", "EU": "eu-west-1", "EUW1": "eu-west-1", "EUC1": "eu-central-1",
    "EUC2": "eu-central-2", "EUN1": "eu-north-1", "EUS1": "eu-south-1", "EUS2": "eu-south-2",
    "EUW2": "eu-west-2", "EUW3": "eu-west-3", "MEC1": "me-central-1", "MES1": "me-south-1",
    "ILC1": "il-central-1", "SAE1": "sa-east-1", "UGW1": "us-gov-west-1", "UGE1": "us-gov-east-1",
    "CNN1": "cn-north-1", "CNW1": "cn-northwest-1",
}


def manifest_files(root, periods, with_written=False):
    """Data files of the newest manifest of each selected period, as paths; and when each period's
    manifest was written (ms since the epoch)."""
    best = {}
    for path in glob.glob(os.path.join(root, "metadata", "BILLING_PERIOD=*", "**", "*Manifest.json"), recursive=True):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        m = re.search(r"BILLING_PERIOD=(\d{4}-\d{2})/(?:([^/]+)/)?[^/]*Manifest\.json$", rel)
        if not m:
            continue
        period, folder = m.group(1), m.group(2) or ""
        rank = (folder, os.stat(path).st_mtime_ns, rel)
        if period not in best or rank > best[period][0]:
            best[period] = (rank, path)
    chosen = sorted(best)
    if periods != "all":
        chosen = chosen[-int(periods):]
    files = []
    written = {}
    for p in chosen:
        written[p] = os.stat(best[p][1]).st_mtime_ns // 1_000_000
        with open(best[p][1]) as f:
            manifest = json.load(f)
        for uri in manifest["dataFiles"]:
            i = uri.rfind("data/BILLING_PERIOD=")
            files.append(os.path.join(root, uri[i:]))
    return (chosen, files, written) if with_written else (chosen, files)


def bare_files(root, periods):
    """Every data file under root (no manifest: what a bare read takes), its period from the
    BILLING_PERIOD=YYYY-MM folder, and per period the newest file's time (ms since the epoch)."""
    by = {}
    for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if rel.startswith("metadata/") or not re.search(r"\.(parquet|csv\.gz|csv)$", path):
            continue
        m = re.search(r"BILLING_PERIOD=(\d{4}-\d{2})/", path.replace(os.sep, "/"))
        if m:
            by.setdefault(m.group(1), []).append(path)
    chosen = sorted(by)
    if periods != "all":
        chosen = chosen[-int(periods):]
    files = [f for p in chosen for f in sorted(by[p])]
    written = {p: max(os.stat(f).st_mtime_ns for f in by[p]) // 1_000_000 for p in chosen}
    return chosen, files, written


def snake(s):
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", s)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    return s


CLAUDE_FAMILIES = {"sonnet", "opus", "haiku", "instant"}
NOVA_FAMILIES = {"micro", "lite", "pro", "premier", "canvas", "reel", "sonic", "omni"}


def canonical(name):
    """One readable name per model (docs/src/metrics.md, "Model names"): Claude4.6Sonnet / Claude Sonnet 4.6 /
    claude-sonnet-4-6 -> Claude Sonnet 4.6; Claude3Haiku -> Claude 3 Haiku; Nova2.0Lite -> Nova 2 Lite;
    anything else unchanged."""
    if name is None:
        return None
    name = name.strip()
    words = [w.lower() for w in re.findall(r"[0-9]+(?:\.[0-9]+)*|[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)]
    merged = []
    for w in words:
        if merged and w.isdigit() and merged[-1].isdigit():
            merged[-1] += "." + w
        else:
            merged.append(w)
    if merged[:1] in (["amazon"], ["anthropic"]):
        merged = merged[1:]
    if not merged or merged[0] not in ("claude", "nova"):
        return name
    families = CLAUDE_FAMILIES if merged[0] == "claude" else NOVA_FAMILIES
    fams = [w for w in merged[1:] if w in families]
    nums = [w for w in merged[1:] if re.fullmatch(r"[0-9]+(\.[0-9]+)?", w)]
    if len(fams) != 1 or len(nums) > 1 or len(fams) + len(nums) != len(merged) - 1:
        return name
    family = fams[0].capitalize()
    version = None
    if nums:
        version = re.sub(r"\.0$", "", nums[0])
    if merged[0] == "claude":
        if version is None:
            return name
        return f"Claude {family} {version}" if int(version.split(".")[0]) >= 4 else f"Claude {version} {family}"
    return f"Nova {version} {family}" if version else f"Nova {family}"


def tag_label(key):
    if not key.startswith("iamPrincipal/"):
        return None
    name = snake(key[len("iamPrincipal/"):])
    return "tag_" + name if name else None


SQL = r"""
WITH raw AS (
  SELECT
    regexp_extract(filename, 'BILLING_PERIOD=(\d{4}-\d{2})', 1)            AS billing_period,
    coalesce(line_item_product_code, '')                                 AS product_code,
    coalesce(bill_billing_entity, '')                                    AS entity,
    coalesce(line_item_line_item_type, '')                               AS line_item_type,
    coalesce(line_item_usage_type, '')                                   AS ut,
    {principal}                                                          AS principal_raw,
    coalesce(line_item_usage_account_id, '')                             AS account_id,
    {payer}                                                              AS payer_account_id,
    coalesce(product_region_code, '')                                    AS product_region,
    coalesce(pricing_unit, '')                                           AS pricing_unit,
    {product_name}                                                       AS product_name,
    CAST(line_item_unblended_cost AS DOUBLE)                             AS cost,
    coalesce(CAST({net} AS DOUBLE), CAST(line_item_unblended_cost AS DOUBLE)) AS net,
    coalesce(CAST(line_item_usage_amount AS DOUBLE), 0)                  AS amount,
    {tags}                                                               AS tags,
    {usage_day}                                                          AS usage_day,
    {end_ms}                                                             AS end_ms
    {extra}
  FROM {reader}
),
bedrock AS (
  SELECT *,
    lower(ut) AS lut,
    (ut LIKE '%MP:%' OR (position('-' IN split_part(ut, '_', 1)) = 0
                         AND split_part(ut, '_', 1) IN (SELECT code FROM codes))) AS mp
  FROM raw
  WHERE product_code IN ('AmazonBedrock', 'AmazonBedrockService', 'AmazonBedrockFoundationModels')
     OR (entity = 'AWS Marketplace' AND rtrim(coalesce(product_name, '')) LIKE '%(Amazon Bedrock Edition)')
),
labelled AS (
  SELECT bedrock.*,
    CASE WHEN trim(coalesce(principal_raw, '')) = '' THEN 'unattributed' ELSE trim(principal_raw) END AS principal,
    CASE
      WHEN position('token' IN lut) = 0 THEN 'other'
      WHEN regexp_matches(lut, 'cacheread|cache-read|cache_read') THEN 'cache_read'
      WHEN regexp_matches(lut, 'cachewrite|cache-write|cache_write') THEN 'cache_write'
      WHEN position('input' IN lut) > 0 AND (position('output' IN lut) = 0 OR position('input' IN lut) < position('output' IN lut)) THEN 'input'
      WHEN position('output' IN lut) > 0 THEN 'output'
      ELSE 'other'
    END AS direction,
    (codes.code_region IS NOT NULL OR bare.code_region IS NOT NULL) AS region_known,
    coalesce(
      codes.code_region,
      bare.code_region,
      CASE WHEN regexp_matches(product_region, '^[a-z]+(-[a-z]+)+-[0-9]+$') THEN product_region END,
      'unknown') AS region,
    CASE
      WHEN mp OR ut = '' THEN coalesce(nullif(trim(regexp_extract(rtrim(coalesce(product_name, '')), '^(.*)\(Amazon Bedrock Edition\)$', 1)), ''), 'unknown')
      WHEN regexp_matches(ut, '^[A-Z0-9]+-(Guardrail|DataAutomation)-') THEN regexp_extract(ut, '^[A-Z0-9]+-(Guardrail|DataAutomation)-', 1)
      ELSE coalesce(nullif(regexp_replace(regexp_replace(
             split_part(CASE WHEN codes.code_region IS NULL THEN ut ELSE substr(ut, length(split_part(ut, '-', 1)) + 2) END, ':', 1),
             '-((?i:input|output|cache|tokens|token|mantle|provisionedthroughput|customization|rft|inference|t2i|batch|flex|priority|standard|custom|cross|global|long|latency|search|searchunits|units|unit|count|requests|request|queries|query|images|pages|documents|characters|seconds|minutes|[a-z]*consumed|[a-z]*processed|[a-z]*hours)|text|image|video|audio|speech|nova|embedding|embeddings)(-.*)?$', ''),
             '^[a-z]+\.([^.])', '\1'), ''), 'unknown')
    END AS model_as_billed
  FROM bedrock
  LEFT JOIN codes ON codes.code = split_part(bedrock.ut, '-', 1)
  LEFT JOIN codes AS bare ON bedrock.mp AND codes.code IS NULL AND bare.code = split_part(bedrock.ut, '_', 1)
),
final AS (
  SELECT labelled.*,
    coalesce(model_names.canonical, model_as_billed) AS model,
    CASE
      WHEN direction = 'other' THEN NULL
      WHEN lower(trim(pricing_unit)) = '1k tokens' THEN amount * 1e3
      WHEN lower(trim(pricing_unit)) = '1m tokens' THEN amount * 1e6
      WHEN lower(trim(pricing_unit)) IN ('tokens', 'token') THEN amount
      WHEN lower(trim(pricing_unit)) IN ('units', 'unit') AND mp THEN amount * 1e6
    END AS tokens
  FROM labelled
  LEFT JOIN model_names ON model_names.billed = labelled.model_as_billed
)
"""


def prepare(files, fold_sessions=False, extra=None):
    """A DuckDB connection and the labelled query over `files` (the CTEs `raw` … `final`, to which
    a SELECT is appended), with the model-name table filled. `extra(cols, parquet)`, when given,
    returns more `raw` columns (`, expr AS name` …) from the files' columns."""
    con = duckdb.connect()
    # Canonical model names: computed here in Python for each distinct name (no UDF: that needs numpy).
    con.execute("CREATE TABLE model_names(billed VARCHAR, canonical VARCHAR)")
    con.execute("CREATE TABLE codes(code VARCHAR, code_region VARCHAR)")
    con.executemany("INSERT INTO codes VALUES (?, ?)", list(BILLING_CODES.items()))
    flist = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    parquet = files[0].endswith(".parquet")
    if parquet:
        reader = f"read_parquet({flist}, filename=true, union_by_name=true)"
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
        tags = "tags" if "tags" in cols else "MAP {}::MAP(VARCHAR, VARCHAR)"
        product_name = "product['product_name']" if "product" in cols else "NULL"
    else:
        reader = f"read_csv({flist}, filename=true, header=true, all_varchar=true, union_by_name=true)"
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
        tags = ("json_transform(coalesce(nullif(tags, ''), '{}'), '\"MAP(VARCHAR, VARCHAR)\"')"
                if "tags" in cols else "MAP {}::MAP(VARCHAR, VARCHAR)")
        product_name = ("json_extract_string(nullif(product, ''), '$.product_name')" if "product" in cols else "NULL")
    if "line_item_usage_end_date" not in cols:
        end_ms = "NULL::BIGINT"
    elif parquet:
        end_ms = "epoch_ms(line_item_usage_end_date)"
    else:
        end_ms = "epoch_ms(CAST(nullif(trim(line_item_usage_end_date), '') AS TIMESTAMPTZ))"
    principal = "line_item_iam_principal" if "line_item_iam_principal" in cols else "NULL"
    if principal != "NULL" and fold_sessions:
        principal = r"regexp_replace(line_item_iam_principal, '^(arn:[^:]+:sts::[0-9]+:assumed-role/[^/]+/).+$', '\1*')"
    payer = "trim(coalesce(bill_payer_account_id, ''))" if "bill_payer_account_id" in cols else "''"
    net = "line_item_net_unblended_cost" if "line_item_net_unblended_cost" in cols else "NULL"
    usage_day = ("substr(CAST(line_item_usage_start_date AS VARCHAR), 1, 10)"
                 if "line_item_usage_start_date" in cols else "NULL")
    base = SQL
    for name, value in [("reader", reader), ("tags", tags), ("product_name", product_name), ("principal", principal), ("payer", payer), ("net", net), ("usage_day", usage_day), ("end_ms", end_ms), ("extra", extra(cols, parquet) if extra else "")]:
        base = base.replace("{" + name + "}", value)

    billed = [r[0] for r in con.execute(base + "SELECT DISTINCT model_as_billed FROM labelled").fetchall()]
    con.executemany("INSERT INTO model_names VALUES (?, ?)", [(b, canonical(b)) for b in billed])
    return con, base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--periods", default="2")
    ap.add_argument("--fold-sessions", action="store_true")
    ap.add_argument("--bare", action="store_true",
                    help="no manifest: every data file under root counts, by its BILLING_PERIOD= folder")
    args = ap.parse_args()
    if args.bare:
        periods, files, written_ms = bare_files(args.root, args.periods)
    else:
        periods, files, written_ms = manifest_files(args.root, args.periods, with_written=True)
    if not files:
        print(json.dumps({"periods": periods, "files": []}))
        return
    con, base = prepare(files, args.fold_sessions)

    def q(sql):
        return con.execute(base + sql).fetchall()

    total = q("SELECT sum(cost), sum(net), sum(tokens), count(*) FROM final")[0]
    out = {
        "periods": periods,
        "files": [os.path.relpath(f, args.root) for f in files],
        "rows": total[3],
        "total": {"cost": total[0], "net": total[1], "tokens": total[2]},
        "cost_by": {},
        "net_by_period": dict(q("SELECT billing_period, sum(net) FROM final GROUP BY 1")),
        "tokens_by_model": {k: v for k, v in q("SELECT model, sum(tokens) FROM final GROUP BY 1") if v is not None},
    }
    # Freshness: newest usage end of Bedrock usage line items, never after the manifest was written.
    out["newest_usage_end_ms"] = {}
    for period, end in q("SELECT billing_period, max(end_ms) FROM final WHERE line_item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') GROUP BY 1"):
        if end is not None:
            out["newest_usage_end_ms"][period] = min(int(end), written_ms[period])
    # Unknown usage types: no known region prefix, or neither a token count nor a known kind of
    # non-token spend (docs/src/metrics.md, "Unknown usage types"); tax lines and empty usage types aside.
    out["unknown_usage_types"] = {}
    unknown_sql = r"""
      SELECT billing_period, ut, count(*) FROM final
      WHERE ut <> '' AND line_item_type <> 'Tax' AND NOT (
        region_known AND (
          direction <> 'other'
          OR regexp_matches(lut, 'provisionedthroughput|modelunits|(^|[-_:])reserved([-_:]|$)')
          OR regexp_matches(lut, 'knowledge-base|runtime:|guardrail|dataautomation|customization|training|t2i|image|searchunits|search-units|search_units|grounding|custommodelimport')))
      GROUP BY 1, 2"""
    for period, ut, n in q(unknown_sql):
        out["unknown_usage_types"].setdefault(period, {})[ut] = n
    for label in ["principal", "model", "region", "direction", "billing_period", "line_item_type", "account_id", "payer_account_id"]:
        out["cost_by"][label] = dict(q(f"SELECT {label}, sum(cost) FROM final GROUP BY 1"))
    # Tags: every iamPrincipal/ key → tag_<snake_case>; a row with two keys of one label keeps the
    # first key in sort order.
    rows = q("SELECT k, v, sum(cost) FROM (SELECT cost, unnest(map_keys(tags)) AS k, unnest(map_values(tags)) AS v FROM final) GROUP BY 1, 2")
    for key, value, cost in rows:
        label = tag_label(key)
        if label is None or value is None or value == "":
            continue
        by = out["cost_by"].setdefault(label, {})
        by[value] = by.get(value, 0.0) + cost
    # Budgets: cost by billing period and label value; by usage day, overall and per tag value.
    out["cost_by_period"] = {}
    for label in ["principal", "model", "line_item_type", "account_id", "payer_account_id"]:
        by = out["cost_by_period"].setdefault(label, {})
        for period, value, cost in q(f"SELECT billing_period, {label}, sum(cost) FROM final GROUP BY 1, 2"):
            by.setdefault(period, {})[value] = cost
    out["cost_by_day"] = dict(q("SELECT usage_day, sum(cost) FROM final GROUP BY 1"))
    out["tag_cost_by_day"] = {}
    rows = q("SELECT billing_period, usage_day, k, v, sum(cost) FROM (SELECT billing_period, usage_day, cost, unnest(map_keys(tags)) AS k, unnest(map_values(tags)) AS v FROM final) GROUP BY 1, 2, 3, 4")
    for period, day, key, value, cost in rows:
        label = tag_label(key)
        if label is None or value is None or value == "":
            continue
        for table, key2 in [("cost_by_period", period), ("tag_cost_by_day", day)]:
            by = out[table].setdefault(label, {}).setdefault(key2, {})
            by[value] = by.get(value, 0.0) + cost
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
