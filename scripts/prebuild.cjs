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
const r = spawnSync(
  process.execPath,
  [cmakeJs, 'compile', '--out', 'build-prebuild', '--', '-DBIGSTEP_PORTABLE_GEMM=ON', '-DBIGSTEP_NATIVE_TESTS=OFF', '-DBIGSTEP_GENERIC_X86=ON'],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
);
if (r.status !== 0) process.exit(r.status ?? 1);
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
copyFileSync(path.join(out, 'Release', 'bigstep.node'), path.join(dir, 'bigstep.node'));
rmSync(out, { recursive: true, force: true });
console.error(`prebuild: wrote ${path.relative(root, dir)}/bigstep.node (portable GEMM)`);
