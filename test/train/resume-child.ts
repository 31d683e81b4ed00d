/**
 * Child process of the kill/resume tests: trains the run of resume-config.ts to `total` steps,
 * resuming from `<dir>/ckpt.bin` if present and checkpointing every `every` steps; at the end
 * writes θ to `<dir>/final.bin`. Prints "ready <step>" once it has (re)started and "save" before
 * each checkpoint write. Exit code 3 means
 * the checkpoint it found could not be loaded (corrupt).
 *
 * usage: node resume-child.js <dir> <total> <every>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { writeFileAtomicSync } from '../../src/util/atomic.js';
import { RESUME_CONFIG_HASH, makeResumeTrainer } from './resume-config.js';

const [dir, totalArg, everyArg] = process.argv.slice(2);
const total = Number(totalArg);
const every = Number(everyArg);
const file = path.join(dir, 'ckpt.bin');
const trainer = makeResumeTrainer();
if (fs.existsSync(file)) {
  try {
    loadCheckpoint(file, trainer, { configHash: RESUME_CONFIG_HASH });
  } catch (err) {
    process.stderr.write(`CORRUPT ${(err as Error).message}\n`);
    process.exit(3);
  }
}
process.stdout.write(`ready ${trainer.stepCount}\n`);
while (trainer.stepCount < total) {
  const k = Math.min(every, total - trainer.stepCount);
  const r = await trainer.run({ steps: k, chunkSize: k });
  if (r.diverged) {
    process.stderr.write(`diverged at ${r.divergedAt}\n`);
    process.exit(4);
  }
  fs.writeSync(1, 'save\n'); // lets the parent aim kills at checkpoint writes
  saveCheckpoint(file, trainer, { configHash: RESUME_CONFIG_HASH });
}
const p = trainer.model.params;
writeFileAtomicSync(path.join(dir, 'final.bin'), new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
process.exit(0);
