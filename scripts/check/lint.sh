#!/usr/bin/env bash
# The code checks itself (npm test runs this): Biome for TypeScript/JavaScript
# (lint + format, biome.json) and clang-format for C++ (.clang-format, Debian's
# clang-format-14, installed by scripts/dev/bootstrap.sh with the test peers).
# The package's shape (exports, types for import and require under TypeScript
# 5.9 and 7, every Node line) is checked by test/package/install-fresh-root.sh
# on the packed tarball, not by publint: publint's rule that a "require" types
# file must match the JS module format contradicts the deliberate .d.cts twins
# (scripts/check/pack.mjs explains them), which that test compiles against.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx biome ci --reporter=summary
CF=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$CF" ]; then
  echo "lint: clang-format-14 is missing (apt-get install clang-format-14, or bash scripts/dev/bootstrap.sh)" >&2
  exit 1
fi
# The C++ sources, found without git: CI and fresh roots run on a copy without it.
cxx=$(find native test/native test/fuzz bench -maxdepth 2 -type f \( -name '*.cc' -o -name '*.h' \) | sort)
echo "$cxx" | xargs "$CF" --dry-run -Werror
echo "lint: clang-format: $(echo "$cxx" | wc -l) C++ files formatted"
