#!/usr/bin/env bash
# walkthrough.sh: the four scenarios of the design (incident response, code deployment, data
# enrichment, remediation) driven with the `xrole` CLI only, against a running server. Every
# step prints the command, who runs it and what came back, and checks the outcome: the script
# exits non-zero at the first step that does not give the expected result, so it doubles as a
# smoke test of the server and the CLI.
#
#   xrole serve --data DIR --listen 127.0.0.1:8600 &
#   XROLE_SERVER=http://127.0.0.1:8600 XROLE_DATA=DIR bash examples/walkthrough.sh
#
# Environment: XROLE_SERVER (default http://127.0.0.1:8600); the admin credential is XROLE_TOKEN
# or DIR/admin.token with XROLE_DATA=DIR; XROLE_BIN the xrole binary (default: `xrole` on PATH,
# else build/src/xrole in this repository). The script applies examples/roles/ itself, so a
# fresh server is enough; it can run again against the same server.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
if [[ -n "${XROLE_BIN:-}" ]]; then
  xrole_bin=$XROLE_BIN
elif command -v xrole >/dev/null 2>&1; then
  xrole_bin=$(command -v xrole)
else
  xrole_bin=$repo/build/src/xrole
fi
[[ -x "$xrole_bin" ]] || { echo "walkthrough: no xrole binary (set XROLE_BIN)" >&2; exit 2; }

admin_token=${XROLE_TOKEN:-}  # empty: the CLI reads XROLE_DATA/admin.token
unset XROLE_TOKEN XROLE_SESSION_TOKEN XROLE_SESSION_ID
err_file=$(mktemp)
trap 'rm -f "$err_file"' EXIT

actor="admin"
token=$admin_token
OUT=""
ERR=""

# acting_as NAME TOKEN: the principal (and its credential) that runs the next commands.
acting_as() { actor=$1; token=$2; }

fail() {
  echo "walkthrough: FAILED: $*" >&2
  exit 1
}

# x EXIT ARGS...: runs `xrole ARGS` as the current principal, shows the command and its output,
# and fails unless it exits with EXIT. Standard output is left in OUT, standard error in ERR.
x() {
  local want=$1
  shift
  local shown="" arg
  for arg in "$@"; do
    [[ "$arg" =~ ^[A-Za-z0-9_./:=@,+*-]+$ ]] && shown+=" $arg" || shown+=" '$arg'"
  done
  printf '\n[%s] $ xrole%s\n' "$actor" "$shown"
  OUT=$(XROLE_TOKEN=$token "$xrole_bin" "$@" 2>"$err_file")
  local rc=$?
  ERR=$(cat "$err_file")
  [[ -n "$OUT" ]] && printf '%s\n' "$OUT" | sed 's/^/    /'
  [[ -n "$ERR" ]] && printf '%s\n' "$ERR" | sed 's/^/    (stderr) /'
  [[ $rc -eq $want ]] || fail "\`xrole $*\` exited $rc, expected $want"
}

# decision WORD: the last `xrole authorize` decided WORD.
decision() {
  [[ "$(printf '%s\n' "$OUT" | head -n1)" == "$1" ]] || fail "expected decision $1"
  echo "    -> $1, as expected"
}

# mentions TEXT: the last command's output (either stream) says TEXT.
mentions() {
  [[ "$OUT$ERR" == *"$1"* ]] || fail "expected the output to mention \`$1\`"
}

# credential KIND NAME: issues an access key pair and prints the bearer token (AKID:SECRET).
credential() {
  acting_as admin "$admin_token"
  x 0 "$1" credentials "$2"
  local bearer
  bearer=$(printf '%s\n' "$OUT" | sed -n 's/^export XROLE_TOKEN=//p')
  [[ -n "$bearer" ]] || fail "no XROLE_TOKEN line from \`xrole $1 credentials $2\`"
  CREDENTIAL=$bearer
}

