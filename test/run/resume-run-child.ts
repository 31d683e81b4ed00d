/**
 * Child process of the experiment kill/resume tests: runs one experiment with a config read from a
 * JSON file into a run directory under `out`, through `runExperiment` (figures left out: they are
 * a pure function of result.json, and rendering them would only slow the test). Prints
 * "done <status>" at the end; exit 0 when the run is complete, 1 otherwise.
 *
 * usage: node resume-run-child.js <experiment> <out> <config.json> <scale>
 */
import * as fs from 'node:fs';

import { findExperiment } from '../../src/experiments/registry.js';
import { runExperiment } from '../../src/run/run.js';

const [name, out, configFile, scale] = process.argv.slice(2);
const entry = findExperiment(name);
if (!entry) throw new Error(`unknown experiment ${name}`);
const noFigures = { ...entry, definition: { ...entry.definition, figures: async () => [] } };
const config: unknown = JSON.parse(fs.readFileSync(configFile, 'utf8'));
const outcome = await runExperiment(noFigures, config, { out, scale });
process.stdout.write(`done ${outcome.status}\n`);
process.exit(outcome.status === 'finished' || outcome.status === 'diverged' ? 0 : 1);
