#!/usr/bin/env python3
"""What the CloudFormation template creates in each account layout; called by check-deploy.sh.

  check_cfn.py TEMPLATE

Renders TEMPLATE for parameter sets of every mode (plain YAML with the CloudFormation tags:
Conditions, Fn::If, Ref, Fn::Sub, Fn::GetAtt, Fn::Select/Split evaluated here, resources with a
false Condition dropped, AWS::NoValue removed) and asserts, per mode, which resources exist and
what they allow:

- the policy of the role that reads the export (the exporter's role in one account, the reader role
  in the export account) is exactly deploy/iam-policy.json, plus kms:Decrypt on KmsKeyArn when set;
- the export's query selects every column the exporter reads (src/cur/columns.rs), with IAM
  principal data, Parquet, overwrite;
- in the exporter account the role may only sts:AssumeRole the reader role; the reader role trusts
  only that role (by name, in ExporterAccountId), with the external ID when set;
- IRSA and EKS Pod Identity trust the Helm chart's service account (ServiceAccountNamespace/
  ServiceAccountName), whose defaults are what the chart renders (scripts/check_chart.py);
- a reused bucket or export is not created; every role carries the permissions boundary when set;
  every resource whose type takes tags carries Application=bedrock-cost-exporter and TagKey;
- the outputs say which Helm/config values to set in each mode;
- the Rules refuse each incomplete parameter set.
"""

import copy
import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "111111111111"
NOVALUE = object()


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else "Fn::" + suffix)
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            v = v.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    return {name: v}


CfnLoader.add_multi_constructor("!", _tag)


def load(path):
    return yaml.load(Path(path).read_text(), Loader=CfnLoader)


class Render:
    """One parameter set's view of the template."""

    def __init__(self, t, params):
        self.t = t
        self.p = {k: str(v.get("Default", "")) for k, v in t["Parameters"].items()}
        self.p.update({"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT,
                       "AWS::Region": "us-east-1", "AWS::StackName": "bce"})
        for k in params:
            if k not in self.p:
                fail(f"test parameter {k} is not a parameter of the template")
        self.p.update(params)
        self.conds = {}
        self.resources = {
            n: r for n, r in t["Resources"].items()
            if "Condition" not in r or self.cond(r["Condition"])
        }

    def cond(self, name):
        if name not in self.conds:
            self.conds[name] = self.ev(self.t["Conditions"][name])
        return self.conds[name]

    def ev(self, c):
        """A condition expression (Fn::Equals/Not/And/Or, Condition) → bool."""
        (k, v), = c.items()
        if k == "Fn::Equals":
            a, b = (self.val(x) for x in v)
            return str(a) == str(b)
        if k == "Fn::Not":
            return not self.ev(v[0])
        if k == "Fn::And":
            return all(self.ev(x) for x in v)
        if k == "Fn::Or":
            return any(self.ev(x) for x in v)
        if k == "Condition":
            return self.cond(v)
        fail(f"unknown condition function {k}")

    def sub(self, s, local):
        def repl(m):
            name = m.group(1)
            if name in local:
                return str(local[name])
            if name in self.p:
                return self.p[name]
            if "." in name:
                return f"<{name}>"
            if name in self.t["Resources"]:
                return self.ref_resource(name)
            fail(f"Fn::Sub names {name}, which is no parameter or resource")
        return re.sub(r"\$\{([^}!]+)\}", repl, s)

    def ref_resource(self, name):
        if name not in self.resources:
            fail(f"a reference to {name}, which this parameter set does not create")
        return f"<{name}>"

    def val(self, v):
        """Resolves intrinsic functions; NOVALUE for AWS::NoValue."""
        if isinstance(v, dict) and len(v) == 1:
            (k, x), = v.items()
            if k == "Ref":
                if x == "AWS::NoValue":
                    return NOVALUE
                if x in self.p:
                    return self.p[x]
                return self.ref_resource(x)
            if k == "Fn::If":
                return self.val(x[1] if self.cond(x[0]) else x[2])
            if k == "Fn::GetAtt":
                self.ref_resource(x[0])
                return f"<{x[0]}.{x[1]}>"
            if k == "Fn::Sub":
                if isinstance(x, str):
                    return self.sub(x, {})
                return self.sub(x[0], {n: self.val(e) for n, e in x[1].items()})
            if k == "Fn::Select":
                return self.val(x[1])[int(x[0])]
            if k == "Fn::Split":
                return self.val(x[1]).split(x[0])
            if k == "Fn::Join":
                return x[0].join(str(self.val(e)) for e in x[1])
            if k.startswith("Fn::") or k == "Condition":
                fail(f"unhandled function {k}")
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                r = self.val(x)
                if r is not NOVALUE:
                    out[k] = r
            return out
        if isinstance(v, list):
            return [r for r in (self.val(x) for x in v) if r is not NOVALUE]
        return v

    def res(self, name):
        return self.val(copy.deepcopy(self.resources[name]))

    def outputs(self):
        return {n: self.val(o["Value"]) for n, o in self.t["Outputs"].items()
                if "Condition" not in o or self.cond(o["Condition"])}

    def rule_violations(self):
        bad = []
        for name, rule in (self.t.get("Rules") or {}).items():
            if "RuleCondition" in rule and not self.ev(rule["RuleCondition"]):
                continue
            for a in rule["Assertions"]:
                if not self.ev(a["Assert"]):
                    bad.append(name)
        return bad


