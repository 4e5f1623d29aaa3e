#!/usr/bin/env bash
# Builds the libFuzzer harnesses (test/fuzz/fuzz_*.cc) with clang and runs each
# for N seconds (default 10) on a scratch copy of its seed corpus. Fails if any
# fuzzer crashes, leaks or trips a sanitizer; crash inputs are left in
# build-fuzz/artifacts/<fuzzer>/.
#   scripts/test/fuzz.sh [seconds-per-fuzzer] [fuzzer-name-filter]
# fuzz_walk drives libhdf5's own parser, which crashes on malformed metadata
# within seconds (libhdf5 1.10.8 bugs, contained by the untrusted child
# process, see docs/security.md). By default it only replays its seed corpus
# (-runs=0) so the smoke run tests our harness; FUZZ_WALK=1 fuzzes it for real.
# Needs clang with the libFuzzer runtime (Debian: clang-14 libclang-rt-14-dev).
set -euo pipefail

SECONDS_PER="${1:-10}"
FILTER="${2:-}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$ROOT/build-fuzz"

pick() {
  for c in "$@"; do
    if command -v "$c" >/dev/null 2>&1; then echo "$c"; return 0; fi
  done
  return 1
}
CC_BIN="${CC:-$(pick clang-14 clang || true)}"
CXX_BIN="${CXX:-$(pick clang++-14 clang++ || true)}"
if [[ -z "$CC_BIN" || -z "$CXX_BIN" ]] || ! "$CXX_BIN" --version 2>/dev/null | grep -qi clang; then
  echo "fuzz.sh: clang not found. Install it: apt-get install -y clang-14 libclang-rt-14-dev" >&2
  exit 2
fi

CC="$CC_BIN" CXX="$CXX_BIN" cmake -S "$ROOT" -B "$BUILD" \
  -DH5VAULT_FUZZ=ON -DH5VAULT_ADDON=OFF -DH5VAULT_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null

status=0
for src in "$ROOT"/test/fuzz/fuzz_*.cc; do
  name="$(basename "$src" .cc)"
  [[ -n "$FILTER" && "$name" != *"$FILTER"* ]] && continue
  bin="$BUILD/$name"
  work="$BUILD/corpus-run/$name"
  art="$BUILD/artifacts/$name"
  rm -rf "$work"
  mkdir -p "$work" "$art"
  if [[ -d "$ROOT/test/fuzz/corpus/$name" ]]; then
    cp "$ROOT/test/fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
  fi
  mode=(-max_total_time="$SECONDS_PER")
  if [[ "$name" == fuzz_walk && "${FUZZ_WALK:-0}" != 1 ]]; then
    mode=(-runs=0)
    echo "== $name: replay seeds only (FUZZ_WALK=1 to fuzz libhdf5's parser)"
  else
    echo "== $name: ${SECONDS_PER}s"
  fi
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$bin" "$work" "${mode[@]}" -max_len=65536 -rss_limit_mb=2048 \
       -timeout=10 -print_final_stats=1 -artifact_prefix="$art/" >"$BUILD/$name.log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$BUILD/$name.log" | sed 's/^/   /'
  else
    echo "!! $name FAILED (log: $BUILD/$name.log, inputs: $art/)"
    tail -n 40 "$BUILD/$name.log"
    status=1
  fi
done
exit $status