# session_env: takes the XROLE_SESSION_TOKEN/XROLE_SESSION_ID of the last `assume --format env`.
session_env() {
  eval "$OUT"
  [[ -n "${XROLE_SESSION_TOKEN:-}" ]] || fail "no session token in the assume output"
  export XROLE_SESSION_TOKEN
}

echo "xrole walkthrough against ${XROLE_SERVER:-http://127.0.0.1:8600} ($xrole_bin)"
x 0 health
x 0 apply -f "$repo/examples/roles/"
x 0 roles

# ---------------------------------------------------------------------------------------------
echo
echo "=== 1. Incident response: contain an instance, never destroy evidence or touch logging"
credential agent ir-agent
ir_token=$CREDENTIAL
acting_as ir-agent "$ir_token"
x 0 run start --workflow incident-response --tag finding=gd-7f3a --ttl 1h
ir_run=$(printf '%s\n' "$OUT" | head -n1)
[[ "$ir_run" == run-* ]] || fail "run start did not print a run id first"
x 0 assume --role incident-responder --run "$ir_run" --session-name triage-gd-7f3a --format env
session_env
ir_session=$XROLE_SESSION_TOKEN
x 0 authorize --action ec2:StopInstances \
  --resource arn:aws:ec2:eu-west-1:111122223333:instance/i-0c0ffee1234567890
decision Allowed
x 0 authorize --action ec2:CreateSnapshot \
  --resource arn:aws:ec2:eu-west-1:111122223333:volume/vol-0c0ffee1234567890
decision Allowed
x 1 authorize --action ec2:DeleteSnapshot --resource arn:aws:ec2:eu-west-1::snapshot/snap-0123
decision ExplicitlyDenied
mentions NeverDestroyEvidence
x 1 authorize --action cloudtrail:StopLogging \
  --resource arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail
decision ExplicitlyDenied
mentions NeverTouchLogging
x 1 authorize --action ec2:StopInstances \
  --resource arn:aws:ec2:us-east-1:111122223333:instance/i-0c0ffee1234567890
decision ImplicitlyDenied
x 0 run end "$ir_run"
mentions "session"
XROLE_SESSION_TOKEN=$ir_session
x 1 authorize --action ec2:StopInstances \
  --resource arn:aws:ec2:eu-west-1:111122223333:instance/i-0c0ffee1234567890
decision ImplicitlyDenied
mentions revoked
echo "    -> the run is over: its session token is rejected"

# ---------------------------------------------------------------------------------------------
echo
echo "=== 2. Code deployment: staging on its own, production only with a human approval"
credential agent code-agent
code_token=$CREDENTIAL
credential human alice
alice_token=$CREDENTIAL
credential human bob
bob_token=$CREDENTIAL
# alice starts the run for the agent: she becomes its initiator (authenticated, not claimed).
acting_as alice "$alice_token"
x 0 run start --workflow code-deploy --agent code-agent --tag change-ticket=CHG-4711
deploy_run=$(printf '%s\n' "$OUT" | head -n1)
acting_as code-agent "$code_token"
x 0 assume --role deploy-staging --run "$deploy_run" --format env
session_env
x 0 authorize --action lambda:UpdateFunctionCode \
  --resource arn:aws:lambda:eu-west-1:222233334444:function:checkout-api
decision Allowed
x 3 assume --role deploy-production --run "$deploy_run" --duration 15m
approval=$(printf '%s\n' "$OUT" | head -n1)
[[ "$approval" == apr-* ]] || fail "a pending assume did not print the approval id"
mentions "approval required"
acting_as bob "$bob_token"
x 0 approvals
mentions "$approval"
acting_as alice "$alice_token"
x 1 approve "$approval" --reason "my own change"
mentions "separation of duties"
echo "    -> refused: alice started the run (separation of duties)"
acting_as bob "$bob_token"
x 0 approve "$approval" --reason "CHG-4711 reviewed"
mentions approved
acting_as code-agent "$code_token"
x 0 assume --role deploy-production --run "$deploy_run" --duration 15m --approval "$approval" \
  --format env