def norm(v):
    if isinstance(v, list):
        return sorted((norm(x) for x in v), key=json.dumps) if len(v) != 1 else norm(v[0])
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    return v


def read_policy_want(bucket, kms):
    text = (REPO / "deploy/iam-policy.json").read_text()
    text = text.replace("arn:aws:s3:::BUCKET", f"arn:aws:s3:::{bucket}")
    text = text.replace("PREFIX/EXPORT_NAME", "cur2/bedrock-cost-exporter")
    want = json.loads(text)
    if kms:
        want["Statement"].append({"Sid": "DecryptTheExportObjects", "Effect": "Allow",
                                  "Action": "kms:Decrypt", "Resource": kms})
    return want


def check_read_policy(mode, role, bucket, kms):
    pols = role["Properties"].get("Policies") or []
    if len(pols) != 1:
        fail(f"{mode}: the reading role must have exactly one inline policy, has {len(pols)}")
    got, want = norm(pols[0]["PolicyDocument"]), norm(read_policy_want(bucket, kms))
    if got != want:
        fail(f"{mode}: the reading role's policy differs from deploy/iam-policy.json"
             f"{' + kms:Decrypt on KmsKeyArn' if kms else ''}\n"
             f"role: {json.dumps(got, indent=1)}\nwant: {json.dumps(want, indent=1)}")
    if role["Properties"].get("ManagedPolicyArns"):
        fail(f"{mode}: the reading role must not carry managed policies")


def check_query(mode, export):
    export = export["Properties"]["Export"]
    q = export["DataQuery"]["QueryStatement"]
    m = re.match(r"\s*SELECT\s+(.*)\s+FROM\s+COST_AND_USAGE_REPORT\s*$", q, re.S | re.I)
    if not m:
        fail(f"{mode}: unexpected QueryStatement {q!r}")
    selected = {c.strip() for c in m.group(1).split(",")}
    cols_rs = (REPO / "src/cur/columns.rs").read_text()
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', cols_rs))
    m_all = re.search(r"pub const ALL\b[^=]*=\s*&?\[(.*?)\];", cols_rs, re.S)
    if not m_all:
        fail("src/cur/columns.rs: cannot find `pub const ALL` (the columns the exporter reads)")
    needed = {consts[n] for n in re.findall(r"\b([A-Z_]+)\b", m_all.group(1)) if n in consts}
    # `product_product_name` is an alias some export queries project (product.product_name); the
    # exporter reads the same value from the `product` map, which the query selects.
    missing = sorted(needed - selected - {"product_product_name"})
    if missing:
        fail(f"{mode}: the export's QueryStatement lacks columns the exporter reads: {missing}")
    tc = export["DataQuery"]["TableConfigurations"]["COST_AND_USAGE_REPORT"]
    if tc.get("INCLUDE_IAM_PRINCIPAL_DATA") != "TRUE":
        fail(f"{mode}: INCLUDE_IAM_PRINCIPAL_DATA must be TRUE")
    out = export["DestinationConfigurations"]["S3Destination"]["S3OutputConfigurations"]
    for k, v in {"Format": "PARQUET", "Compression": "PARQUET", "Overwrite": "OVERWRITE_REPORT"}.items():
        if out.get(k) != v:
            fail(f"{mode}: S3OutputConfigurations.{k} must be {v}")
    return len(needed)


def taggable(rtype):
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER
    s = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema
    return "Tags" in s.get("properties", {})


def trust_statements(role):
    doc = role["Properties"]["AssumeRolePolicyDocument"]
    if isinstance(doc, str):
        doc = json.loads(doc)
    return doc["Statement"]


