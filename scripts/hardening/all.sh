#!/usr/bin/env bash
# The full hardening pass (npm run test:hardening): sanitizers (native ctest + binding suite),
# full fuzz budget, 10^4-step leak check, valgrind. Figures go to build-hardening/reports/.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build-hardening/reports
mkdir -p "$out"
start=$(date +%s)
bash scripts/hardening/sanitize.sh
# The fuzz, leak and valgrind runs use a release-flavoured addon of their own (never build/).
npx cmake-js compile --out build-hardening --CDBIGSTEP_NATIVE_TESTS=OFF >/dev/null
export BIGSTEP_ADDON=$PWD/build-hardening/Release/bigstep.node
echo "== fuzz"
node dist/bench/hardening/fuzz.js --json "$out/fuzz.json"
echo "== leak check"
node --expose-gc dist/bench/hardening/leak-check.js --json "$out/leak.json"
echo "== valgrind"
bash scripts/hardening/valgrind.sh "$out/valgrind"
echo "hardening: all checks passed in $(( $(date +%s) - start )) s"
