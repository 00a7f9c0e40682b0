#!/usr/bin/env bash
# Installs what building and testing xrole needs on Debian 12: compilers and libraries from
# Debian's packages, and the pinned node test tools (tests/oracle) from the npm registry.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(build-essential cmake pkg-config git
  nlohmann-json3-dev libcli11-dev libyaml-dev libyaml-cpp-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format python3 python3-yaml
  libssl-dev libsqlite3-dev sqlite3 libboost1.81-dev libsimdjson-dev libcpp-httplib-dev libgoogle-perftools-dev wrk curl
  awscli python3-boto3)  # the real AWS clients of the STS end-to-end tests
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node test tools (the IAM oracle, the AWS action catalogue, Cedar for benchmarks), pinned.
if [ ! -d tests/oracle/node_modules ] || [ tests/oracle/package-lock.json -nt tests/oracle/node_modules ]; then
  (cd tests/oracle && npm ci --no-audit --no-fund --loglevel=error)
fi
