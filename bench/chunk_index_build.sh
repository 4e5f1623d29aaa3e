#!/bin/sh
# Builds the core static library (CMake, Release) and bench/chunk_index_build.cc,
# then runs it. Usage: bench/chunk_index_build.sh   (env: see bench/chunk_index_build.cc)
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-native"
cmake -S "$root" -B "$build" -DH5VAULT_ADDON=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target h5vault_core -j 2 >/dev/null
deps="hdf5 liblz4 libdeflate liblzf"
g++ -std=c++17 -O2 -DH5_USE_110_API -I"$root/native" $(pkg-config --cflags $deps) \
  "$root/bench/chunk_index_build.cc" "$build/libh5vault_core.a" $(pkg-config --libs $deps) -lpthread \
  -o "$build/bench_chunk_index_build"
exec "$build/bench_chunk_index_build"
