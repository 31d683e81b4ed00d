/**
 * Kubernetes: a sweep is one Indexed Job (completionMode: Indexed). Pod k gets the environment
 * variable JOB_COMPLETION_INDEX = k and runs `bigstep sweep run <dir> --task $JOB_COMPLETION_INDEX`
 * against the sweep directory on a shared volume (a PersistentVolumeClaim mounted at `mountPath`).
 * `k8sManifest` only writes the manifest (DIR/k8s/job.yaml); `kubectl apply -f` submits it.
 */
import * as path from 'node:path';

import YAML from 'yaml';

import { writeFileAtomic } from '../util/atomic.js';
import { makeDir } from '../util/safe-fs.js';
import type { SweepTasks } from './spec.js';

export interface K8sOptions {
  /** Container image with node and bigstep installed (default "bigstep:latest"). */
  image?: string;
  /** PersistentVolumeClaim holding the sweep directory (default "bigstep-sweeps"). */
  pvc?: string;
  /** Where the claim is mounted in the pod (default "/sweeps"). */
  mountPath?: string;
  /** The sweep directory's path inside the claim (default: the sweep directory's base name). */
  subPath?: string;
  /** Pods at once (default 2). */
  parallelism?: number;
  cpu?: string;
  memory?: string;
  /** BLAS threads per task (default 1). */
  threads?: number;
  /** Command that starts bigstep in the image (default ["bigstep"], i.e. installed on PATH). */
  command?: string[];
  namespace?: string;
}

/** One-line option values only: a newline or other control character would end up in the pod spec. */
function checkOptions(options: K8sOptions): void {
  for (const key of ['image', 'pvc', 'mountPath', 'subPath', 'cpu', 'memory', 'namespace'] as const) {
    const v = options[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0)
      throw new RangeError(`${key} must be a non-empty string (got ${JSON.stringify(v)})`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v))
      throw new RangeError(`${key} must be one line without control characters (got ${JSON.stringify(v)})`);
  }
  for (const key of ['parallelism', 'threads'] as const) {
    const v = options[key];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1))
      throw new RangeError(`${key} must be a positive integer (got ${v})`);
  }
}

/** The Indexed Job manifest for a sweep planned in `dir`. */
export function k8sManifest(dir: string, t: SweepTasks, options: K8sOptions = {}): string {
  checkOptions(options);
  const mountPath = options.mountPath ?? '/sweeps';
  const sweepPath = path.posix.join(mountPath, options.subPath ?? path.basename(path.resolve(dir)));
  const threads = String(options.threads ?? 1);
  const cmd = options.command ?? ['bigstep'];
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const name = `bigstep-${t.name}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 50)
    .replace(/-+$/, '');
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      labels: { app: 'bigstep', sweep: t.sweepId },
    },
    spec: {
      completionMode: 'Indexed',
      completions: t.count,
      parallelism: options.parallelism ?? 2,
      // Retries per index (Kubernetes >= 1.29; on older clusters use backoffLimit instead).
      backoffLimitPerIndex: 2,
      template: {
        metadata: { labels: { app: 'bigstep', sweep: t.sweepId } },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'task',
              image: options.image ?? 'bigstep:latest',
              command: [
                'sh',
                '-c',
                `exec ${cmd.map(q).join(' ')} sweep run ${q(sweepPath)} --task "$JOB_COMPLETION_INDEX"`,
              ],
              env: [
                { name: 'BIGSTEP_THREADS', value: threads },
                { name: 'OPENBLAS_NUM_THREADS', value: threads },
                { name: 'OMP_NUM_THREADS', value: threads },
              ],
              resources: {
                requests: { cpu: options.cpu ?? '1', memory: options.memory ?? '2Gi' },
                limits: { cpu: options.cpu ?? '1', memory: options.memory ?? '2Gi' },
              },
              volumeMounts: [{ name: 'sweeps', mountPath }],
            },
          ],
          volumes: [{ name: 'sweeps', persistentVolumeClaim: { claimName: options.pvc ?? 'bigstep-sweeps' } }],
        },
      },
    },
  };
  const header =
    `# bigstep sweep "${t.name}" (${t.experiment}, ${t.count} tasks, sweep id ${t.sweepId}) as a Kubernetes Indexed Job.\n` +
    `# The sweep directory (with tasks.json) must be on the claim at ${sweepPath}. Submit: kubectl apply -f job.yaml\n` +
    '# Each pod runs task $JOB_COMPLETION_INDEX; finished tasks exit at once, so re-applying the Job is safe.\n';
  return header + YAML.stringify(job, { lineWidth: 0 });
}

/** Writes DIR/k8s/job.yaml; returns its path. */
export async function writeK8sManifest(dir: string, t: SweepTasks, options: K8sOptions = {}): Promise<string> {
  const kdir = path.join(dir, 'k8s');
  const text = k8sManifest(dir, t, options); // checks the options before anything is written
  await makeDir(kdir, 'k8s directory');
  const file = path.join(kdir, 'job.yaml');
  await writeFileAtomic(file, text);
  return file;
}
