#!/usr/bin/env python3
"""Independent reference for bedrock-cost-exporter's numbers: DuckDB SQL over the same export.

Reads the export's manifests itself (newest execution per billing period, newest N periods), reads
exactly the data files they list with DuckDB, applies the Bedrock filter and the label rules in SQL,
and prints JSON sums: total cost/net/tokens, and cost by each label (principal, model, region,
direction, billing_period, line_item_type, account_id, every tag_* label), net cost by period, tokens
by model; for budgets, cost by billing period and label value, and by UTC usage day
(line_item_usage_start_date) overall and per tag value. Shares no code with the exporter: a bug in
one is caught by the other.

usage: duckdb_sums.py EXPORT_ROOT [--periods N|all] [--fold-sessions]
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


def manifest_files(root, periods):
    """Data files of the newest manifest of each selected period, as paths."""
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
    for p in chosen:
        with open(best[p][1]) as f:
            manifest = json.load(f)
        for uri in manifest["dataFiles"]:
            i = uri.rfind("data/BILLING_PERIOD=")
            files.append(os.path.join(root, uri[i:]))
    return chosen, files


def snake(s):
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", s)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    return s


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
    coalesce(product_region_code, '')                                    AS product_region,
    coalesce(pricing_unit, '')                                           AS pricing_unit,
    {product_name}                                                       AS product_name,
    CAST(line_item_unblended_cost AS DOUBLE)                             AS cost,
    coalesce(CAST({net} AS DOUBLE), CAST(line_item_unblended_cost AS DOUBLE)) AS net,
    coalesce(CAST(line_item_usage_amount AS DOUBLE), 0)                  AS amount,
    {tags}                                                               AS tags,
    {usage_day}                                                          AS usage_day
  FROM {reader}
),
bedrock AS (
  SELECT *,
    lower(ut) AS lut,
    (ut LIKE '%MP:%' OR regexp_matches(ut, '^[A-Z]+[0-9]*_.*-Units$')) AS mp
  FROM raw
  WHERE product_code IN ('AmazonBedrock', 'AmazonBedrockService', 'AmazonBedrockFoundationModels')
     OR (entity = 'AWS Marketplace' AND rtrim(coalesce(product_name, '')) LIKE '%(Amazon Bedrock Edition)')
),
labelled AS (
  SELECT bedrock.*,
    CASE WHEN trim(coalesce(principal_raw, '')) = '' THEN 'unattributed' ELSE trim(principal_raw) END AS principal,
    CASE
      WHEN regexp_matches(lut, 'cacheread|cache-read|cache_read') THEN 'cache_read'
      WHEN regexp_matches(lut, 'cachewrite|cache-write|cache_write') THEN 'cache_write'
      WHEN regexp_matches(lut, 'input-token|inputtoken|input_token') THEN 'input'
      WHEN regexp_matches(lut, 'output-token|outputtoken|output_token') THEN 'output'
      ELSE 'other'
    END AS direction,
    coalesce(
      codes.code_region,
      CASE WHEN regexp_matches(product_region, '^[a-z]+(-[a-z]+)+-[0-9]+$') THEN product_region END,
      'unknown') AS region,
    CASE
      WHEN mp OR ut = '' THEN coalesce(nullif(trim(regexp_extract(rtrim(coalesce(product_name, '')), '^(.*)\(Amazon Bedrock Edition\)$', 1)), ''), 'unknown')
      WHEN regexp_matches(ut, '^[A-Z0-9]+-(Guardrail|DataAutomation)-') THEN regexp_extract(ut, '^[A-Z0-9]+-(Guardrail|DataAutomation)-', 1)
      ELSE coalesce(nullif(regexp_replace(regexp_replace(
             split_part(CASE WHEN codes.code_region IS NULL THEN ut ELSE substr(ut, length(split_part(ut, '-', 1)) + 2) END, ':', 1),
             '-(input|output|cache|tokens|mantle|text|nova|ProvisionedThroughput|Customization|RFT|Inference|searchunits|T2I|batch|flex|priority|standard|[A-Za-z]*Consumed|[A-Za-z]*Processed|[A-Za-z]*Hours)(-.*)?$', ''),
             '^[a-z]+\.', ''), ''), 'unknown')
    END AS model
  FROM bedrock
  LEFT JOIN codes ON codes.code = split_part(bedrock.ut, '-', 1)
),
final AS (
  SELECT *,
    CASE
      WHEN direction = 'other' THEN NULL
      WHEN lower(trim(pricing_unit)) = '1k tokens' THEN amount * 1e3
      WHEN lower(trim(pricing_unit)) = '1m tokens' THEN amount * 1e6
      WHEN lower(trim(pricing_unit)) IN ('tokens', 'token') THEN amount
      WHEN lower(trim(pricing_unit)) IN ('units', 'unit') AND mp THEN amount * 1e6
    END AS tokens
  FROM labelled
)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--periods", default="2")
    ap.add_argument("--fold-sessions", action="store_true")
    args = ap.parse_args()
    periods, files = manifest_files(args.root, args.periods)
    if not files:
        print(json.dumps({"periods": periods, "files": []}))
        return
    con = duckdb.connect()
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
    principal = "line_item_iam_principal" if "line_item_iam_principal" in cols else "NULL"
    if principal != "NULL" and args.fold_sessions:
        principal = r"regexp_replace(line_item_iam_principal, '^(arn:[^:]+:sts::[0-9]+:assumed-role/[^/]+/).+$', '\1*')"
    net = "line_item_net_unblended_cost" if "line_item_net_unblended_cost" in cols else "NULL"
    usage_day = ("substr(CAST(line_item_usage_start_date AS VARCHAR), 1, 10)"
                 if "line_item_usage_start_date" in cols else "NULL")
    base = SQL
    for name, value in [("reader", reader), ("tags", tags), ("product_name", product_name), ("principal", principal), ("net", net), ("usage_day", usage_day)]:
        base = base.replace("{" + name + "}", value)

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
    for label in ["principal", "model", "region", "direction", "billing_period", "line_item_type", "account_id"]:
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
    for label in ["principal", "model", "line_item_type", "account_id"]:
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
