#!/bin/sh
# Builds the core static library (CMake, Release) and bench/native_engine.cc,
# then runs it. Usage: bench/native_engine.sh   (env: see bench/native_engine.cc)
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-native"
cmake -S "$root" -B "$build" -DH5VAULT_ADDON=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target h5vault_core -j 2 >/dev/null
deps="hdf5 liblz4 libdeflate liblzf"
g++ -std=c++17 -O2 -DH5_USE_110_API -I"$root/native" $(pkg-config --cflags $deps) \
  "$root/bench/native_engine.cc" "$build/libh5vault_core.a" $(pkg-config --libs $deps) -lpthread \
  -o "$build/bench_native_engine"
exec "$build/bench_native_engine"
