// Child process of the strict-input battery: runs case argv[2] of strict-cases.ts and prints one
// "RESULT <json>" line: how it ended (threw / returned), the error class and message, and ms.
import { strictCases } from './strict-cases.js';

async function main(): Promise<void> {
  const c = strictCases[Number(process.argv[2])];
  const t0 = performance.now();
  let out: Record<string, unknown>;
  try {
    const v = await c.run!();
    out = { threw: false, value: v === true ? true : typeof v };
  } catch (e) {
    out =
      e instanceof Error
        ? { threw: true, cls: e.constructor.name, message: e.message }
        : { threw: true, cls: typeof e, message: String(e) };
  }
  out.ms = performance.now() - t0;
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

void main();
