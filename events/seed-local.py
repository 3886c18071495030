#!/usr/bin/env python3
"""Create the local trail and archive buckets and the notification queue on an endpoint and
upload the demo trail: each digest with its signature as S3 metadata (as CloudTrail writes it),
the demo's public key under s3://trail-archive/keys/ (for PUBLIC_KEYS).

    .venv/bin/python events/seed-local.py http://127.0.0.1:5000 trailrelay-demo/bucket

The sample events in this folder name objects of the demo trail of 2026-11-01
(`trailrelay demo --start 2026-11-01` writes it, with the same file names on every machine), in
the bucket `org-trail`.
"""
import os
import sys

import boto3  # installed in .venv with moto[server]

endpoint, folder = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
for bucket in ("org-trail", "trail-archive"):
    s3.create_bucket(Bucket=bucket)
count = 0
for root, _, names in os.walk(folder):
    for name in sorted(names):
        if name.endswith(".signature"):
            continue  # a digest's metadata, uploaded with it
        path = os.path.join(root, name)
        key = os.path.relpath(path, folder).replace(os.sep, "/")
        extra = {}
        if os.path.exists(path + ".signature"):
            with open(path + ".signature") as f:
                extra = {"Metadata": {"signature": f.read().strip()}}
        s3.upload_file(path, "org-trail", key, ExtraArgs=extra)
        count += 1
keys = os.path.join(os.path.dirname(os.path.abspath(folder)), "public-keys")
for name in sorted(os.listdir(keys)) if os.path.isdir(keys) else []:
    s3.upload_file(os.path.join(keys, name), "trail-archive", f"keys/{name}")
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
queue = sqs.create_queue(QueueName="trailrelay-notifications")["QueueUrl"]
print(f"uploaded {count} objects to s3://org-trail on {endpoint}; queue {queue}")
