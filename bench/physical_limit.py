#!/usr/bin/env python3
"""The physical limit of a Parquet export's read: what the exporter cannot avoid fetching.

For each manifest-listed Parquet file: its footer (length + 8 bytes), plus, for every row group
whose statistics do not rule Bedrock out, the compressed size of the column chunks the exporter
reads (the names in src/cur/columns.rs, map columns with all their leaves). A row group is ruled
out when the min..max range of `line_item_product_code` holds none of the Bedrock product codes
and the range of `bill_billing_entity` does not hold "AWS Marketplace" (the Marketplace rows of
Bedrock models have their own product codes). Everything is read from the footers with DuckDB's
parquet_metadata, independently of the exporter's code.

usage: physical_limit.py EXPORT_ROOT [--periods N|all]
Prints JSON: {"limit_bytes", "object_bytes", "row_groups", "row_groups_to_read", "columns"}.
"""
import argparse
import json
import os
import re
import sys

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
from duckdb_sums import manifest_files  # noqa: E402

BEDROCK_CODES = ["AmazonBedrock", "AmazonBedrockService", "AmazonBedrockFoundationModels"]
MARKETPLACE = "AWS Marketplace"


def exporter_columns():
    """The column names the exporter reads, from its one definition (src/cur/columns.rs)."""
    text = open(os.path.join(HERE, "..", "src", "cur", "columns.rs")).read()
    return set(re.findall(r'pub const \w+: &str = "([a-z_]+)";', text))


def in_range(values, lo, hi):
    if lo is None or hi is None:  # no statistics: cannot rule anything out
        return True
    return any(lo <= v <= hi for v in values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--periods", default="2")
    args = ap.parse_args()
    _, files = manifest_files(args.root, args.periods)
    wanted = exporter_columns()
    con = duckdb.connect()
    limit = objects = groups = to_read = 0
    for f in files:
        size = os.path.getsize(f)
        objects += size
        with open(f, "rb") as fh:
            fh.seek(size - 8)
            footer = int.from_bytes(fh.read(4), "little") + 8
        limit += footer
        rows = con.execute(
            "SELECT row_group_id, path_in_schema, total_compressed_size, stats_min_value, stats_max_value "
            "FROM parquet_metadata(?)", [f]).fetchall()
        by_group = {}
        for rg, path, compressed, lo, hi in rows:
            by_group.setdefault(rg, []).append((path.split(",")[0].strip(), compressed, lo, hi))
        for chunks in by_group.values():
            groups += 1
            stats = {c: (lo, hi) for c, _, lo, hi in chunks}
            code = stats.get("line_item_product_code", (None, None))
            entity = stats.get("bill_billing_entity", (None, None))
            if not (in_range(BEDROCK_CODES, *code) or in_range([MARKETPLACE], *entity)):
                continue
            to_read += 1
            limit += sum(size for c, size, _, _ in chunks if c in wanted)
    print(json.dumps({"limit_bytes": limit, "object_bytes": objects, "row_groups": groups,
                      "row_groups_to_read": to_read, "columns": sorted(wanted)}))


if __name__ == "__main__":
    main()
