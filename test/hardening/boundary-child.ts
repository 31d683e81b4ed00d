// Child process of the boundary battery: runs one group of bad calls (argv[2]) and prints one
// "CASE <json>" line per call, then "GROUP-DONE". A crash shows up as missing lines plus the exit
// signal in the parent.
import { groups } from './boundary-cases.js';

interface Outcome {
  name: string;
  threw: boolean;
  cls?: string;
  message?: string;
  code?: string;
}

function describeError(e: unknown): Omit<Outcome, 'name'> {
  if (e instanceof Error) {
    return { threw: true, cls: e.constructor.name, message: e.message, code: (e as { code?: string }).code };
  }
  return { threw: true, cls: typeof e, message: String(e) };
}

async function main(): Promise<void> {
  const group = groups.find((g) => g.name === process.argv[2]);
  if (!group) throw new Error(`unknown group ${process.argv[2]}`);
  const ctx = group.setup();
  const pending: Promise<unknown>[] = [];
  for (const c of group.cases) {
    let out: Omit<Outcome, 'name'>;
    try {
      const r = c.call(ctx);
      if (r instanceof Promise) {
        // Settle it without awaiting between cases (the busy group needs one synchronous run);
        // a rejection is recorded below.
        const settled = r.then(
          () => ({ threw: false }),
          (e: unknown) => describeError(e),
        );
        pending.push(settled.then((o) => process.stdout.write(`CASE ${JSON.stringify({ name: c.name, ...o })}\n`)));
        continue;
      }
      out = { threw: false };
    } catch (e) {
      out = describeError(e);
    }
    process.stdout.write(`CASE ${JSON.stringify({ name: c.name, ...out })}\n`);
  }
  await Promise.all(pending);
  await group.teardown?.(ctx);
  process.stdout.write('GROUP-DONE\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
