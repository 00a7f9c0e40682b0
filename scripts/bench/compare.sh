#!/usr/bin/env bash
# compare.sh: measures xrole's policy evaluation against iam-simulate and Cedar on the same
# workloads in one run, and prints the comparison table (markdown) used in docs/performance.md.
#
# Steps: configure + build bench/policy_eval_bench (Release), make the workloads if missing,
# run the Google Benchmark (5 repetitions, medians), run bench/node/compare.mjs (5 repetitions,
# medians, decisions checked against xrole's), then scripts/bench/make_table.py.
#
# Needs: cmake, a C++20 compiler, the Debian packages of scripts/setup.sh, python3, node, and
# `npm ci` done in tests/oracle (the pinned iam-simulate and cedar-wasm).
#
# Environment: BUILD_DIR (default build-bench), OUT_DIR (default $BUILD_DIR/bench-results),
# REPS (default 5), MIN_TIME (seconds per node repetition, default 1), SIZES (10,100,1000),
# JOBS (build parallelism, default 2).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${BUILD_DIR:-$repo/build-bench}"
out_dir="${OUT_DIR:-$build_dir/bench-results}"
reps="${REPS:-5}"
min_time="${MIN_TIME:-1}"
sizes="${SIZES:-10,100,1000}"
jobs="${JOBS:-2}"

if [[ ! -d "$repo/tests/oracle/node_modules/@cedar-policy/cedar-wasm" ||
      ! -d "$repo/tests/oracle/node_modules/@cloud-copilot/iam-simulate" ]]; then
  echo "compare.sh: run \`npm ci\` in tests/oracle first" >&2
  exit 2
fi

extra_flags=""  # cmake/warnings.cmake handles compiler quirks

echo "== build ($build_dir)" >&2
cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DXROLE_BUILD_BENCH=ON \
  -DXROLE_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="$extra_flags" >/dev/null
cmake --build "$build_dir" --target policy_eval_bench -j "$jobs" >/dev/null

IFS=',' read -r -a size_list <<<"$sizes"
for n in "${size_list[@]}"; do
  if [[ ! -f "$repo/bench/workloads/${n}stmt.json" ]]; then
    echo "== workloads (missing ${n}stmt.json)" >&2
    python3 "$repo/scripts/bench/make_workload.py" --out "$repo/bench/workloads" >&2
    break
  fi
done

mkdir -p "$out_dir"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
date -u +%Y-%m-%dT%H:%M:%SZ >"$out_dir/date.txt"

filter="BM_Evaluate/($(tr ',' '|' <<<"$sizes"))/|BM_EvaluateReference/10/|BM_CompileManagedPolicies"
echo "== xrole (Google Benchmark, $reps repetitions)" >&2
"$build_dir/bench/policy_eval_bench" \
  --decisions_out="$out_dir" \
  --benchmark_filter="$filter" \
  --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out_dir/xrole.json" --benchmark_out_format=json >&2

echo "== iam-simulate and cedar (node, $reps repetitions)" >&2
node_status=0
node "$repo/bench/node/compare.mjs" --sizes "$sizes" --reps "$reps" --min-time "$min_time" \
  --xrole-decisions "$out_dir" --json "$out_dir/node.json" >&2 || node_status=$?
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$repo/scripts/bench/make_table.py" --xrole "$out_dir/xrole.json" \
  --node "$out_dir/node.json" --date "$(cat "$out_dir/date.txt")" \
  --load "$load_before -> $load_after" --reps "$reps" | tee "$out_dir/table.md"

if [[ $node_status -ne 0 ]]; then
  echo "compare.sh: the engines' decisions disagree on some requests (see above)" >&2
  exit "$node_status"
fi
