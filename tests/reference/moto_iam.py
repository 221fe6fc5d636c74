#!/usr/bin/env python3
"""Sets up IAM on a moto server started with INITIAL_NO_AUTH_ACTION_COUNT set to the number of
calls made here (3, or 8 with --role): these are the unauthenticated ones; every later request is
checked against the keys created here, SigV4 signature included.

Without --role: a user "exporter-test" with an access key and an s3:* policy. Prints its
"ACCESS_KEY_ID SECRET_ACCESS_KEY".

With --role NAME EXTERNAL_ID: also a user "role-assumer" allowed nothing but sts:AssumeRole on
arn:aws:iam::123456789012:role/NAME, and that role, which may list and read S3 objects and whose
trust policy admits "role-assumer" only with the given external ID (moto checks the policy
Action/Resource of the caller, the trust policy's principal and its StringEquals sts:ExternalId
condition). Prints the first user's keys, then the assumer's on a second line.

usage: moto_iam.py ENDPOINT_URL [--role NAME EXTERNAL_ID]
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")


def user(name, statements):
    """3 calls: the user, its key, its inline policy."""
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": statements}))
    return key["AccessKeyId"], key["SecretAccessKey"]


print(*user("exporter-test", [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]))

if len(sys.argv) == 5 and sys.argv[2] == "--role":
    name, external_id = sys.argv[3], sys.argv[4]
    role_arn = f"arn:aws:iam::123456789012:role/{name}"
    assumer = user("role-assumer", [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}])
    # 2 calls: the role and its inline policy (what deploy/iam-policy.json grants).
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/role-assumer"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }],
    }))
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                       "Resource": "*"}],
    }))
    print(*assumer)
elif len(sys.argv) != 2:
    sys.exit(__doc__)
