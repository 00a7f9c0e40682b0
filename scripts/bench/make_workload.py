#!/usr/bin/env python3
"""Generates the shared policy-evaluation benchmark workloads (bench/workloads/<n>stmt.json).

One workload holds, for a set of n identity-policy statements:
  - "iam": the AWS IAM policy documents (agent-role style, 10 statements per policy),
  - "cedar": the equivalent Cedar policy set (text) and the request encoding it expects,
  - "requests": requests with a known mix of Allowed / ImplicitlyDenied / ExplicitlyDenied, each
    with the decision this script expects ("expected") and its Cedar encoding ("cedar").

The script is deterministic (fixed seed, stdlib only). The expected decisions come from a small
evaluator below that covers exactly the policy features the generator emits; every engine's
decisions are checked against them by bench/policy_eval_bench.cc and bench/node/compare.mjs.

Cedar translation (faithful for this workload only):
  - Action patterns are expanded over the action catalogue below, which contains every action a
    request can name: `action in [Action::"s3:GetObject", ...]`.
  - The resource ARN is the context attribute `resourceArn` (the resource is Resource::"<ARN>");
    IAM resource patterns become `context.resourceArn like "..."`. The generated patterns only
    use `*`, and whole-string glob matching equals IAM's field-wise ARN matching on the generated
    ARNs. (Carrying the ARN as an attribute of the resource entity instead decides the same, but
    cedar-wasm then parses an entity list per request: about half the throughput on the
    10-statement set, so the context encoding is the fair one.)
  - Conditions become `when` clauses over context: StringEquals/StringNotEquals on
    aws:RequestedRegion and aws:PrincipalTag/team, IpAddress on aws:SourceIp (Cedar ipaddr
    extension), Bool on aws:SecureTransport. Keys absent from the request behave as in IAM
    (positive operators false, negated operators true).

Usage: make_workload.py [--out DIR] [--sizes 10,100,1000] [--requests N] [--seed S]
"""

import argparse
import ipaddress
import json
import os
import random
import sys

ACCOUNT = "123456789012"
PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/agent-runner/agent-session"
REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]
ALLOWED_REGIONS = ["us-east-1", "us-west-2"]
STATEMENTS_PER_POLICY = 10

# Every action a request can name, with the kind of resource it is authorised against.
# "*" marks actions that take no resource (authorised against "*").
CATALOGUE = {
    "s3:GetObject": "object",
    "s3:GetObjectTagging": "object",
    "s3:GetObjectVersion": "object",
    "s3:PutObject": "object",
    "s3:PutObjectTagging": "object",
    "s3:DeleteObject": "object",
    "s3:DeleteObjectVersion": "object",
    "s3:ListBucket": "bucket",
    "s3:GetBucketPolicy": "bucket",
    "s3:PutBucketPolicy": "bucket",
    "s3:DeleteBucket": "bucket",
    "sqs:SendMessage": "queue",
    "sqs:ReceiveMessage": "queue",
    "sqs:DeleteMessage": "queue",
    "sqs:GetQueueAttributes": "queue",
    "sqs:DeleteQueue": "queue",
    "sqs:PurgeQueue": "queue",
    "dynamodb:GetItem": "table",
    "dynamodb:BatchGetItem": "table",
    "dynamodb:PutItem": "table",
    "dynamodb:UpdateItem": "table",
    "dynamodb:Query": "table",
    "dynamodb:Scan": "table",
    "dynamodb:DeleteItem": "table",
    "dynamodb:DeleteTable": "table",
    "logs:CreateLogStream": "log-group",
    "logs:PutLogEvents": "log-stream",
    "logs:DeleteLogGroup": "log-group",
    "logs:GetLogEvents": "log-stream",
    "ec2:StartInstances": "instance",
    "ec2:StopInstances": "instance",
    "ec2:RebootInstances": "instance",
    "ec2:TerminateInstances": "instance",
    "ec2:DescribeInstances": "*",
    "ec2:DescribeVolumes": "*",
    "sqs:ListQueues": "*",
    "dynamodb:ListTables": "*",
    "logs:DescribeLogGroups": "*",
}
ACTIONS = list(CATALOGUE)

# Cedar context attribute for each IAM context key the workload uses.
CEDAR_KEYS = {
    "aws:RequestedRegion": "requestedRegion",
    "aws:SourceIp": "sourceIp",
    "aws:SecureTransport": "secureTransport",
    "aws:PrincipalTag/team": "principalTagTeam",
}


# ---------------------------------------------------------------------------------------------
# Matching and evaluation (the subset of IAM the generator emits).


