#!/usr/bin/env node
// Builds the native addon from source with cmake-js (the package's "install" script, and
// `bigstep build`). Checks the toolchain first so a missing compiler gives one clear message.
//
//   node scripts/build-addon.cjs [--portable] [--if-possible]
//
// --if-possible: when the toolchain is missing or the build fails but a prebuilt addon ships in
// prebuilds/, warn and exit 0 (installing the package must not fail just because g++ is absent).
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const portable = args.includes('--portable');
const ifPossible = args.includes('--if-possible');
const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'bigstep.node');

function have(cmd, versionArg = '--version') {
  const r = spawnSync(cmd, [versionArg], { stdio: 'ignore' });
  return r.status === 0;
}

function fail(message) {
  if (ifPossible && existsSync(prebuilt)) {
    console.warn(`bigstep: ${message}\nbigstep: using the prebuilt portable addon (${path.relative(root, prebuilt)}) instead.`);
    process.exit(0);
  }
  console.error(`bigstep: ${message}`);
  process.exit(1);
}

const missing = [];
if (!have('cmake')) missing.push('cmake');
if (!have('c++') && !have('g++')) missing.push('g++');
if (!have('make') && !have('ninja')) missing.push('make');
if (missing.length > 0) {
  fail(`cannot build the native addon: ${missing.join(', ')} not found. Install them (Debian/Ubuntu: sudo apt-get install ${missing.join(' ')}), and for full speed libopenblas-dev pkg-config, then run: npx bigstep build`);
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
// CMake options go as --CD<name>=<value> (`cmake-js compile` drops arguments after `--`). The GEMM
// choice is always passed, so a build directory configured with --portable goes back to OpenBLAS.
const cmakeArgs = [cmakeJs, 'compile', '--out', 'build', `--CDBIGSTEP_PORTABLE_GEMM=${portable ? 'ON' : 'OFF'}`];
if (portable) cmakeArgs.push('--CDBIGSTEP_NATIVE_TESTS=OFF');
const r = spawnSync(process.execPath, cmakeArgs, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) fail('the native addon build failed (see the compiler output above).');
