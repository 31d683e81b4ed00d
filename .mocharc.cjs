// Runs the whole suite by default, its files spread over worker processes (many files wait on
// child processes or run one thread, so two files at a time keep a 2-core machine busy);
// `npx mocha dist/test/a.test.js ...` runs only the files named, in this process (mocha would
// otherwise add the default spec to them). BIGSTEP_TEST_JOBS=1 runs the suite serially.
const os = require('node:os');
const named = process.argv.slice(2).some((a) => /\.test\.js$/.test(a));
const jobs = Number(process.env.BIGSTEP_TEST_JOBS ?? Math.max(2, Math.min(os.availableParallelism(), 8)));
if (!Number.isInteger(jobs) || jobs < 1)
  throw new RangeError(`BIGSTEP_TEST_JOBS must be a positive integer (got ${process.env.BIGSTEP_TEST_JOBS})`);
module.exports = {
  ...(named ? {} : { spec: ['dist/test/**/*.test.js'] }),
  ...(named || jobs === 1 ? {} : { parallel: true, jobs }),
  reporter: './test/reporter.cjs',
  timeout: 60000,
};
