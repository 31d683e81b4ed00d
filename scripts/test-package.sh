#!/usr/bin/env bash
# The package as a consumer gets it. Builds the API reference (typedoc, no warnings), packs
# bigstep (npm pack: compiles the TypeScript and builds the portable prebuilt addon), checks the
# tarball's contents, then in fresh projects in a temp
# directory (only the npm registry is needed, for bigstep's declared dependencies and typescript):
#   - installs the tarball (the addon builds from source, with OpenBLAS when present), type-checks
#     consumers of both entry points and the README's library example with `tsc --strict`, runs
#     them (train, evaluate, sharpness, checkpoint round trip; an E1 run and its report), checks
#     a deliberate type error is caught, the CLI runs and undocumented deep imports are refused;
#   - installs it where pkg-config finds no BLAS: the addon still builds (portable GEMM) and says
#     how to get full speed;
#   - installs it with no C++ toolchain on PATH: the install falls back to the prebuilt addon, and
#     a build says what to install.
#   bash scripts/test-package.sh          (prints "package: N passed, N failed" last; 5-7 minutes on 2 cores: 3 addon builds)
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
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# A project that depends on nothing yet; $1 = directory.
new_project() {
  mkdir -p "$1"
  echo '{ "name": "bigstep-consumer", "version": "1.0.0", "private": true, "type": "module" }' > "$1/package.json"
}

echo "== API reference"
check "typedoc builds the API reference of both entry points with no warnings (every export documented)" \
  bash -c "cd '$root' && npx typedoc --out '$work/api' > '$work/typedoc.log' 2>&1 || { cat '$work/typedoc.log'; exit 1; }; ! grep -q warning '$work/typedoc.log'"

echo "== npm pack"
(cd "$root" && npm pack --silent --pack-destination "$work" >"$work/pack.log" 2>&1) || { cat "$work/pack.log"; exit 1; }
tarball="$(ls "$work"/bigstep-*.tgz)"
tar tzf "$tarball" | sed 's|^package/||' | sort > "$work/contents.txt"
size=$(stat -c %s "$tarball")
unpacked=$(tar xzf "$tarball" -O | wc -c)
echo "tarball: $(basename "$tarball"), $size bytes ($((size / 1024)) KiB; $((unpacked / 1024)) KiB unpacked), $(wc -l < "$work/contents.txt") files"
has() { grep -qxE "$1" "$work/contents.txt"; }
check "tarball has compiled JS and types of both entry points, the CLI, native sources, CMake files, the build script and the portable prebuild" \
  bash -c "$(declare -f has); work='$work'; has dist/src/index.js && has dist/src/index.d.ts && has dist/src/experiments-api.js && has dist/src/experiments-api.d.ts && has dist/src/cli/main.js && has native/model.cpp && has 'native/gemm\.(cpp|h)' && has binding/addon.cpp && has CMakeLists.txt && has scripts/build-addon.cjs && has 'prebuilds/[a-z0-9]+-[a-z0-9]+/bigstep\.node' && has README.md"
check "tarball has no tests, benches, examples, fixtures, build trees, generated API docs, source maps or dev scripts" \
  bash -c "! grep -E '^(test|bench|build[^/]*|examples|sweeps|node_modules|dist/(test|bench|examples)|docs/api|\.ci)/|\.map$|\.ts$|^scripts/(hardening/|test-package|prebuild)' '$work/contents.txt' | grep -v '\.d\.ts$' | grep -vx 'bench/torch_bench\.py'"
check "tarball has bigstep bench's measuring child and the PyTorch peer (--compare-pytorch)" \
  bash -c "$(declare -f has); work='$work'; has dist/src/bench/child.js && has bench/torch_bench.py"
check "every compiled file in the tarball has its source in src/ (no stale output)" \
  bash -c "for f in \$(grep -E '^dist/src/.*\.js$' '$work/contents.txt'); do s=\"\${f#dist/}\"; [ -f '$root/'\"\${s%.js}.ts\" ] || { echo \"stale: \$f\"; exit 1; }; done"

