#!/usr/bin/env bash
# Valgrind memcheck on a short tour of the binding (bench/hardening/valgrind-run.ts) with the
# release-flavoured addon built in build-hardening/ (valgrind and ASan do not mix). Counts the
# "definitely lost" records whose stack has a frame in bigstep.node; node's own (V8, libuv,
# OpenSSL) start-up allocations are reported separately and do not fail the check.
# Usage: scripts/hardening/valgrind.sh [out-dir]   (needs: apt-get install -y valgrind)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-hardening/valgrind}
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind"; exit 2; }
addon=${BIGSTEP_ADDON:-$PWD/build-hardening/Release/bigstep.node}
[ -f "$addon" ] || npx cmake-js compile --out build-hardening --CDBIGSTEP_NATIVE_TESTS=OFF --CDCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
[ -f dist/bench/hardening/valgrind-run.js ] || npx tsc -p tsconfig.json
log="$out/memcheck.log"
# --jitless keeps V8 from generating code valgrind cannot follow; one BLAS thread. Valgrind
# (3.19) does not emulate AVX-512, so bigstep's kernels and OpenBLAS's take their AVX2 paths.
BIGSTEP_ADDON="$addon" BIGSTEP_THREADS=1 OPENBLAS_NUM_THREADS=1 BIGSTEP_ISA=avx2 OPENBLAS_CORETYPE=Haswell \
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --num-callers=40 \
  --log-file="$log" node --jitless --expose-gc dist/bench/hardening/valgrind-run.js
node -e '
const text = require("fs").readFileSync(process.argv[1], "utf8");
const records = text.split(/\n(?===\d+== \n)/).filter((r) => / are definitely lost in loss record /.test(r));
let ours = 0, oursBytes = 0, other = 0, otherBytes = 0;
for (const r of records) {
  const bytes = Number((r.match(/==\s*([\d,]+) (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are definitely lost/) || [0, "0"])[1].replace(/,/g, ""));
  if (/bigstep\.node|bigstep::/.test(r)) { ours++; oursBytes += bytes; } else { other++; otherBytes += bytes; }
}
const blocks = text.split(/\n==\d+== \n/);
const errorBlocks = blocks.filter((b) => /== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap)/.test(b));
const ourErrors = errorBlocks.filter((b) => /bigstep\.node|bigstep::/.test(b)).length;
const summary = (text.match(/definitely lost: [\d,]+ bytes in [\d,]+ blocks/) || ["definitely lost: (no summary)"])[0];
const errors = (text.match(/ERROR SUMMARY: (\d+) errors/) || [0, "?"])[1];
console.log(`valgrind: ${summary} overall; records with a bigstep.node frame: ${ours} (${oursBytes} bytes); other records: ${other} (${otherBytes} bytes); memcheck errors: ${errors} (error contexts with a bigstep.node frame: ${ourErrors}; the others are V8 conservative stack scanning)`);
process.exit(ours === 0 && ourErrors === 0 ? 0 : 1);
' "$log"
