#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from real strings: the usage
types, product names, manifests and configuration the project's sources, tests and reference use.
Run from the repository root; the output is committed (small: a few hundred KB at most)."""

import glob, gzip, hashlib, json, os, re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def read(*patterns):
    out = ""
    for p in patterns:
        for f in sorted(glob.glob(os.path.join(ROOT, p), recursive=True)):
            out += open(f, encoding="utf-8", errors="replace").read()
    return out


text = read("src/bedrock/*.rs", "tests/it/*.rs", "tools/cur-sample/src/*.rs") + read(
    "/work/shared/reference/*.md"
)
usage = sorted(set(re.findall(r'"((?:[A-Z]{2,4}[0-9]?|[A-Z]{3}[0-9])[-_][A-Za-z0-9.:_/-]+)"', text)))
usage += sorted(set(re.findall(r"`((?:[A-Z]{2,4}[0-9]?)-[A-Za-z0-9.:_/-]+)`", text)) - set(usage))
products = sorted(set(re.findall(r'"([A-Za-z0-9. ]+ \(Amazon Bedrock Edition\))"', text)))
products += ["Amazon Bedrock", "Amazon Bedrock Service", ""]
regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "global", ""]
for i, u in enumerate(usage):
    write("usage_type", u)
    write("usage_type", f"{u}\0{products[i % len(products)]}\0{regions[i % len(regions)]}")

# CSV: rows of the fuzz target's header (the header itself is not in the seed).
rows = []
for i, u in enumerate(usage[:40]):
    principal = [
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:sts::123456789012:assumed-role/BedrockRole/bob@example.com",
        "",
    ][i % 3]
    tags = json.dumps({"iamPrincipal/team": f"t{i % 4}", "iamPrincipal/cost-center": "cc, \"x\""})
    code = ["AmazonBedrock", "AmazonBedrockService", "AmazonEC2"][i % 3]
    entity = ["AWS", "AWS Marketplace"][i % 2]
    rows.append([code, entity, u, principal, f"{(i * 37 % 1000) / 64}", tags])


def csv_text(rs, crlf=False):
    def cell(c):
        return '"' + c.replace('"', '""') + '"' if any(x in c for x in ',"\r\n') else c

    end = "\r\n" if crlf else "\n"
    return end.join(",".join(cell(c) for c in r) for r in rs) + end


for k in range(0, 40, 8):
    write("csv_scanner", b"\0" + csv_text(rows[k : k + 8], crlf=k % 16 == 0).encode())
write("csv_scanner", b"\0" + csv_text([["AmazonBedrock", "AWS", "USE1-NovaLite-input-tokens", "multi\nline", "1.5", ""]]).encode())
write("csv_scanner", b"\x01" + gzip.compress(csv_text(rows[:4]).encode()))

for f in sorted(glob.glob(os.path.join(ROOT, "sample/export/metadata/**/*.json"), recursive=True)):
    write("manifest", open(f, "rb").read())
write("manifest", json.dumps({
    "executionId": "8a5f-1",
    "exportArn": "arn:aws:bcm-data-exports:us-east-1:123456789012:export/cur2-1",
    "dataFiles": [
        "s3://my-bucket/cur/cur2/data/BILLING_PERIOD=2026-11/cur2-00001.snappy.parquet",
        "s3://my-bucket/cur/cur2/data/BILLING_PERIOD=2026-11/20261101T000000Z-8a5f/cur2-00002.snappy.parquet",
    ],
}))
write("manifest", "metadata/BILLING_PERIOD=2026-11/20261102T101010Z-abc/cur2-Manifest.json")

write("config", read("config/bedrock-cost-exporter.toml"))
for snippet in [
    'periods = ["2026-10"]\nrefresh_interval = "90s"\n[tags]\nrename = { "iamPrincipal/cost-center" = "cc" }\n[models]\nrename = { "Claude Sonnet 4.6" = "sonnet" }\n',
    'source = "s3://billing/cur/cur2"\nlisten = "127.0.0.1:9747"\n[s3]\nendpoint = "http://127.0.0.1:9000"\npath_style = true\nmax_attempts = 3\nrequest_timeout = "10s"\n',
    '[[budgets]]\nname = "team-a"\nowner = "finops"\nselector = \'{tag_team="a"}\'\nmonthly = 1000.0\n[forecast]\nsettle_days = 2\n',
    '[otlp]\nenabled = true\nendpoint = "http://127.0.0.1:4318"\nprotocol = "http/protobuf"\nheaders = { "x-tenant" = "a" }\n',
    'periods = "all"\nmax_series = 10\nfold_sessions = true\nlog_format = "json"\nnow = "2026-11-15T12:00:00Z"\n',
]:
    write("config", snippet)
