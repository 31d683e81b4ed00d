#!/usr/bin/env bash
# Reduced hardening pass for .ci/run (budget <= 5 min on 2 cores): sanitized build with the native
# tests in it (one compile), ctest + binding suite under ASan/UBSan, a short fuzz run, a short leak
# check, and valgrind if it is installed. The full pass is `npm run test:hardening`.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
echo "== hardening (reduced)"
MOCHA_SPECS="dist/test/engine/contract.test.js dist/test/hardening/*.test.js" bash scripts/hardening/sanitize.sh --fast
echo "== fuzz (scale 0.1)"
node dist/bench/hardening/fuzz.js --scale 0.1
echo "== leak check (reduced)"
node --expose-gc dist/bench/hardening/leak-check.js --steps 3000 --cycles 400
if command -v valgrind >/dev/null; then
  echo "== valgrind"
  BIGSTEP_ADDON=${BIGSTEP_ADDON:-$PWD/build/Release/bigstep.node} bash scripts/hardening/valgrind.sh
else
  echo "== valgrind: not installed, skipped (apt-get install -y valgrind)"
fi
echo "hardening ci: $(( $(date +%s) - start )) s"