echo "== consumer project (npm install of the tarball: the addon builds from source)"
c="$work/consumer"
new_project "$c"
cd "$c"
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true, "skipLibCheck": false, "outDir": "out", "types": ["node"] }, "files": ["consumer.ts", "consumer-experiments.ts", "readme-example.ts"] }
JSON
cp "$root/test/package/consumer.ts" "$root/test/package/consumer-experiments.ts" "$root/test/package/type-error.ts" .
# The README's library example: the first ```ts block after "## Use as a library".
awk '/^## Use as a library/ { s = 1 } s == 1 && /^```ts$/ { s = 2; next } s == 2 && /^```$/ { exit } s == 2 { print }' "$root/README.md" > readme-example.ts
tsver="$(node -p "require('$root/node_modules/typescript/package.json').version")"
typesver="$(node -p "require('$root/node_modules/@types/node/package.json').version")"
check "npm install the tarball (+ typescript $tsver, @types/node)" \
  bash -c "npm install --prefer-offline --foreground-scripts '$tarball' 'typescript@$tsver' '@types/node@$typesver' > '$work/install.log' 2>&1 || { tail -30 '$work/install.log'; exit 1; }"
echo "   install built: $(ls node_modules/bigstep/build/Release/bigstep.node 2>/dev/null || echo 'nothing (prebuilt in use)'); $(grep -m1 -oE 'bigstep: using OpenBLAS[^"]*|no system BLAS in use' "$work/install.log")"
check "the README's library example is non-empty" test -s readme-example.ts
check "tsc --strict compiles the consumers and the README example against bigstep's types" npx tsc -p tsconfig.json
check "the consumer trains 300 steps, evaluates, measures sharpness and round-trips a checkpoint" \
  bash -c "node out/consumer.js > '$work/out.json' && node -e \"const r=JSON.parse(require('fs').readFileSync('$work/out.json','utf8'));if(r.steps!==300||r.diverged||!(r.testAccuracy>0.9)||!r.checkpointRoundTrip||!(r.sharpness>0))process.exit(1)\""
echo "   consumer: $(cat "$work/out.json" 2>/dev/null)"
check "bigstep/experiments: an E1 run at tiny size and its report" \
  bash -c "node out/consumer-experiments.js > '$work/exp.json' && node -e \"const r=JSON.parse(require('fs').readFileSync('$work/exp.json','utf8'));if(r.status!=='finished'||!r.reportWritten||!(r.figures>0)||r.experiments.join()!=='landscape,escape,noise')process.exit(1)\""
echo "   experiments consumer: $(cat "$work/exp.json" 2>/dev/null)"
check "the README's library example runs" node out/readme-example.js
check "a type error in the consumer is caught by tsc" \
  bash -c "! npx tsc --strict --module NodeNext --moduleResolution NodeNext --target ES2022 --noEmit type-error.ts > '$work/tsc-error.log' 2>&1 && grep -q 'TS2322' '$work/tsc-error.log'"
echo "   (tsc said: $(grep -m1 'error TS' "$work/tsc-error.log" 2>/dev/null | cut -c1-160))"
check "imports outside the documented entry points are refused (ERR_PACKAGE_PATH_NOT_EXPORTED)" \
  bash -c "node --input-type=module -e \"import('bigstep/dist/src/train/trainer.js').then(()=>process.exit(1),(e)=>process.exit(e.code==='ERR_PACKAGE_PATH_NOT_EXPORTED'?0:1))\""
check "the package's CLI runs (npx bigstep info, npx bigstep --help)" bash -c "npx bigstep info && npx bigstep --help | grep -q build"
check "npx bigstep bench --quick prints the table and writes the JSON with the share-of-peak figures" \
  bash -c "npx bigstep bench --quick --out '$work/bench.json' > '$work/bench.txt' 2> '$work/bench.err' && grep -q '% FMA peak' '$work/bench.txt' && node -e \"const r=JSON.parse(require('fs').readFileSync('$work/bench.json','utf8'));const t=r.rows.filter(x=>x.kind==='train');if(r.schema!=='bigstep/bench@1'||t.length<2||!t.every(x=>x.pctOfFmaPeak>0&&x.pctOfCeiling>0)||!r.machine.cpuModel||!r.machine.blasVendor)process.exit(1)\" || { cat '$work/bench.err'; exit 1; }"
sed -n '1,12p' "$work/bench.txt" | sed 's/^/   /'
echo "   addon used by the consumer: $(node --input-type=module -e "import('bigstep').then(m=>{const i=m.info();console.log(i.blasVendor+'/'+i.blasCore)})" 2>/dev/null)"

