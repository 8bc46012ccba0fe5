#!/usr/bin/env bash
# Builds the DICOM parser fuzzer with clang (libFuzzer + ASan) in its own
# build folder and runs it for a bounded time on a seed corpus of small valid
# files. Usage: run_fuzzer.sh SOURCE_DIR BUILD_DIR SEED_TOOL SECONDS
set -euo pipefail
src=$1 build=$2 seedtool=$3 seconds=$4
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DFLUOROPLAN_FUZZ_ONLY=ON -DFLUOROPLAN_WERROR=ON >/dev/null
cmake --build "$build" --target dicom_parser_fuzzer
corpus="$build/corpus"
rm -rf "$corpus" "$build/seeds"
mkdir -p "$corpus"
"$seedtool" "$build/seeds"
# Real files too, when the shared data is beside the project (read-only there).
for f in "$src"/../shared/data/rdsr/*.dcm "$src"/../shared/data/rf/*.dcm; do
  [ -f "$f" ] && cp "$f" "$build/seeds/" || true
done
export TMPDIR="$build"
"$build/tests/fuzz/dicom_parser_fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=2048 \
  -timeout=20 -print_final_stats=1 -artifact_prefix="$build/" "$corpus" "$build/seeds"
