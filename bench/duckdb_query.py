#!/usr/bin/env python3
"""DuckDB side of the benchmark: the exporter's aggregation as one SQL query over the same files.

Reads the export's manifests (newest execution per billing period, the 2 newest periods, as
tests/reference/duckdb_sums.py and the exporter do), reads exactly the manifest-listed data files,
keeps Bedrock rows, groups by billing period, principal, usage type, region, line item type, the
iamPrincipal/ tags and the Marketplace product name, sums cost, net cost and usage, and fetches
the whole result. DuckDB runs with its default thread count (all cores).

usage: duckdb_query.py EXPORT_ROOT [--periods N|all] [--threads N]
Prints one line of JSON on stderr: {"groups": ..., "cost": ..., "files": ..., "threads": ...}.
"""
import argparse
import json
import os
import sys

import duckdb


# The manifest rule lives once, in the test reference.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from duckdb_sums import manifest_files  # noqa: E402


SQL = r"""
SELECT
  regexp_extract(filename, 'BILLING_PERIOD=(\d{4}-\d{2})', 1)            AS billing_period,
  coalesce(line_item_iam_principal, '')                                AS principal,
  coalesce(line_item_usage_type, '')                                   AS usage_type,
  coalesce(product_region_code, '')                                    AS region,
  coalesce(line_item_line_item_type, '')                               AS line_item_type,
  coalesce(list_sort(list_filter(map_entries({tags}), lambda e: starts_with(e.key, 'iamPrincipal/'))), [])
                                                                       AS principal_tags,
  coalesce({product_name}, '')                                         AS product_name,
  sum(CAST(line_item_unblended_cost AS DOUBLE))                        AS cost,
  sum(coalesce(CAST(line_item_net_unblended_cost AS DOUBLE),
               CAST(line_item_unblended_cost AS DOUBLE)))              AS net,
  sum(CAST(line_item_usage_amount AS DOUBLE))                          AS usage
FROM {reader}
WHERE line_item_product_code IN ('AmazonBedrock', 'AmazonBedrockService', 'AmazonBedrockFoundationModels')
   OR (bill_billing_entity = 'AWS Marketplace' AND {product_name} LIKE '%(Amazon Bedrock Edition)')
GROUP BY ALL
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--periods", default="2")
    ap.add_argument("--threads", type=int, default=0, help="0 = DuckDB's default (all cores)")
    args = ap.parse_args()
    _, files = manifest_files(args.root, args.periods)
    if not files:
        sys.exit(f"no manifest-listed data files under {args.root}")
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    flist = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if files[0].endswith(".parquet"):
        reader = f"read_parquet({flist}, filename=true, union_by_name=true)"
        tags = "tags"
        product_name = "product['product_name']"
    else:
        reader = f"read_csv({flist}, filename=true, header=true, all_varchar=true, union_by_name=true)"
        tags = "json_transform(coalesce(nullif(tags, ''), '{}'), '\"MAP(VARCHAR, VARCHAR)\"')"
        product_name = "json_extract_string(nullif(product, ''), '$.product_name')"
    sql = SQL.replace("{reader}", reader).replace("{tags}", tags).replace("{product_name}", product_name)
    rows = con.execute(sql).fetchall()
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    cost = sum(r[7] or 0.0 for r in rows)
    print(json.dumps({"groups": len(rows), "cost": cost, "files": len(files), "threads": threads,
                      "duckdb": duckdb.__version__}), file=sys.stderr)


if __name__ == "__main__":
    main()
