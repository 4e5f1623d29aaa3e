#!/usr/bin/env bash
# Builds the addon with ASan+UBSan (cmake-js, build-asan/) and runs the JS test
# suite (or the given vitest arguments) against it. Node itself is not
# instrumented, so libasan is preloaded and leak checking is off (V8 keeps
# allocations alive until exit by design); UBSan findings abort the test.
#   bash scripts/test/asan.sh [vitest args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
npx cmake-js compile --out build-asan --CDH5VAULT_SANITIZE=ON --CDH5VAULT_TESTS=OFF -B RelWithDebInfo >/dev/null
addon=$(find build-asan -name h5vault.node | head -1)
[ -n "$addon" ] || { echo "test-asan: no addon built" >&2; exit 1; }
export H5VAULT_BINDING="$PWD/$addon"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
exec npx vitest run "$@"
