#!/usr/bin/env bash
# xrole's main job on a fresh Debian 12 machine: install, build, start the broker (`xrole serve`)
# on the embedded SQLite store with the four reference scenarios of examples/roles loaded, walk
# through them once with the CLI, then keep serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh build -DXROLE_BUILD_TESTS=OFF -DXROLE_BUILD_BENCH=OFF

XROLE=./build/src/xrole
export XROLE_DATA="${XROLE_DATA:-$PWD/xrole-data}"
LISTEN="${XROLE_LISTEN:-127.0.0.1:8600}"
export XROLE_SERVER="http://$LISTEN"

echo
echo "== xrole serve --data $XROLE_DATA --listen $LISTEN --load examples/roles/*.yaml"
"$XROLE" serve --data "$XROLE_DATA" --listen "$LISTEN" --load examples/roles/*.yaml &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS "$XROLE_SERVER/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { echo "xrole serve did not start" >&2; exit 1; }
  sleep 0.1
done

echo
echo "== the four reference scenarios, driven with the CLI (examples/walkthrough.sh)"
XROLE="$XROLE" bash examples/walkthrough.sh

cat <<MSG

== xrole is serving on $XROLE_SERVER (data and admin token in $XROLE_DATA; Ctrl-C stops it)
Try, in another terminal (export XROLE_SERVER=$XROLE_SERVER XROLE_DATA=$XROLE_DATA):
  $XROLE roles                                   # execution roles, objectives, approval rules
  $XROLE roles incident-responder                # one role, with its blast radius
  $XROLE agent credentials ir-agent              # an access key for the agent (shown once)
  XROLE_TOKEN=AKID:SECRET $XROLE run start --workflow incident-response
  XROLE_TOKEN=AKID:SECRET $XROLE assume --role incident-responder --run RUN_ID --format env
  $XROLE authorize --token \$XROLE_SESSION_TOKEN --action ec2:StopInstances \\
      --resource arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc
  $XROLE revoke --run RUN_ID ; $XROLE audit verify ; $XROLE audit export -o audit.jsonl
MSG
wait $server
