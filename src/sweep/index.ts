/**
 * Sweeps at scale: a spec expands to an ordered, index-addressable task list (DIR/tasks.json);
 * `runTask(dir, i)` runs task i into DIR/runs/ (idempotent); the same task runs under the local
 * pool, a Slurm job array or a Kubernetes Indexed Job; `collectSweep` merges the results.
 * docs/cluster.md is the user guide.
 */
export * from './spec.js';
export * from './tasks.js';
export * from './collect.js';
export * from './local.js';
export * from './slurm.js';
export * from './k8s.js';
