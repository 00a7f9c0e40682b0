#!/usr/bin/env bash
# Seeds the libFuzzer corpora fuzz/corpus/<target>/ from the conformance cases
# (tests/conformance/cases/*.yaml) and the example policies (examples/policies/*.json):
#   policy_parser_fuzzer   every policy document, as JSON text
#   glob_fuzzer            every Action/NotAction/Resource/NotResource pattern paired with the
#                          request's action or resource ("pattern\0text")
#   authorize_body_fuzzer  every case's request as a POST /v1/authorize body, alone and batched
#   evaluator_diff_fuzzer  the input is the choice stream of the case generator
#                          (tests/differential/generator.h): fixed pseudo-random byte strings
#   audit_segments_fuzzer  audit segment files in the layout of src/store/audit_segments.h:
#                          whole lines, a torn last line, a garbage line, two files (0x1E
#                          between them, then the second file's first seq - 2 as one byte),
#                          and the inputs of two fixed bugs
#   objects_fuzzer         every roles-as-code file of examples/roles (YAML), each also as JSON,
#                          and YAML with anchors, aliases, tags and several documents
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

def segment_line(seq, prev_hash, type_="authorize", body=None):
    # The layout of SegmentLine (src/store/audit_segments.cc): a canonical body, kept verbatim.
    if body is None:
        body = json.dumps({"action": "s3:GetObject", "decision": "allow", "n": seq},
                          separators=(",", ":"), sort_keys=True)
    h = hashlib.sha256((prev_hash + body).encode()).hexdigest()
    head = json.dumps({"seq": seq, "time": 1700000000000 + seq, "type": type_,
                       "prevHash": prev_hash, "hash": h}, separators=(",", ":"))
    return head[:-1] + ',"event":' + body + "}\n", h

def segment_lines(first, count, prev_hash=""):
    text = ""
    for seq in range(first, first + count):
        line, prev_hash = segment_line(seq, prev_hash)
        text += line
    return text, prev_hash

whole, last_hash = segment_lines(1, 3)
put("audit_segments_fuzzer", whole)
torn, _ = segment_line(4, last_hash)
put("audit_segments_fuzzer", whole + torn[:len(torn) // 2])
lines = whole.splitlines(keepends=True)
put("audit_segments_fuzzer", lines[0] + "not a record\n" + "".join(lines[2:]))
odd, _ = segment_line(1, "", type_="caf\u00e9 \"q\"\t\U0001F600",
                      body='{"a":{"event":[1,2.5,null,true]},"b":"x\\u0000y"}')
put("audit_segments_fuzzer", odd)
first_file, last_hash = segment_lines(1, 2)
second_file, _ = segment_lines(3, 2, last_hash)
put("audit_segments_fuzzer", first_file + "\x1e" + chr(3 - 2) + second_file)
# Regressions: a file whose only newline is its first byte; Read after INT64_MAX (last byte 5).
put("audit_segments_fuzzer", "\n" + torn[:20])
put("audit_segments_fuzzer", whole + "\x05")

for path in sorted(glob.glob(os.path.join(root, "examples", "roles", "*.yaml"))):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    put("objects_fuzzer", text)
    put("objects_fuzzer", json.dumps(list(yaml.safe_load_all(text)), indent=1, default=str))
put("objects_fuzzer", "apiVersion: xrole/v1\nkind: Human\nmetadata: {name: &n h}\n"
                      "spec: {description: *n, canApprove: !!str true}\n---\n"
                      "- apiVersion: xrole/v1\n  kind: Agent\n  metadata: {name: a}\n"
                      "  spec:\n    sponsor: h\n    description: |\n      two\n      lines\n")

for target in ("policy_parser_fuzzer", "glob_fuzzer", "evaluator_diff_fuzzer", "authorize_body_fuzzer",
               "audit_segments_fuzzer", "objects_fuzzer"):
    d = os.path.join(corpus, target)
    n = len(os.listdir(d)) if os.path.isdir(d) else 0
    print(f"{target}: {n} files")
print(f"from {count} policy documents")
PY
