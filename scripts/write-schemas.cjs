// Writes schemas/sweep-spec.schema.json from its one definition (src/sweep/spec-schema.ts) and the
// experiment config schemas from their zod definitions (src/experiments/config-schemas.ts); run
// after `npm run build:ts` (test/sweep/spec-schema.test.ts and test/experiments/config-schemas.test.ts
// fail while a file is stale).
const { writeFileSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const root = path.join(__dirname, '..');
import(pathToFileURL(path.join(root, 'dist/src/sweep/spec-schema.js')).href).then(({ sweepSpecJsonSchema }) => {
  writeFileSync(
    path.join(root, 'schemas/sweep-spec.schema.json'),
    `${JSON.stringify(sweepSpecJsonSchema(), null, 2)}\n`,
  );
  console.log('wrote schemas/sweep-spec.schema.json');
});
import(pathToFileURL(path.join(root, 'dist/src/experiments/config-schemas.js')).href).then(
  ({ experimentConfigJsonSchemas }) => {
    for (const [name, schema] of Object.entries(experimentConfigJsonSchemas())) {
      writeFileSync(path.join(root, 'schemas', name), `${JSON.stringify(schema, null, 2)}\n`);
      console.log(`wrote schemas/${name}`);
    }
  },
);
