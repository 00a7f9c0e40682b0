#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time (seconds, default 30),
# seeded from the conformance cases. Any crash or disagreement fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
targets=(policy_parser_fuzzer evaluator_diff_fuzzer glob_fuzzer objects_fuzzer token_fuzzer
         sigv4_fuzzer authorize_body_fuzzer audit_segments_fuzzer)
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DXROLE_BUILD_FUZZ=ON -DXROLE_BUILD_TESTS=OFF -DXROLE_BUILD_BENCH=OFF \
  ${XROLE_CXX_FLAGS_RELWITHDEBINFO:+-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$XROLE_CXX_FLAGS_RELWITHDEBINFO"} >/dev/null
# Only the fuzz targets and the libraries they link (not the server and the CLI).
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
scripts/make_fuzz_corpus.sh  # seeds fuzz/corpus/<target>/ from the conformance cases
for target in build-fuzz/fuzz/*_fuzzer; do
  name="$(basename "$target")"
  mkdir -p "build-fuzz/corpus/$name" "fuzz/corpus/$name"
  echo "fuzzing $name for ${seconds}s"
  # New inputs go to the first (build) directory; the seeds are read from the second.
  "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "build-fuzz/corpus/$name" "fuzz/corpus/$name" 2>"build-fuzz/$name.log" ||
    { tail -50 "build-fuzz/$name.log"; exit 1; }
  grep -E "stat::number_of_executed_units" "build-fuzz/$name.log" || true
done