OIDC = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
KMS = "arn:aws:kms:us-east-1:111111111111:key/0f0e0d0c-0b0a-0908-0706-050403020100"
READER = "arn:aws:iam::999999999999:role/bedrock-cost-exporter-reader"
BOUNDARY = "arn:aws:iam::111111111111:policy/platform-boundary"

# name: (parameters, resources expected, outputs expected)
MODES = {
    "single-account, IRSA": (
        {"EksOidcProviderArn": OIDC},
        {"ExportBucket", "ExportBucketPolicy", "CurExport", "ExporterRole"},
        {"Source", "BucketName", "ExportArn", "ExporterRoleArn", "IrsaRoleArn", "ExporterSettings"}),
    "single-account, reused bucket": (
        {"EksOidcProviderArn": OIDC, "ExistingBucketName": "corp-billing"},
        {"CurExport", "ExporterRole"},
        {"Source", "BucketName", "ExportArn", "ExporterRoleArn", "IrsaRoleArn", "ExporterSettings"}),
    "single-account, reused export and bucket, SSE-KMS": (
        {"EksOidcProviderArn": OIDC, "ExistingBucketName": "corp-billing", "CreateExport": "false",
         "KmsKeyArn": KMS},
        {"ExporterRole"},
        {"Source", "BucketName", "ExporterRoleArn", "IrsaRoleArn", "ExporterSettings"}),
    "single-account, new bucket with SSE-KMS, EC2, boundary, tag": (
        {"TrustMode": "ec2", "KmsKeyArn": KMS, "PermissionsBoundaryArn": BOUNDARY,
         "TagKey": "cost-center", "TagValue": "finops"},
        {"ExportBucket", "ExportBucketPolicy", "CurExport", "ExporterRole", "ExporterInstanceProfile"},
        {"Source", "BucketName", "ExportArn", "ExporterRoleArn", "InstanceProfileArn", "ExporterSettings"}),
    "single-account, principal": (
        {"TrustMode": "principal", "TrustedPrincipalArn": "arn:aws:iam::222222222222:role/ci"},
        {"ExportBucket", "ExportBucketPolicy", "CurExport", "ExporterRole"},
        {"Source", "BucketName", "ExportArn", "ExporterRoleArn", "RoleToAssumeArn", "ExporterSettings"}),
    "export-account (management), external ID, boundary, tag": (
        {"Mode": "export-account", "ExporterAccountId": "222222222222",
         "ExporterRoleName": "bedrock-cost-exporter", "ExternalId": "bce-finops",
         "PermissionsBoundaryArn": BOUNDARY, "TagKey": "cost-center", "TagValue": "finops"},
        {"ExportBucket", "ExportBucketPolicy", "CurExport", "ReaderRole"},
        {"Source", "BucketName", "ExportArn", "ReaderRoleArn", "ExporterSettings"}),
    "export-account, reused export and bucket, SSE-KMS": (
        {"Mode": "export-account", "ExporterAccountId": "222222222222",
         "ExporterRoleName": "bedrock-cost-exporter", "ExistingBucketName": "corp-billing",
         "CreateExport": "false", "KmsKeyArn": KMS},
        {"ReaderRole"},
        {"Source", "BucketName", "ReaderRoleArn", "ExporterSettings"}),
    "exporter-account (EKS member account in eu-west-1), Pod Identity": (
        {"Mode": "exporter-account", "TrustMode": "eks-pod-identity", "EksClusterName": "prod",
         "AWS::Region": "eu-west-1",
         "ReaderRoleArn": READER, "ExporterRoleName": "bedrock-cost-exporter", "ExternalId": "bce-finops",
         "PermissionsBoundaryArn": BOUNDARY},
        {"ExporterRole", "PodIdentityAssociation"},
        {"ExporterRoleArn", "PodIdentityRoleArn", "ExporterSettings"}),
    "exporter-account, IRSA": (
        {"Mode": "exporter-account", "EksOidcProviderArn": OIDC, "ReaderRoleArn": READER,
         "ExporterRoleName": "bedrock-cost-exporter"},
        {"ExporterRole"},
        {"ExporterRoleArn", "IrsaRoleArn", "ExporterSettings"}),
}

