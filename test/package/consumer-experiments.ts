// A consumer of the `bigstep/experiments` entry point, compiled with `tsc --strict` and run by
// scripts/test-package.sh: runs E1 (landscape) at tiny size into a run directory, then writes the
// HTML report from it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { experimentNames, findExperiment, runExperiment, writeReport, type RunOutcome } from 'bigstep/experiments';

const out = mkdtempSync(join(tmpdir(), 'bigstep-consumer-runs-'));
try {
  const landscape = findExperiment('landscape');
  if (!landscape) throw new Error('landscape is not a registered experiment');
  const outcome: RunOutcome = await runExperiment(landscape, 'tiny', { out });
  const report = await writeReport(out);
  console.log(
    JSON.stringify({
      experiments: experimentNames(),
      status: outcome.status,
      headlineKeys: Object.keys(outcome.summary.headline ?? {}).length,
      reportWritten: existsSync(report.file),
      figures: report.figures,
    }),
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