if [ -n "${BIGSTEP_PACKAGE_SKIP_NOBLAS:-}" ]; then
  # CI sets this to save one addon build: the portable GEMM is built and tested there by ctest
  # (build-portable), and the no-toolchain case below runs the consumer on the portable prebuild.
  echo "== no system BLAS: skipped (BIGSTEP_PACKAGE_SKIP_NOBLAS is set)"
else
  echo "== no system BLAS (pkg-config finds nothing): the install still builds, and says how to get full speed"
  nb="$work/no-blas"
  new_project "$nb"
  mkdir -p "$work/empty-pkgconfig"
  check "npm install the tarball with no BLAS visible to pkg-config" \
    bash -c "cd '$nb' && PKG_CONFIG_LIBDIR='$work/empty-pkgconfig' PKG_CONFIG_PATH= npm install --prefer-offline --foreground-scripts '$tarball' > '$work/install-noblas.log' 2>&1 || { tail -30 '$work/install-noblas.log'; exit 1; }"
  check "the build used the portable GEMM and said how to get full speed" \
    bash -c "test -f '$nb/node_modules/bigstep/build/Release/bigstep.node' && grep -q 'no system BLAS in use' '$work/install-noblas.log' && grep -q 'libopenblas-dev' '$work/install-noblas.log'"
  cp "$c/out/consumer.js" "$nb/consumer.js"
  check "the consumer runs on the portable build, which says how to get full speed when loaded" \
    bash -c "cd '$nb' && node consumer.js > '$work/out-noblas.json' 2> '$work/err-noblas.log' && grep -q '\"blas\":\"portable\"' '$work/out-noblas.json' && grep -q 'built without a system BLAS.*libopenblas-dev' '$work/err-noblas.log'"
  echo "   consumer (portable build): $(cat "$work/out-noblas.json" 2>/dev/null)"
  echo "   it said: $(cut -c1-200 "$work/err-noblas.log" 2>/dev/null)"
fi

echo "== no C++ toolchain on PATH (only node and sh): the install uses the prebuilt addon; a build says what to install"
fake="$work/bin-no-toolchain"
mkdir -p "$fake"
ln -s "$(command -v node)" "$fake/node"
ln -s "$(command -v sh)" "$fake/sh"
nt="$work/no-toolchain"
new_project "$nt"
npm_cli="$(readlink -f "$(command -v npm)")"  # npm-cli.js, run by node (PATH has no npm)
check "npm install the tarball without cmake, g++ or make" \
  bash -c "cd '$nt' && PATH='$fake' node '$npm_cli' install --prefer-offline --foreground-scripts '$tarball' > '$work/install-notoolchain.log' 2>&1 || { tail -30 '$work/install-notoolchain.log'; exit 1; }"
check "the install said what to install and that it uses the prebuilt addon" \
  bash -c "grep -q 'cmake, g++, make not found' '$work/install-notoolchain.log' && grep -q 'apt-get install cmake g++ make' '$work/install-notoolchain.log' && grep -q 'using the prebuilt portable addon' '$work/install-notoolchain.log' && ! test -e '$nt/node_modules/bigstep/build/Release/bigstep.node'"
cp "$c/out/consumer.js" "$nt/consumer.js"
check "the consumer runs on the prebuilt addon, which says how to get full speed" \
  bash -c "cd '$nt' && node consumer.js > '$work/out-prebuilt.json' 2> '$work/err-prebuilt.log' && grep -q '\"blas\":\"portable\"' '$work/out-prebuilt.json' && grep -q 'prebuilt portable addon.*libopenblas-dev' '$work/err-prebuilt.log'"
echo "   consumer (prebuilt): $(cat "$work/out-prebuilt.json" 2>/dev/null)"
check "npx bigstep build without a toolchain fails (exit 1) and says what to install" \
  bash -c "cd '$nt' && ! PATH='$fake' node node_modules/bigstep/dist/src/cli/main.js build > '$work/build-notoolchain.log' 2>&1 && grep -q 'not found. Install them (Debian/Ubuntu: sudo apt-get install' '$work/build-notoolchain.log'"
echo "   it said: $(head -c 300 "$work/build-notoolchain.log" 2>/dev/null)"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
