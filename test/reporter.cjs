// Mocha reporter: mocha's "spec" output, then the closing line CI reads: "N passed, N failed".
'use strict';
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class PassedFailedReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats;
      const skipped = pending ? `, ${pending} skipped` : '';
      // Printed after Spec's epilogue so it is the last line.
      process.nextTick(() => process.stdout.write(`${passes} passed, ${failures} failed${skipped}\n`));
    });
  }
}
module.exports = PassedFailedReporter;
