#!/usr/bin/env bash
# Reduced hardening pass for .ci/run (budget <= 5 min on 2 cores): sanitized build with the native
# tests in it (one compile), ctest + binding suite under ASan/UBSan, a short fuzz run, a short leak
# check, and valgrind if it is installed. The full pass is `npm run test:hardening`.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
lap=
phase() {  # prints the time the previous phase took, then the next phase's title
  local now
  now=$(date +%s)
  [ -z "$lap" ] || echo "   ($(( now - lap )) s)"
  lap=$now
  [ -z "${1:-}" ] || echo "== $1"
}
phase "hardening (reduced): sanitized build, ctest, binding tests"
# The binding tests that drive native code with hostile input (contract, boundary, gaps, concurrency).
# The strict-options battery (strict.test.js, 268 child processes) is left to the full pass and to
# npm test: it checks the messages the TS layer writes before the addon is called (one child
# process per case, each paying the ASan preload start-up).
MOCHA_SPECS="dist/test/engine/contract.test.js dist/test/hardening/boundary.test.js dist/test/hardening/gaps.test.js dist/test/hardening/concurrency.test.js" bash scripts/hardening/sanitize.sh --fast
phase "fuzz (scale 0.1)"
node dist/bench/hardening/fuzz.js --scale 0.1
phase "leak check (reduced)"
node --expose-gc dist/bench/hardening/leak-check.js --steps 3000 --cycles 400
if command -v valgrind >/dev/null; then
  phase "valgrind"
  BIGSTEP_ADDON=${BIGSTEP_ADDON:-$PWD/build/Release/bigstep.node} bash scripts/hardening/valgrind.sh
else
  phase "valgrind: not installed, skipped (apt-get install -y valgrind)"
fi
phase
echo "hardening ci: $(( $(date +%s) - start )) s"
