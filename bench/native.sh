#!/bin/sh
# Builds the core static library (CMake, Release) and one C++ benchmark,
# bench/NAME.cc, against it, then runs it (no Node involved).
#   bash bench/native.sh native_engine|chunk_index_build|native_codecs
# Each benchmark's header says what it measures and which env it reads. The
# system libraries come from scripts/build/pkg-config.mjs (one list for every build).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: bash bench/native.sh native_engine|chunk_index_build|native_codecs}
[ -f "$root/bench/$name.cc" ] || { echo "bench/native.sh: no bench/$name.cc" >&2; exit 2; }
build="$root/build-native"
cmake -S "$root" -B "$build" -DH5VAULT_ADDON=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target h5vault_core -j 2 >/dev/null
opt=-O2
[ "$name" = native_codecs ] && opt=-O3 # its published figures were measured at -O3
g++ -std=c++17 $opt -DH5_USE_110_API -I"$root/native" $(node "$root/scripts/build/pkg-config.mjs" --cflags) \
  "$root/bench/$name.cc" "$build/libh5vault_core.a" -lhdf5_hl $(node "$root/scripts/build/pkg-config.mjs" --libs) -lpthread \
  -o "$build/bench_$name"
exec "$build/bench_$name"