def glob(pattern, value):
    """IAM glob: '*' any sequence, '?' one character, anchored; linear two-pointer match."""
    p = v = 0
    star = -1
    mark = 0
    while v < len(value):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == value[v]):
            p += 1
            v += 1
        elif p < len(pattern) and pattern[p] == "*":
            star = p
            mark = v
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            v = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def match_action(pattern, action):
    if pattern == "*":
        return True
    ps, _, pn = pattern.partition(":")
    rs, _, rn = action.partition(":")
    return ps.lower() == rs.lower() and glob(pn.lower(), rn.lower())


def match_resource(pattern, arn):
    if pattern == "*":
        return True
    if arn == "*":
        # The generator never emits service-wide patterns, so only "*" covers "*".
        return False
    pf = pattern.split(":", 5)
    rf = arn.split(":", 5)
    if len(pf) != 6 or len(rf) != 6:
        return False
    # The generated patterns use '*' only as a whole field (region) or in the resource field,
    # so field-wise matching equals whole-string matching here; assert it while generating.
    fieldwise = all(glob(p, r) for p, r in zip(pf, rf))
    assert fieldwise == glob(pattern, arn), (pattern, arn)
    return fieldwise


def eval_condition(op, key, values, context):
    v = context.get(key)
    negated = op in ("StringNotEquals", "NotIpAddress")
    if v is None:
        return negated
    if op == "StringEquals":
        return v in values
    if op == "StringNotEquals":
        return v not in values
    if op == "IpAddress":
        return any(ipaddress.ip_address(v) in ipaddress.ip_network(c) for c in values)
    if op == "NotIpAddress":
        return not any(ipaddress.ip_address(v) in ipaddress.ip_network(c) for c in values)
    if op == "Bool":
        return v.lower() in [x.lower() for x in values]
    raise ValueError(op)


def statement_applies(stmt, request):
    actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
    resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
    if not any(match_action(a, request["action"]) for a in actions):
        return False
    if not any(match_resource(r, request["resource"]) for r in resources):
        return False
    for op, clause in stmt.get("Condition", {}).items():
        for key, values in clause.items():
            values = values if isinstance(values, list) else [values]
            if not eval_condition(op, key, values, request["context"]):
                return False
    return True


def evaluate(policies, request):
    allowed = False
    for policy in policies:
        for stmt in policy["document"]["Statement"]:
            if statement_applies(stmt, request):
                if stmt["Effect"] == "Deny":
                    return "ExplicitlyDenied"
                allowed = True
    return "Allowed" if allowed else "ImplicitlyDenied"


# ---------------------------------------------------------------------------------------------
# Resources of one agent group k.


def bucket(k):
    return f"agent-{k}-data"


def shared_bucket(k):
    return f"shared-{k}-reference"


def queue(k, suffix):
    return f"agent-{k}-{suffix}"


def table(k, suffix):
    return f"agent-{k}-{suffix}"


def log_group(k):
    return f"/agent/{k}"


def arn_for(kind, k, region, rng):
    """A resource ARN of `kind` belonging to group k (or a near-miss name)."""
    if kind == "object":
        b = bucket(k) if rng.random() < 0.75 else shared_bucket(k)
        key = rng.choice(["inputs", "outputs", "tmp", "reports"]) + f"/{rng.randrange(1000)}.json"
        return f"arn:aws:s3:::{b}/{key}"
    if kind == "bucket":
        b = bucket(k) if rng.random() < 0.75 else shared_bucket(k)
        return f"arn:aws:s3:::{b}"
    if kind == "queue":
        return f"arn:aws:sqs:{region}:{ACCOUNT}:{queue(k, rng.choice(['tasks', 'results', 'dlq']))}"
    if kind == "table":
        return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table(k, rng.choice(['state', 'memory']))}"
    if kind == "log-group":
        return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{log_group(k)}"
    if kind == "log-stream":
        return (f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{log_group(k)}"
                f":log-stream:run-{rng.randrange(100)}")
    if kind == "instance":
        return f"arn:aws:ec2:{region}:{ACCOUNT}:instance/i-{rng.randrange(16**8):08x}"
    if kind == "*":
        return "*"
    raise ValueError(kind)


