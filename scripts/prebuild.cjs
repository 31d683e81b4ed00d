#!/usr/bin/env node
// `npm pack` hook: builds a portable (no BLAS) addon into prebuilds/<platform>-<arch>/ so the
// tarball works even where dependency install scripts do not run (npm 11 default) or no
// compiler exists. A source build (build/Release) is preferred at load time when present.
'use strict';
const { spawnSync } = require('node:child_process');
const { copyFileSync, mkdirSync, rmSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build-prebuild');
rmSync(out, { recursive: true, force: true });
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
// CMake options go as --CD<name>=<value>: `cmake-js compile` drops arguments after `--`.
const r = spawnSync(
  process.execPath,
  [cmakeJs, 'compile', '--out', 'build-prebuild', '--CDBIGSTEP_PORTABLE_GEMM=ON', '--CDBIGSTEP_NATIVE_TESTS=OFF'],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
);
if (r.status !== 0) process.exit(r.status ?? 1);
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const built = path.join(out, 'Release', 'bigstep.node');
// The prebuilt must not need a system BLAS (it is the fallback where none is installed).
const ldd = spawnSync('ldd', [built], { encoding: 'utf8' });
if (ldd.status === 0 && /blas/i.test(ldd.stdout)) {
  console.error(`prebuild: ${built} links a BLAS library; the portable option did not reach CMake:\n${ldd.stdout}`);
  process.exit(1);
}
copyFileSync(built, path.join(dir, 'bigstep.node'));
rmSync(out, { recursive: true, force: true });
console.error(`prebuild: wrote ${path.relative(root, dir)}/bigstep.node (portable GEMM)`);
