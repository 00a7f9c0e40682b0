#!/usr/bin/env bash
# Seeds the libFuzzer corpora fuzz/corpus/<target>/ from the conformance cases
# (tests/conformance/cases/*.yaml) and the example policies (examples/policies/*.json):
#   policy_parser_fuzzer   every policy document, as JSON text
#   glob_fuzzer            every Action/NotAction/Resource/NotResource pattern paired with the
#                          request's action or resource ("pattern\0text")
#   authorize_body_fuzzer  every case's request as a POST /v1/authorize body, alone and batched
#   evaluator_diff_fuzzer  the input is the choice stream of the case generator
#                          (tests/differential/generator.h): fixed pseudo-random byte strings
# Deterministic; safe to re-run (files are named by content hash). Needs python3 with PyYAML.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec python3 - "$root" <<'PY'
import glob, hashlib, json, os, random, sys
import yaml

root = sys.argv[1]
corpus = os.path.join(root, "fuzz", "corpus")

def put(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def documents(case):
    def unwrap(p):
        return p["policy"] if isinstance(p, dict) and "policy" in p and "Statement" not in p else p
    for p in case.get("identityPolicies") or []:
        yield unwrap(p)
    for p in case.get("permissionBoundaries") or []:
        yield unwrap(p)
    s = case.get("sessionPolicy")
    for p in (s if isinstance(s, list) else [s] if s else []):
        yield unwrap(p)
    if case.get("resourcePolicy"):
        yield unwrap(case["resourcePolicy"])
    for levels in (case.get("scps") or [], case.get("rcps") or []):
        for level in levels:
            if isinstance(level, dict) and "policies" in level:
                level = level["policies"]
            for p in (level if isinstance(level, list) else [level]):
                yield unwrap(p)

def as_list(v):
    return v if isinstance(v, list) else [v] if v is not None else []

def seed_globs(doc, request):
    statements = as_list(doc.get("Statement")) if isinstance(doc, dict) else []
    for st in statements:
        if not isinstance(st, dict):
            continue
        for key, text in (("Action", request.get("action", "")), ("NotAction", request.get("action", "")),
                          ("Resource", request.get("resource", "")), ("NotResource", request.get("resource", ""))):
            for pattern in as_list(st.get(key)):
                if isinstance(pattern, str):
                    put("glob_fuzzer", pattern.encode() + b"\0" + str(text).encode())

def authorize_body(request, token):
    body = {"sessionToken": token, "action": str(request.get("action", ""))}
    if request.get("resource") is not None:
        body["resource"] = str(request["resource"])
    context = request.get("context")
    if isinstance(context, dict) and context:
        body["context"] = {str(k): v for k, v in context.items()}
    return body

count = 0
batch = []
for path in sorted(glob.glob(os.path.join(root, "tests", "conformance", "cases", "**", "*.yaml"), recursive=True)):
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    for case in data.get("cases", []):
        request = case.get("request") or {}
        body = authorize_body(request, "xrt1.eyJzIjoiMSJ9.c2ln")
        put("authorize_body_fuzzer", json.dumps(body, separators=(",", ":"), default=str))
        batch.append(body)
        if len(batch) == 3:
            put("authorize_body_fuzzer", json.dumps({"requests": batch}, default=str))
            batch = []
        for doc in documents(case):
            put("policy_parser_fuzzer", json.dumps(doc, separators=(",", ":"), default=str))
            put("policy_parser_fuzzer", json.dumps(doc, indent=2, default=str))
            seed_globs(doc, request)
            count += 1

for path in sorted(glob.glob(os.path.join(root, "examples", "policies", "*.json"))):
    with open(path, "rb") as f:
        text = f.read()
    put("policy_parser_fuzzer", text)
    try:
        seed_globs(json.loads(text), {})
    except ValueError:
        pass
    count += 1

rng = random.Random(20261129)
for i in range(64):
    put("evaluator_diff_fuzzer", bytes(rng.randrange(256) for _ in range(16 + 8 * i)))

for target in ("policy_parser_fuzzer", "glob_fuzzer", "evaluator_diff_fuzzer", "authorize_body_fuzzer"):
    d = os.path.join(corpus, target)
    n = len(os.listdir(d)) if os.path.isdir(d) else 0
    print(f"{target}: {n} files")
print(f"from {count} policy documents")
PY