# Parameter sets the Rules must refuse.
REFUSED = {
    "IRSA without EksOidcProviderArn": {},
    "principal without TrustedPrincipalArn": {"TrustMode": "principal"},
    "export-account without ExporterAccountId": {"Mode": "export-account", "ExporterRoleName": "x"},
    "export-account without ExporterRoleName": {"Mode": "export-account", "ExporterAccountId": "222222222222"},
    "exporter-account without ReaderRoleArn": {"Mode": "exporter-account", "EksOidcProviderArn": OIDC,
                                               "ExporterRoleName": "x"},
    "exporter-account without ExporterRoleName": {"Mode": "exporter-account", "EksOidcProviderArn": OIDC,
                                                  "ReaderRoleArn": READER},
    "a reused export without its bucket": {"EksOidcProviderArn": OIDC, "CreateExport": "false"},
    "the export outside us-east-1": {"EksOidcProviderArn": OIDC, "AWS::Region": "eu-west-1"},
    "the export account's stack outside us-east-1": {
        "Mode": "export-account", "ExporterAccountId": "222222222222", "ExporterRoleName": "x",
        "AWS::Region": "eu-west-1"},
}

SETTINGS = {  # what ExporterSettings must name per mode
    "single-account": ["source=s3://"],
    "export-account": ["Mode=exporter-account", "aws.assumeRoleArn=<ReaderRole.Arn>", "s3.role_arn", "source=s3://"],
    "exporter-account": [f"aws.assumeRoleArn={READER}", "s3.role_arn", "source="],
}


