// Runs the whole suite by default; `npx mocha dist/test/a.test.js ...` runs only the files named
// (mocha would otherwise add the default spec to them).
const named = process.argv.slice(2).some((a) => /\.test\.js$/.test(a));
module.exports = {
  ...(named ? {} : { spec: ['dist/test/**/*.test.js'] }),
  reporter: './test/reporter.cjs',
  timeout: 60000,
};
