#!/usr/bin/env bash
# ASan + UBSan: the native tests (ctest) and the binding test suite against a sanitized addon.
#
#   scripts/hardening/sanitize.sh          build-asan/ (ctest) + build-asan-addon/ (addon), mocha subset
#   scripts/hardening/sanitize.sh --fast   one build dir (build-asan-addon/ with the native tests in it)
#   MOCHA_SPECS='dist/test/engine/contract.test.js ...' narrows the binding tests (ci.sh does)
#
# Node itself is not instrumented, so the ASan runtime is preloaded (LD_PRELOAD=libasan.so) before
# node loads the sanitized bigstep.node. Leak detection is off for the node process
# (ASAN_OPTIONS=detect_leaks=0): V8 and node deliberately do not free their heaps at exit, which
# LeakSanitizer would report by the thousand; leaks are checked by ctest under LSan (native code)
# and by valgrind (scripts/hardening/valgrind.sh) for the addon. Every ASan/UBSan report is
# written to $LOGDIR (log_path), so reports from child processes and worker threads are counted
# too; the script fails if there is any report, or if a test fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
fast=0
[ "${1:-}" = "--fast" ] && fast=1
LOGDIR=${LOGDIR:-$PWD/build-asan-addon/sanitizer-logs}
jobs=${JOBS:-2}
# -O1 -g1 (line tables): what ASan recommends, symbolized reports with file:line, and about a third
# of the compile time of the default -O2 -g (98 s against 286 s for the --fast build on 2 busy
# cores), for about the same test time.
san_opt="-O1 -g1 -DNDEBUG"
san_flags=(-DBIGSTEP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$san_opt")

echo "== sanitized builds"
if [ $fast = 0 ]; then
  cmake -S . -B build-asan "${san_flags[@]}" >/dev/null
  cmake --build build-asan -j"$jobs" >/dev/null
  native_dir=build-asan
  tests_flag=--CDBIGSTEP_NATIVE_TESTS=OFF
else
  native_dir=build-asan-addon
  tests_flag=--CDBIGSTEP_NATIVE_TESTS=ON
fi
# configure + build (`cmake-js compile` would keep a cached configuration and ignore the flags)
npx cmake-js configure --out build-asan-addon --CDBIGSTEP_SANITIZE=ON --CDCMAKE_BUILD_TYPE=RelWithDebInfo \
  "--CDCMAKE_CXX_FLAGS_RELWITHDEBINFO=$san_opt" "$tests_flag" >/dev/null
npx cmake-js build --out build-asan-addon >/dev/null
addon=$PWD/build-asan-addon/Release/bigstep.node
nm -D "$addon" | grep __asan_init >/dev/null || { echo "error: $addon is not built with ASan"; exit 1; }
npx tsc -p tsconfig.json

rm -rf "$LOGDIR" && mkdir -p "$LOGDIR"
export ASAN_OPTIONS="log_path=$LOGDIR/asan:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="log_path=$LOGDIR/ubsan:print_stacktrace=1:halt_on_error=1"

echo "== native tests under ASan+UBSan+LSan ($native_dir)"
ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=1" ctest --test-dir "$native_dir" --output-on-failure --no-tests=error -j2

echo "== binding tests against the sanitized addon"
status=0
BIGSTEP_ADDON="$addon" LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" \
  npx mocha --no-config --reporter ./test/reporter.cjs --timeout 120000 \
  ${MOCHA_SPECS:-'dist/test/engine/*.test.js' 'dist/test/experiments/*.test.js' 'dist/test/train/*.test.js' 'dist/test/hardening/*.test.js'} || status=$?

reports=$(find "$LOGDIR" -type f | wc -l)
echo "sanitizer reports: $reports (logs in $LOGDIR)"
if [ "$reports" -gt 0 ]; then
  for f in "$LOGDIR"/*; do echo "--- $f"; head -40 "$f"; done
  exit 1
fi
exit $status
