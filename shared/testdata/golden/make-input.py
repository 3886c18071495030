#!/usr/bin/env python3
"""Writes the golden test's input: real records from this folder's sibling fixtures, mutated
the ways that test a record reader (members named twice, at any depth; members of odd types;
values serde cannot decode; escaped names; odd `resources`; a few records that are not objects),
as one gzipped CloudTrail log file under an organization trail's key layout.

    python3 make-input.py OUT_FOLDER [SEED] [RECORDS]
"""
import copy
import glob
import gzip
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ["invictus-ir-aws-dataset", "panther-analysis", "aws-docs", "aws-docs-current"]
KEY = ("AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/30/"
       "111122223333_CloudTrail_us-east-1_20261130T0000Z_golden0000000001.json.gz")


class Raw:
    """JSON text written as it is."""

    def __init__(self, text):
        self.text = text


class Obj:
    """An object whose members may repeat a name."""

    def __init__(self, items):
        self.items = items


def encode(v):
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, Obj):
        return "{" + ",".join(encode_key(k) + ":" + encode(x) for k, x in v.items) + "}"
    if isinstance(v, list):
        return "[" + ",".join(encode(x) for x in v) + "]"
    return json.dumps(v, separators=(",", ":"))


def encode_key(k):
    return k.text if isinstance(k, Raw) else json.dumps(k)


def to_obj(v):
    if isinstance(v, dict):
        return Obj([(k, to_obj(x)) for k, x in v.items()])
    if isinstance(v, list):
        return [to_obj(x) for x in v]
    return v


ODD = [None, 123, Raw("1e400"), Raw("-0.0"), True, False, "TRUE", "false", [], Obj([]),
       Obj([(Raw('"\\udc00"'), 1)]), Raw('"\\udc00"'), 'a"b\\c', Raw('"\\u0041BC"'),
       Raw('"\\ud83d\\ude00"'), Obj([("x", [1, Obj([("y", None)])])]), "Root", "AWSService", "Yes",
       "No", "ConsoleLogin", "AccessDenied", "2026-11-30T00:00:00Z", "2026-11-30 01:02:03",
       "signin.amazonaws.com", "aws-cli/2.0", "AwsCloudTrailInsight", "AwsVpceEvent",
       "AwsAggregatedEvent", Raw("18446744073709551616"), Raw("[" * 40 + "]" * 40), Raw('"\\u0000"')]
TOP = ["eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent",
       "errorCode", "eventID", "eventType", "eventCategory", "recipientAccountId", "readOnly",
       "managementEvent", "sessionCredentialFromConsole", "userIdentity", "resources",
       "insightDetails", "additionalEventData", "eventId", "accountId", "timeWindow", "addendum",
       "responseElements", "requestParameters", "errorMessage", "zzz"]
NESTED = {"userIdentity": ["type", "arn", "accountId", "userName", "invokedBy", "sessionContext"],
          "sessionContext": ["attributes", "sessionIssuer", "webIdFederationData"],
          "attributes": ["mfaAuthenticated", "creationDate"], "sessionIssuer": ["arn", "type"],
          "insightDetails": ["eventSource", "eventName", "state"],
          "additionalEventData": ["MFAUsed", "x"], "timeWindow": ["windowStart", "windowEnd"],
          "addendum": ["reason", "updatedFields", "originalRequestID", "originalEventID"],
          "responseElements": ["ConsoleLogin"], "requestParameters": ["bucketName", "policy"]}
RESOURCES = [Obj([]), "x", [1, "a", None], [Obj([("ARN", "arn:a"), ("ARN", "arn:b")])],
             [Obj([("ARNPrefix", "arn:p")]), Obj([("ARN", 5), ("ARNPrefix", "arn:q")])],
             [Obj([("ARN", "arn:a"), ("type", Raw('"\\udc00"'))])],
             [Obj([("ARN", "arn:a"), ("n", Raw("1e400"))])],
             [Obj([("ARN", "arn:z"), ("type", "AWS::S3::Object")]), Obj([("type", "t")])]]


def objects(o, path=()):
    if isinstance(o, Obj):
        yield path, o
        for k, v in o.items:
            yield from objects(v, path + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from objects(v, path + (i,))


def mutate(record, rng):
    path, target = rng.choice(list(objects(record)))
    names = NESTED.get(path[-1], TOP) if path and isinstance(path[-1], str) else TOP
    if path and path[0] == "resources":
        names = ["ARN", "ARNPrefix", "type", "accountId"]
    odd = lambda: copy.deepcopy(rng.choice(ODD))
    roll = rng.random()
    if roll < 0.3 and target.items:
        k, v = rng.choice(target.items)
        target.items.insert(rng.randrange(len(target.items) + 1), (k, rng.choice([v, odd()])))
    elif roll < 0.7:
        k = rng.choice(names)
        items = [(a, b) for a, b in target.items if a != k]
        items.insert(rng.randrange(len(items) + 1), (k, odd()))
        target.items[:] = items
    elif roll < 0.8 and target.items:
        i = rng.randrange(len(target.items))
        k, v = target.items[i]
        if isinstance(k, str) and k:
            target.items[i] = (Raw('"\\u%04x' % ord(k[0]) + json.dumps(k)[2:]), v)
    else:
        record.items[:] = [(a, b) for a, b in record.items if a != "resources"]
        record.items.append(("resources", copy.deepcopy(rng.choice(RESOURCES))))


def main():
    out = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    records = []
    for source in SOURCES:
        for path in sorted(glob.glob(os.path.join(HERE, "..", "cloudtrail", source, "**", "*.json"),
                                     recursive=True)):
            try:
                doc = json.load(open(path))
            except ValueError:
                continue
            found = doc.get("Records", [doc]) if isinstance(doc, dict) else doc
            records += [r for r in found if isinstance(r, dict) and "eventTime" in r]
    lines = []
    for _ in range(count):
        if rng.random() < 0.02:
            lines.append(rng.choice(['[1,2]', '"x"', '42', 'null']))
            continue
        record = to_obj(rng.choice(records))
        for _ in range(rng.randint(0, 3)):
            mutate(record, rng)
        lines.append(encode(record))
    path = os.path.join(out, KEY)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(('{"Records":[' + ",".join(lines) + "]}").encode())


if __name__ == "__main__":
    main()