def main(template):
    t = load(template)
    sa_ns = t["Parameters"]["ServiceAccountNamespace"]["Default"]
    sa_name = t["Parameters"]["ServiceAccountName"]["Default"]
    ncols = 0
    for mode, (params, want_res, want_out) in MODES.items():
        r = Render(t, params)
        bad = r.rule_violations()
        if bad:
            fail(f"{mode}: the Rules refuse a complete parameter set: {bad}")
        got = set(r.resources)
        if got != want_res:
            fail(f"{mode}: creates {sorted(got)}, want {sorted(want_res)} "
                 f"(extra {sorted(got - want_res)}, missing {sorted(want_res - got)})")
        outs = r.outputs()
        if set(outs) != want_out:
            fail(f"{mode}: outputs {sorted(outs)}, want {sorted(want_out)}")
        p = r.p
        kms = p["KmsKeyArn"] or None
        bucket = p["ExistingBucketName"] or "<ExportBucket>"
        # The role that reads the export, and the export itself.
        reader = "ReaderRole" if p["Mode"] == "export-account" else "ExporterRole"
        if p["Mode"] != "exporter-account":
            check_read_policy(mode, r.res(reader), bucket, kms)
            if outs["Source"] != f"s3://{bucket}/cur2/bedrock-cost-exporter":
                fail(f"{mode}: Source output {outs['Source']}")
        if "CurExport" in r.resources:
            exp = r.res("CurExport")
            ncols = check_query(mode, exp)
            dest = exp["Properties"]["Export"]["DestinationConfigurations"]["S3Destination"]["S3Bucket"]
            if dest != bucket:
                fail(f"{mode}: the export writes to {dest}, not {bucket}")
        if "ExportBucket" in r.resources:
            enc = r.res("ExportBucket")["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            sse = enc["ServerSideEncryptionByDefault"]
            if kms and (sse.get("SSEAlgorithm") != "aws:kms" or sse.get("KMSMasterKeyID") != kms):
                fail(f"{mode}: the bucket made with KmsKeyArn is not encrypted with it: {sse}")
            if not kms and sse.get("SSEAlgorithm") != "AES256":
                fail(f"{mode}: the bucket is not SSE-S3: {sse}")
        # Trust.
        if reader == "ReaderRole":
            st = trust_statements(r.res("ReaderRole"))
            want_principal = f"arn:aws:iam::{p['ExporterAccountId']}:root"
            cond = st[0].get("Condition") or {}
            ok = (len(st) == 1 and st[0]["Principal"] == {"AWS": want_principal}
                  and st[0]["Action"] == "sts:AssumeRole"
                  and (cond.get("ArnEquals") or {}).get("aws:PrincipalArn")
                  == f"arn:aws:iam::{p['ExporterAccountId']}:role/{p['ExporterRoleName']}"
                  and ((cond.get("StringEquals") or {}).get("sts:ExternalId") == (p["ExternalId"] or None)))
            if not ok:
                fail(f"{mode}: the reader role must trust only role {p['ExporterRoleName']} of account "
                     f"{p['ExporterAccountId']} (with the external ID when set): {json.dumps(st)}")
            if "Mode=exporter-account" not in outs["ExporterSettings"]:
                fail(f"{mode}: ExporterSettings does not say how to make the exporter's role")
        if "ExporterRole" in r.resources:
            role = r.res("ExporterRole")
            st = trust_statements(role)
            tm = p["TrustMode"]
            if tm == "eks-irsa":
                issuer = OIDC.split(":oidc-provider/")[1]
                c = st[0]["Condition"]["StringEquals"]
                if st[0]["Principal"] != {"Federated": OIDC} or \
                        c.get(f"{issuer}:sub") != f"system:serviceaccount:{sa_ns}:{sa_name}":
                    fail(f"{mode}: IRSA trust is not the chart's service account {sa_ns}/{sa_name}: {st}")
            elif tm == "eks-pod-identity":
                if st[0]["Principal"] != {"Service": "pods.eks.amazonaws.com"} or \
                        sorted(st[0]["Action"]) != ["sts:AssumeRole", "sts:TagSession"]:
                    fail(f"{mode}: EKS Pod Identity trust: {st}")
            elif tm == "ec2":
                if st[0]["Principal"] != {"Service": "ec2.amazonaws.com"}:
                    fail(f"{mode}: EC2 trust: {st}")
            else:
                if st[0]["Principal"] != {"AWS": p["TrustedPrincipalArn"]}:
                    fail(f"{mode}: principal trust: {st}")
            if p["Mode"] == "exporter-account":
                pols = role["Properties"]["Policies"]
                stmts = [s for pol in pols for s in pol["PolicyDocument"]["Statement"]]
                if [(s["Effect"], s["Action"], s["Resource"]) for s in stmts] != [("Allow", "sts:AssumeRole", READER)]:
                    fail(f"{mode}: the exporter account's role may do more than sts:AssumeRole on "
                         f"ReaderRoleArn: {json.dumps(stmts)}")
                if role["Properties"].get("RoleName") != p["ExporterRoleName"]:
                    fail(f"{mode}: the exporter's role is not named ExporterRoleName (the reader trusts the name)")
        if "PodIdentityAssociation" in r.resources:
            a = r.res("PodIdentityAssociation")["Properties"]
            if (a["Namespace"], a["ServiceAccount"], a["RoleArn"]) != (sa_ns, sa_name, "<ExporterRole.Arn>"):
                fail(f"{mode}: the pod identity association is not for {sa_ns}/{sa_name}: {a}")
        for want in SETTINGS[p["Mode"]]:
            if want not in outs["ExporterSettings"]:
                fail(f"{mode}: ExporterSettings ({outs['ExporterSettings']!r}) does not name {want!r}")
        if p["Mode"] != "export-account":
            who = {"eks-irsa": "serviceAccount.roleArn=<ExporterRole.Arn>",
                   "eks-pod-identity": "pod identity association", "ec2": "instance profile",
                   "principal": "aws.assumeRoleArn=<ExporterRole.Arn>"}[p["TrustMode"]]
            if who not in outs["ExporterSettings"]:
                fail(f"{mode}: ExporterSettings ({outs['ExporterSettings']!r}) does not say {who!r}")
        # Governance: boundary and tags.
        for name in r.resources:
            res = r.res(name)
            props = res.get("Properties") or {}
            if res["Type"] == "AWS::IAM::Role" and p["PermissionsBoundaryArn"] and \
                    props.get("PermissionsBoundary") != p["PermissionsBoundaryArn"]:
                fail(f"{mode}: role {name} lacks the permissions boundary")
            if res["Type"] == "AWS::IAM::Role" and not p["PermissionsBoundaryArn"] and "PermissionsBoundary" in props:
                fail(f"{mode}: role {name} has a permissions boundary nobody asked for")
            if taggable(res["Type"]):
                tags = {x["Key"]: x["Value"] for x in props.get("Tags") or []}
                want_tags = {"Application": "bedrock-cost-exporter"}
                if p["TagKey"]:
                    want_tags[p["TagKey"]] = p["TagValue"]
                if tags != want_tags:
                    fail(f"{mode}: {name} ({res['Type']}) is tagged {tags}, want {want_tags}")
        print(f"   {mode}: {', '.join(sorted(r.resources))}; {outs['ExporterSettings'][:150]}")
    for what, params in REFUSED.items():
        if not Render(t, params).rule_violations():
            fail(f"the Rules accept {what}")
    print(f"{template}: {len(MODES)} parameter sets create what their mode needs; the reading role's "
          f"policy = deploy/iam-policy.json (+ kms:Decrypt with KmsKeyArn); the query selects all "
          f"{ncols} columns the exporter reads; IRSA/Pod Identity trust {sa_ns}/{sa_name}; "
          f"tags and boundary everywhere; {len(REFUSED)} incomplete parameter sets refused by the Rules")


if __name__ == "__main__":
    main(*sys.argv[1:])