def group_statements(k, rng):
    """Ten agent-role statements scoped to group k's resources."""
    region_pin = {"StringEquals": {"aws:RequestedRegion": list(ALLOWED_REGIONS)}}
    describe = [
        ["ec2:Describe*"], ["sqs:ListQueues"], ["dynamodb:List*"], ["logs:Describe*"],
        ["ec2:DescribeInstances", "ec2:DescribeVolumes"],
    ][k % 5]
    return [
        {"Sid": f"Agent{k}ReadWriteData", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:GetObjectTagging"],
         "Resource": f"arn:aws:s3:::{bucket(k)}/*"},
        {"Sid": f"Agent{k}ListData", "Effect": "Allow",
         "Action": "s3:ListBucket",
         "Resource": [f"arn:aws:s3:::{bucket(k)}", f"arn:aws:s3:::{shared_bucket(k)}"]},
        {"Sid": f"Agent{k}ReadReference", "Effect": "Allow",
         "Action": ["s3:Get*"],
         "Resource": f"arn:aws:s3:::{shared_bucket(k)}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}},
        {"Sid": f"Agent{k}Queues", "Effect": "Allow",
         "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes"],
         "Resource": f"arn:aws:sqs:*:{ACCOUNT}:agent-{k}-*"},
        {"Sid": f"Agent{k}State", "Effect": "Allow",
         "Action": ["dynamodb:*Item", "dynamodb:Query"],
         "Resource": [f"arn:aws:dynamodb:*:{ACCOUNT}:table/{table(k, 'state')}",
                      f"arn:aws:dynamodb:*:{ACCOUNT}:table/{table(k, 'memory')}"],
         "Condition": region_pin},
        {"Sid": f"Agent{k}Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:Get*"],
         "Resource": f"arn:aws:logs:*:{ACCOUNT}:log-group:{log_group(k)}*"},
        {"Sid": f"Agent{k}Instances", "Effect": "Allow",
         "Action": ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"],
         "Resource": f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": f"team-{k}"}}},
        {"Sid": f"Agent{k}Describe", "Effect": "Allow", "Action": describe, "Resource": "*"},
        {"Sid": f"Agent{k}DenyInsecure", "Effect": "Deny",
         "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket(k)}", f"arn:aws:s3:::{bucket(k)}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        [
            {"Sid": f"Agent{k}DenyDestructive", "Effect": "Deny",
             "Action": ["s3:Delete*", "s3:PutBucketPolicy", "sqs:DeleteQueue", "sqs:PurgeQueue",
                        "dynamodb:DeleteTable", "logs:DeleteLogGroup"],
             "Resource": [f"arn:aws:s3:::{bucket(k)}*", f"arn:aws:sqs:*:{ACCOUNT}:agent-{k}-*",
                          f"arn:aws:dynamodb:*:{ACCOUNT}:table/agent-{k}-*",
                          f"arn:aws:logs:*:{ACCOUNT}:log-group:{log_group(k)}*"]},
            {"Sid": f"Agent{k}DenyOutsideRegions", "Effect": "Deny",
             "Action": ["dynamodb:*", "sqs:*"],
             "Resource": [f"arn:aws:dynamodb:*:{ACCOUNT}:table/agent-{k}-*",
                          f"arn:aws:sqs:*:{ACCOUNT}:agent-{k}-*"],
             "Condition": {"StringNotEquals": {"aws:RequestedRegion": list(ALLOWED_REGIONS)}}},
            {"Sid": f"Agent{k}DenyTerminate", "Effect": "Deny",
             "Action": ["ec2:TerminateInstances", "ec2:StopInstances"],
             "Resource": f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                           "StringEquals": {"aws:PrincipalTag/team": f"team-{k}"}}},
        ][k % 3],
    ]


# ---------------------------------------------------------------------------------------------
# Cedar translation.


def cedar_string(s):
    return json.dumps(s)


def cedar_like(s):
    # IAM '*' is Cedar's wildcard; the generator emits no '?' and no literal '*'.
    assert "?" not in s
    return json.dumps(s)


def expand_actions(patterns):
    out = [a for a in ACTIONS if any(match_action(p, a) for p in patterns)]
    assert out, patterns
    return out


def cedar_condition(op, key, values):
    attr = CEDAR_KEYS[key]
    ref = f"context.{attr}"
    has = f"context has {attr}"
    if op == "StringEquals":
        alts = " || ".join(f"{ref} == {cedar_string(v)}" for v in values)
        return f"({has} && ({alts}))"
    if op == "StringNotEquals":
        alts = " || ".join(f"{ref} == {cedar_string(v)}" for v in values)
        return f"(!({has}) || !({alts}))"
    if op in ("IpAddress", "NotIpAddress"):
        alts = " || ".join(f"{ref}.isInRange(ip({cedar_string(c)}))" for c in values)
        if op == "IpAddress":
            return f"({has} && ({alts}))"
        return f"(!({has}) || !({alts}))"
    if op == "Bool":
        assert len(values) == 1
        return f"({has} && {ref} == {values[0].lower()})"
    raise ValueError(op)


def cedar_policy(policy_index, stmt):
    actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
    resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
    effect = "permit" if stmt["Effect"] == "Allow" else "forbid"
    action_list = ", ".join(f'Action::{cedar_string(a)}' for a in expand_actions(actions))
    clauses = []
    if "*" not in resources:
        clauses.append("(" + " || ".join(f"context.resourceArn like {cedar_like(r)}"
                                         for r in resources) + ")")
    for op, clause in stmt.get("Condition", {}).items():
        for key, values in clause.items():
            values = values if isinstance(values, list) else [values]
            clauses.append(cedar_condition(op, key, values))
    text = f'@id("p{policy_index}.{stmt["Sid"]}")\n'
    text += f"{effect} (principal, action in [{action_list}], resource)"
    if clauses:
        text += "\nwhen { " + " && ".join(clauses) + " }"
    return text + ";\n"


