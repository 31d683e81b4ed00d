/**
 * The facts a benchmark needs to be read elsewhere: what machine it ran on (CPU model, flags,
 * cores, load), which BLAS and ISA path bigstep used, Node and bigstep versions, and the Slurm
 * placement when it ran as a job. Also the environment every measuring child process gets.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

import { native } from '../native/binding.js';
import { info } from '../native/info.js';
import { packageVersion } from '../run/env.js';

export interface MachineFacts {
  hostname: string;
  cpuModel: string;
  /** CPU flags from /proc/cpuinfo (empty off Linux). */
  flags: string[];
  /** Logical CPUs the OS lists, and how many this process may use (cgroup / affinity). */
  cores: number;
  availableParallelism: number;
  memoryGiB: number;
  blasVendor: string;
  blasCore: string;
  blasCoreSource: string;
  /** bigstep's ISA path (avx512 | avx2 | baseline) and which paths this CPU and build can run. */
  isa: string;
  isaAvailable: string[];
  node: string;
  bigstep: string;
  os: string;
  /** SLURM_JOB_ID, SLURM_JOB_PARTITION, SLURM_JOB_NODELIST, SLURM_ARRAY_TASK_ID when set. */
  slurm: Record<string, string>;
}

function cpuinfoField(text: string, field: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith(field));
  return line?.split(':').slice(1).join(':').trim();
}

export function machineFacts(): MachineFacts {
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: flags stay empty, the model comes from os.cpus()
  }
  const i = info();
  const slurm: Record<string, string> = {};
  for (const k of [
    'SLURM_JOB_ID',
    'SLURM_JOB_PARTITION',
    'SLURM_JOB_NODELIST',
    'SLURM_ARRAY_JOB_ID',
    'SLURM_ARRAY_TASK_ID',
    'SLURM_CPUS_ON_NODE',
  ])
    if (process.env[k]) slurm[k] = process.env[k] as string;
  const isaAvailable = native.isaPaths();
  return {
    hostname: os.hostname(),
    cpuModel: cpuinfoField(cpuinfo, 'model name') ?? os.cpus()[0]?.model?.trim() ?? 'unknown',
    flags: (cpuinfoField(cpuinfo, 'flags') ?? '').split(/\s+/).filter(Boolean),
    cores: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    blasVendor: i.blasVendor,
    blasCore: i.blasCore,
    blasCoreSource: i.blasCoreSource,
    isa: i.simd,
    isaAvailable,
    node: process.version,
    bigstep: packageVersion(),
    os: `${os.type()} ${os.release()} ${process.arch}`,
    slurm,
  };
}

/**
 * The environment of a measuring child: exactly `threads` BLAS / OpenMP threads for bigstep and
 * for the PyTorch peer (Debian's pthreads OpenBLAS ignores torch.set_num_threads), passive OpenMP
 * waiting (spinning threads would steal the other peer's cores), and the OpenBLAS kernel family
 * bigstep chose for this CPU (inherited: binding.ts sets OPENBLAS_CORETYPE when it loads).
 */
export function childEnv(threads: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OMP_WAIT_POLICY: 'PASSIVE',
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    BIGSTEP_THREADS: String(threads),
  };
}
