/**
 * Peer 7, the V8 floor: isolated-vm 5.0.4 on Node 20, a fresh `Isolate` per workload (with a
 * 64 MiB `memoryLimit` and the tier's 2 s timeout), its code compiled as a module next to a
 * driver module that parses the input, calls the default export and `JSON.stringify`s the
 * result inside the isolate. Nothing of Deno's runtime: no console, timers or Web APIs, only
 * V8's own built-ins, which is what makes it the floor. `node isolated-vm.mjs` prints one JSON
 * line per cell (common.mjs). TypeScript: n/a (no type stripping on Node 20).
 */
import ivm from "isolated-vm";
import { emit, rssMb, runSystem, WORKLOADS } from "./common.mjs";

const SYSTEM = "isolated-vm-per-workload";
const MEMORY_MB = 64;
const TIMEOUT_MS = 2000;
const DRIVER = `import main from "workload";
export default async (text) => JSON.stringify(await main(JSON.parse(text))) ?? "null";`;

/** Runs one workload in an isolate of its own; resolves with the output JSON text. */
async function runOnFreshIsolate(spec) {
  const isolate = new ivm.Isolate({ memoryLimit: MEMORY_MB });
  try {
    const context = await isolate.createContext();
    const workload = await isolate.compileModule(spec.code);
    const driver = await isolate.compileModule(DRIVER);
    await driver.instantiate(context, (specifier) => {
      if (specifier === "workload") return workload;
      throw new Error(`no module ${specifier}`);
    });
    await driver.evaluate({ timeout: TIMEOUT_MS });
    const main = await driver.namespace.get("default", { reference: true });
    return await main.apply(undefined, [spec.input], {
      timeout: TIMEOUT_MS,
      result: { promise: true, copy: true },
    });
  } finally {
    isolate.dispose();
  }
}

await runSystem(SYSTEM, (workload) => {
  const spec = WORKLOADS[workload];
  if (spec.language === "typescript") return "Node 20 has no built-in type stripping";
  return {
    runOne: () => runOnFreshIsolate(spec),
    sample: rssMb,
    rssOf: "harness process, peak",
  };
});

// RSS per idle isolate: eight made and held, each with a context.
const before = rssMb();
const held = [];
for (let i = 0; i < 8; i++) {
  const isolate = new ivm.Isolate({ memoryLimit: MEMORY_MB });
  held.push({ isolate, context: await isolate.createContext() });
}
const after = rssMb();
for (const { isolate } of held) isolate.dispose();
emit({
  system: SYSTEM,
  workload: "idle",
  per_isolate_mb: (after - before) / held.length,
  rss_mb: after,
  isolates: held.length,
});
