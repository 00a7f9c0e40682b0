#!/usr/bin/env bash
# xrole's main job on a fresh Debian 12 machine: install, build, then lint and evaluate the
# shipped example policies and authorization cases.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh build -DXROLE_BUILD_TESTS=OFF -DXROLE_BUILD_BENCH=OFF

echo
echo "== xrole lint: the example role policies, trust policy and organisation guardrail"
lint() { ./build/src/xrole lint "$@" && echo "ok (exit 0, no errors): ${*: -1}"; }
for role in incident-responder staging-deployer data-enrichment remediation; do
  lint examples/policies/$role.json
done
lint examples/policies/production-deployer-trust.json
lint --kind scp examples/policies/guardrail-no-evidence-destruction.json
echo
echo "== xrole eval examples/cases.jsonl"
./build/src/xrole eval examples/cases.jsonl
echo
echo "== xrole eval --explain (first case)"
head -n 1 examples/cases.jsonl | ./build/src/xrole eval --explain -
echo
echo "The xrole binary is ./build/src/xrole; see README.md for more."
