#!/usr/bin/env bash
# Prints the path of an official Node.js binary for Linux, fetched once from the
# npm registry (node-linux-ARCH@MAJOR: bin/node only, about 50 MB packed) into
# /var/cache/h5vault-node, for the package tests that run the packed package
# on several Node lines and CPUs (test/package/).
#   bash scripts/test/node-binary.sh x64|arm64 MAJOR
set -euo pipefail
arch=$1 major=$2
node_cache=/var/cache/h5vault-node
dir="$node_cache/$([ "$arch" = x64 ] && echo "$major" || echo "$arch-$major")"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$node_cache"
  t=$(mktemp -d "$node_cache/.fetch.XXXXXX")
  (cd "$t" && npm pack --silent "node-linux-$arch@$major" >/dev/null && tar -xzf "node-linux-$arch"-*.tgz package/bin/node)
  rm -rf "$dir"; mkdir -p "$dir/bin"; mv "$t/package/bin/node" "$dir/bin/node"; rm -rf "$t"
fi
echo "$dir/bin/node"
