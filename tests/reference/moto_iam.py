#!/usr/bin/env python3
"""Creates an IAM user with an access key and an S3 read/write policy on a moto server started with
INITIAL_NO_AUTH_ACTION_COUNT=3 (these three calls are the unauthenticated ones; every later request
is checked against this key, SigV4 signature included). Prints "ACCESS_KEY_ID SECRET_ACCESS_KEY".

usage: moto_iam.py ENDPOINT_URL
"""
import json
import sys

import boto3

iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="exporter-test")
key = iam.create_access_key(UserName="exporter-test")["AccessKey"]
iam.put_user_policy(UserName="exporter-test", PolicyName="s3", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}))
print(key["AccessKeyId"], key["SecretAccessKey"])
