#!/usr/bin/env bash
# Packs bigstep, installs the tarball into a fresh TypeScript project in a temp directory (only
# the npm registry is needed, for bigstep's declared dependencies and typescript), type-checks a
# consumer file with `tsc --strict`, runs it, and checks a deliberate type error is caught.
#   bash scripts/test-package.sh          (prints "package: N passed, N failed" last)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() { # name, then a command
  local name="$1"; shift
  if "$@" >"$work/last.log" 2>&1; then echo "  ok   $name"; passed=$((passed + 1));
  else echo "  FAIL $name"; sed 's/^/       /' "$work/last.log" | tail -20; failed=$((failed + 1)); fi
}

echo "== npm pack"
(cd "$root" && npm pack --silent --pack-destination "$work" >"$work/pack.log" 2>&1) || { cat "$work/pack.log"; exit 1; }
tarball="$(ls "$work"/bigstep-*.tgz)"
size=$(stat -c %s "$tarball")
echo "tarball: $(basename "$tarball"), $((size / 1024)) KiB, $(tar tzf "$tarball" | wc -l) files"
check "tarball has compiled JS, types, native sources, CMake files and the portable prebuild" \
  bash -c "tar tzf '$tarball' | grep -q package/dist/src/index.js && tar tzf '$tarball' | grep -q package/dist/src/index.d.ts && tar tzf '$tarball' | grep -q package/native/model.cpp && tar tzf '$tarball' | grep -q package/binding/addon.cpp && tar tzf '$tarball' | grep -q package/CMakeLists.txt && tar tzf '$tarball' | grep -q 'package/prebuilds/.*/bigstep.node'"
check "tarball has no tests, benches, fixtures or build trees" \
  bash -c "! tar tzf '$tarball' | grep -E 'package/(test|bench|build|dist/test|dist/bench|examples|node_modules)/'"

echo "== consumer project"
mkdir -p "$work/consumer"
cd "$work/consumer"
cat > package.json <<'JSON'
{ "name": "bigstep-consumer", "version": "1.0.0", "private": true, "type": "module" }
JSON
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true, "skipLibCheck": false, "outDir": "out", "types": ["node"] }, "files": ["consumer.ts"] }
JSON
cp "$root/test/package/consumer.ts" "$root/test/package/type-error.ts" .
tsver="$(node -p "require('$root/node_modules/typescript/package.json').version")"
typesver="$(node -p "require('$root/node_modules/@types/node/package.json').version")"
check "npm install the tarball (+ typescript $tsver, @types/node)" \
  npm install --no-audit --no-fund "$tarball" "typescript@$tsver" "@types/node@$typesver"
check "tsc --strict compiles the consumer against bigstep's types" npx tsc -p tsconfig.json
check "the consumer trains, evaluates and round-trips a checkpoint" \
  bash -c "node out/consumer.js | tee '$work/out.json' && node -e \"const r=JSON.parse(require('fs').readFileSync('$work/out.json','utf8'));if(r.steps!==300||r.diverged||!(r.testAccuracy>0.9)||!r.checkpointRoundTrip)process.exit(1)\""
check "a type error in the consumer is caught by tsc" \
  bash -c "! npx tsc --strict --module NodeNext --moduleResolution NodeNext --target ES2022 --noEmit type-error.ts > '$work/tsc-error.log' 2>&1 && grep -q 'TS2322' '$work/tsc-error.log'"
echo "   (tsc said: $(grep -m1 'error TS' "$work/tsc-error.log" 2>/dev/null | cut -c1-160))"
check "the package's CLI runs (npx bigstep info)" npx bigstep info
echo "   addon used by the consumer: $(node -e "import('bigstep').then(m=>{const i=m.info();console.log(i.blasVendor+'/'+i.blasCore)})" 2>/dev/null)"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
