#!/usr/bin/env bash
# HTTP benchmarks of `xrole serve` over loopback (keep-alive): /v1/authorize at 64 and 1,000
# connections, closed loop with wrk and open loop at fixed rates with bench/http/openloop.cc;
# assume (token signing + durable audit); the time from a revoke call returning to the first
# denied request. Server and wrk share this machine's cores; report the
# medians of one run. Usage: scripts/bench/server.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${1:-build}"
SECONDS_PER_RUN="${2:-10}"
XROLE="$BUILD/src/xrole"
DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SERVER="http://127.0.0.1:$PORT"
ulimit -n 65536 2>/dev/null || true
"$XROLE" serve --data "$DATA" --listen "127.0.0.1:$PORT" --load examples/roles/*.yaml >"$DATA/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -fsS "$SERVER/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

ADMIN="$(cat "$DATA/admin.token")"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -fsS -X POST -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "$SERVER$2" -d "$3"; }
AGENT="$(post "$ADMIN" /v1/agents/ir-agent/credentials '{}' | json '["bearerToken"]')"
RUN="$(post "$AGENT" /v1/runs '{"workflow":"incident-response","ttlSeconds":7200}' | json '["runId"]')"
TOKEN="$(post "$AGENT" /v1/sessions "{\"role\":\"incident-responder\",\"runId\":\"$RUN\",\"durationSeconds\":900}" | json '["credentials"]["sessionToken"]')"
export XROLE_SESSION_TOKEN="$TOKEN" XROLE_AGENT_BEARER="$AGENT" XROLE_RUN_ID="$RUN"

run_wrk() {  # NAME CONNECTIONS SCRIPT
  echo "== $1: wrk -t2 -c$2 -d${SECONDS_PER_RUN}s --latency"
  wrk -t2 -c"$2" -d"${SECONDS_PER_RUN}s" --latency -s "$3" "$SERVER" |
    grep -E 'Requests/sec|Non-2xx|Socket errors|^ +(50|90|99)%'
}
run_wrk "authorize, 64 connections" 64 bench/http/authorize.lua
run_wrk "authorize, 1000 connections" 1000 bench/http/authorize.lua
# Latency at a fixed offered rate (open loop, bench/http/openloop.cc): at 1,000 connections
# wrk's closed loop measures 1,000 / throughput rather than the server.
for r in "ec2:StopInstances arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc" "ec2:DescribeInstances *" \
         "ec2:DeleteSnapshot arn:aws:ec2:eu-west-1::snapshot/snap-1" "s3:GetObject arn:aws:s3:::evidence/disk.img"; do
  set -- $r
  echo "{\"sessionToken\":\"$TOKEN\",\"action\":\"$1\",\"resource\":\"$2\"}"
done >"$DATA/authorize-bodies"
for connections in 64 1000; do
  for rate in 10000 20000 30000; do
    echo "== authorize, open loop: $rate req/s over $connections connections"
    "$BUILD/bench/openloop" --port "$PORT" --connections "$connections" --rate "$rate" \
      --seconds "$SECONDS_PER_RUN" --warmup 2 --bodies "$DATA/authorize-bodies" || true
  done
done
run_wrk "assume (sign + durable audit), 64 connections" 64 bench/http/assume.lua
# STS AssumeRole from an unmodified SDK's signer (botocore), signed with the run's credentials.
if /usr/bin/python3 -c 'import botocore' 2>/dev/null; then
  RUN_CREDS="$(post "$AGENT" /v1/runs '{"workflow":"incident-response","ttlSeconds":7200}')"
  KEY_ID="$(echo "$RUN_CREDS" | json '["credentials"]["accessKeyId"]')"
  KEY_SECRET="$(echo "$RUN_CREDS" | json '["credentials"]["secretAccessKey"]')"
  ROLE_ARN="$(curl -fsS -H "Authorization: Bearer $ADMIN" "$SERVER/v1/roles/incident-responder" | json '["arn"]')"
  /usr/bin/python3 bench/http/sts_assume.py "$SERVER" "$KEY_ID" "$KEY_SECRET" "$ROLE_ARN" "$DATA/sts.lua" 500
  run_wrk "STS AssumeRole (SigV4 + sign + durable audit), 64 connections" 64 "$DATA/sts.lua"
else
  echo "== STS AssumeRole: skipped (botocore is not importable by /usr/bin/python3)"
fi
echo "== revoke -> first denied request"
python3 bench/http/revoke_latency.py "$SERVER" "$ADMIN" "$AGENT" "$RUN" 200
echo "== audit chain after the run"
curl -sS -H "Authorization: Bearer $ADMIN" "$SERVER/v1/audit/verify" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print("verify ok:", d["ok"], "records:", d["records"], "checkpoints:", d["checkpoints"])'