session_env
x 0 authorize --action lambda:UpdateFunctionCode \
  --resource arn:aws:lambda:eu-west-1:444455556666:function:checkout-api
decision Allowed
x 1 authorize --action iam:PassRole --resource arn:aws:iam::444455556666:role/admin
decision ImplicitlyDenied
x 1 assume --role deploy-production --run "$deploy_run" --approval "$approval" --format env
echo "    -> an approval is redeemed once"
acting_as admin "$admin_token"
x 0 run end "$deploy_run"

# ---------------------------------------------------------------------------------------------
echo
echo "=== 3. Data enrichment: one dataset prefix, one queue, nothing else"
credential agent enrich-agent
enrich_token=$CREDENTIAL
acting_as enrich-agent "$enrich_token"
x 0 run start --workflow data-enrichment --ttl 4h
enrich_run=$(printf '%s\n' "$OUT" | head -n1)
x 0 assume --role enrich-reader-writer --run "$enrich_run" --duration 1h --format env
session_env
x 0 authorize --action s3:GetObject --resource arn:aws:s3:::datasets/customer-2026/part-0001.json
decision Allowed
x 1 authorize --action s3:GetObject --resource arn:aws:s3:::datasets/warehouse/orders-2026.parquet
decision ImplicitlyDenied
x 1 authorize --action s3:GetObject --resource arn:aws:s3:::warehouse/customers/all.parquet
decision ImplicitlyDenied
x 0 authorize --action s3:ListBucket --resource arn:aws:s3:::datasets \
  --context s3:prefix=customer-2026/
decision Allowed
x 1 authorize --action s3:ListBucket --resource arn:aws:s3:::datasets --context s3:prefix=
decision ImplicitlyDenied
x 0 authorize --action sqs:SendMessage \
  --resource arn:aws:sqs:eu-west-1:111122223333:customer-enrichment-results
decision Allowed
x 1 authorize --action sqs:SendMessage \
  --resource arn:aws:sqs:eu-west-1:111122223333:marketing-exports
decision ImplicitlyDenied
x 0 run end "$enrich_run"

# ---------------------------------------------------------------------------------------------
echo
echo "=== 4. Remediation: fix posture findings, aligned to named control objectives"
x 0 roles remediation-tagger
mentions "PR.PS-01"
credential agent remediation-agent
remediation_token=$CREDENTIAL
acting_as remediation-agent "$remediation_token"
x 0 run start --workflow remediation --tag finding=sh-untagged-volume
remediation_run=$(printf '%s\n' "$OUT" | head -n1)
x 0 assume --role remediation-tagger --run "$remediation_run" --format env
session_env
x 0 authorize --action ec2:CreateTags \
  --resource arn:aws:ec2:eu-west-1:111122223333:volume/vol-0badc0ffee0000001 \
  --context aws:TagKeys=owner --context aws:TagKeys=cost-center
decision Allowed
x 1 authorize --action ec2:CreateTags \
  --resource arn:aws:ec2:eu-west-1:111122223333:volume/vol-0badc0ffee0000001 \
  --context aws:TagKeys=owner --context aws:TagKeys=Name
decision ImplicitlyDenied
x 1 authorize --action ec2:DeleteSnapshot --resource arn:aws:ec2:eu-west-1::snapshot/snap-0456
decision ExplicitlyDenied
acting_as admin "$admin_token"
x 0 revoke --role remediation-tagger --reason "walkthrough: role under review"
mentions revoked
acting_as remediation-agent "$remediation_token"
x 1 authorize --action ec2:CreateTags \
  --resource arn:aws:ec2:eu-west-1:111122223333:volume/vol-0badc0ffee0000001 \
  --context aws:TagKeys=owner
decision ImplicitlyDenied
mentions revoked
echo "    -> revoked by role: the session token no longer works"

# ---------------------------------------------------------------------------------------------
echo
echo "=== The audit log recorded every step, hash-chained and signed"
acting_as admin "$admin_token"
x 0 audit verify
mentions "ok:"
echo
echo "walkthrough: all scenarios gave the expected results"
