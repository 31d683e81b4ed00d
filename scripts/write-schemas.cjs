// Writes schemas/sweep-spec.schema.json from its one definition (src/sweep/spec-schema.ts); run
// after `npm run build:ts` (test/sweep/spec-schema.test.ts fails while the file is stale).
const { writeFileSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const root = path.join(__dirname, '..');
import(pathToFileURL(path.join(root, 'dist/src/sweep/spec-schema.js')).href).then(({ sweepSpecJsonSchema }) => {
  writeFileSync(path.join(root, 'schemas/sweep-spec.schema.json'), `${JSON.stringify(sweepSpecJsonSchema(), null, 2)}\n`);
  console.log('wrote schemas/sweep-spec.schema.json');
});
