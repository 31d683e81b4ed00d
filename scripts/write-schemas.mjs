// Writes schemas/sweep-spec.schema.json from its one definition (src/sweep/spec-schema.ts; run after npm run build:ts).
import { writeFileSync } from 'node:fs';

const { sweepSpecJsonSchema } = await import(new URL('../dist/src/sweep/spec-schema.js', import.meta.url));
writeFileSync(new URL('../schemas/sweep-spec.schema.json', import.meta.url), `${JSON.stringify(sweepSpecJsonSchema(), null, 2)}\n`);
console.log('wrote schemas/sweep-spec.schema.json');
