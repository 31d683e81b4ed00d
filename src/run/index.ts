/** Run directories: running experiments into `<out>/<name>-<scale>-<id>/`, and their schema. */
export * from './run.js';
export * from './schema.js';
export { collectEnvironment, packageVersion, type RunEnvironment } from './env.js';
export { canonicalJson, toJson, toPlain } from './json.js';
