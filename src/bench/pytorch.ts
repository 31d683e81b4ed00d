/**
 * The PyTorch CPU peer (bench/torch_bench.py, shipped with the package): the same models, batch
 * sizes and SGD step, or the same HVP problem, timed by PyTorch in its own process.
 * The interpreter is BIGSTEP_PYTHON when set, else the system python3 (Debian's python3-torch is
 * built for /usr/bin/python3), else python3 on PATH; it must `import torch`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/torch_bench.py of this install (dist/src/bench/ → package root). */
export const TORCH_SCRIPT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'bench',
  'torch_bench.py',
);

export interface TorchPeer {
  python: string;
  version: string;
}

/** The interpreter with torch, or a note saying why there is none. */
export function findTorch(): { peer: TorchPeer } | { note: string } {
  if (!existsSync(TORCH_SCRIPT)) return { note: `the PyTorch peer script is missing (${TORCH_SCRIPT})` };
  const candidates = process.env.BIGSTEP_PYTHON ? [process.env.BIGSTEP_PYTHON] : ['/usr/bin/python3', 'python3'];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status === 0) return { peer: { python, version: r.stdout.trim() } };
  }
  return {
    note:
      `PyTorch not found (${candidates.join(', ')}: import torch failed); PyTorch columns skipped. ` +
      'Install it (Debian: apt-get install python3-torch) or point BIGSTEP_PYTHON at an interpreter that has it',
  };
}

/** Arguments of torch_bench.py for a case: <case> <threads> <seconds> [repeats | hvp problem file]. */
export function torchArgs(caseName: string, threads: number, seconds: number, extra?: string): string[] {
  return [join(TORCH_SCRIPT), caseName, String(threads), String(seconds), ...(extra === undefined ? [] : [extra])];
}
