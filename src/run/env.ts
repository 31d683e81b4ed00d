/** What a run records about where it ran: env.json (package, Node, BLAS, CPU, OS, start time). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { info } from '../native/info.js';

let cachedVersion: string | undefined;

/** The version in bigstep's package.json (found by walking up from this module; "0.0.0-unknown" if absent). */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'bigstep' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return (cachedVersion = '0.0.0-unknown');
    dir = parent;
  }
}

/** env.json: the package, Node, BLAS, CPU and OS a run ran on. */
export interface RunEnvironment {
  schema: 'bigstep/run-env@1';
  packageVersion: string;
  node: string;
  napiVersion: number;
  blas: { vendor: string; core: string; threads: number; coreSource: string };
  simd: string;
  cpu: { model: string; cores: number; availableParallelism: number };
  os: { platform: string; type: string; release: string; arch: string };
  startedAt: string;
}

/** Describes this process's environment; `startedAt` is the run's start time. */
export function collectEnvironment(startedAt: Date): RunEnvironment {
  const i = info();
  const cpus = os.cpus();
  return {
    schema: 'bigstep/run-env@1',
    packageVersion: packageVersion(),
    node: process.version,
    napiVersion: i.napiVersion,
    blas: { vendor: i.blasVendor, core: i.blasCore, threads: i.blasThreads, coreSource: i.blasCoreSource },
    simd: i.simd,
    cpu: {
      model: cpus[0]?.model?.trim() || 'unknown',
      cores: cpus.length,
      availableParallelism: os.availableParallelism(),
    },
    os: { platform: process.platform, type: os.type(), release: os.release(), arch: process.arch },
    startedAt: startedAt.toISOString(),
  };
}
