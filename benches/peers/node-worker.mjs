/**
 * Peer 4: Node.js, a fresh `node:worker_threads` Worker with `resourceLimits` per workload
 * (the same 64 MiB old-generation limit Vulcan's isolate tier gives a worker), made when the
 * workload arrives. `node node-worker.mjs` prints one JSON line per cell (common.mjs).
 * TypeScript: n/a (Node 20 cannot strip types without a third-party transpiler).
 */
import { Worker } from "node:worker_threads";
import { emit, rssMb, runSystem, WORKLOADS } from "./common.mjs";
import { idleIsolateMb, runOnFreshWorker } from "./workers.mjs";

const SYSTEM = "node-worker-per-workload";
const CHILD = new URL("./worker-child.mjs", import.meta.url);
const spawn = (announce) =>
  new Worker(CHILD, { resourceLimits: { maxOldGenerationSizeMb: 64 }, workerData: { announce } });

await runSystem(SYSTEM, (workload) => {
  const spec = WORKLOADS[workload];
  if (spec.language === "typescript") return "Node 20 has no built-in type stripping";
  return {
    runOne: () => runOnFreshWorker(spawn, spec),
    sample: rssMb,
    rssOf: "harness process, peak",
  };
});
emit({ system: SYSTEM, workload: "idle", ...(await idleIsolateMb(spawn)) });