def cedar_request(request):
    context = {"resourceArn": request["resource"]}
    for key, value in request["context"].items():
        attr = CEDAR_KEYS[key]
        if key == "aws:SourceIp":
            context[attr] = {"__extn": {"fn": "ip", "arg": value}}
        elif key == "aws:SecureTransport":
            context[attr] = value == "true"
        else:
            context[attr] = value
    resource = {"type": "Resource", "id": request["resource"]}
    return {
        "principal": {"type": "Agent", "id": request["principal"]},
        "action": {"type": "Action", "id": request["action"]},
        "resource": resource,
        "context": context,
        "entities": [],
    }


# ---------------------------------------------------------------------------------------------
# Requests.


def random_request(rng, groups):
    action = rng.choice(ACTIONS)
    kind = CATALOGUE[action]
    # Mostly resources of an existing group; some of groups the policy set does not cover.
    k = rng.randrange(groups) if rng.random() < 0.85 else groups + rng.randrange(50)
    region = rng.choices(REGIONS, weights=[6, 3, 1])[0]
    context = {
        "aws:RequestedRegion": region,
        "aws:SourceIp": (f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                         if rng.random() < 0.7 else f"203.0.113.{rng.randrange(1, 255)}"),
        "aws:SecureTransport": "true" if rng.random() < 0.85 else "false",
    }
    if rng.random() < 0.8:
        context["aws:PrincipalTag/team"] = f"team-{k if rng.random() < 0.7 else k + 1}"
    return {
        "principal": PRINCIPAL,
        "action": action,
        "resource": arn_for(kind, k, region, rng),
        "resource_account": ACCOUNT,
        "context": context,
    }


def make_workload(n, request_count, seed):
    assert n % STATEMENTS_PER_POLICY == 0
    rng = random.Random(seed * 1_000_003 + n)
    groups = n // STATEMENTS_PER_POLICY
    policies = []
    cedar_text = []
    for k in range(groups):
        statements = group_statements(k, rng)
        assert len(statements) == STATEMENTS_PER_POLICY
        policies.append({"name": f"agent-{k}-policy",
                         "document": {"Version": "2012-10-17", "Statement": statements}})
        cedar_text.extend(cedar_policy(k, s) for s in statements)

    # The mix: 40% allowed, 40% implicitly denied, 20% explicitly denied, interleaved.
    targets = {"Allowed": 0.4, "ImplicitlyDenied": 0.4, "ExplicitlyDenied": 0.2}
    wanted = {d: round(request_count * f) for d, f in targets.items()}
    wanted["Allowed"] += request_count - sum(wanted.values())
    pools = {d: [] for d in targets}
    attempts = 0
    while any(len(pools[d]) < wanted[d] for d in targets):
        attempts += 1
        if attempts > 10_000_000:
            sys.exit(f"cannot reach the request mix for {n} statements")
        request = random_request(rng, groups)
        decision = evaluate(policies, request)
        if len(pools[decision]) < wanted[decision]:
            request["expected"] = decision
            pools[decision].append(request)
    requests = [r for pool in pools.values() for r in pool]
    rng.shuffle(requests)
    for r in requests:
        r["cedar"] = cedar_request(r)

    return {
        "name": f"{n}stmt",
        "generator": "scripts/bench/make_workload.py",
        "seed": seed,
        "statements": n,
        "mix": {d: len(p) for d, p in pools.items()},
        "iam": {"kind": "identity", "policies": policies},
        "cedar": {
            "policies": "".join(cedar_text),
            "policy_count": len(cedar_text),
            "encoding": ("principal Agent::<caller ARN>; action Action::<IAM action>; resource "
                         "Resource::<ARN>; no entities; context attributes resourceArn (the "
                         "ARN), " +
                         ", ".join(f"{k} -> {v}" for k, v in CEDAR_KEYS.items())),
        },
        "requests": requests,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "bench", "workloads"))
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20260901)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for n in (int(s) for s in args.sizes.split(",")):
        workload = make_workload(n, args.requests, args.seed)
        path = os.path.join(args.out, f"{n}stmt.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(workload, f, separators=(",", ":"), sort_keys=False)
            f.write("\n")
        print(f"{path}: {n} statements in {len(workload['iam']['policies'])} policies, "
              f"{len(workload['requests'])} requests {workload['mix']}, "
              f"{os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
