/**
 * Peer 6b, the lower bound of the isolate tier: Deno making a bare worker per workload in a
 * loop, nothing else (no host process, HTTP, sealing, log capture, warm pool or cgroups).
 * `--api web` (default): a Web Worker with no permissions; `--api node`: a `node:worker_threads`
 * Worker with `resourceLimits`, the kind Vulcan's host makes. Both take TypeScript (blob URL
 * typed application/typescript, as the host does). Needs `--unstable-worker-options`.
 */
import { Worker as NodeWorker } from "node:worker_threads";
import { emit, rssMb, runSystem, WORKLOADS } from "./common.mjs";
import { idleIsolateMb, runOnFreshWorker } from "./workers.mjs";

const api = Deno.args.includes("--api") ? Deno.args[Deno.args.indexOf("--api") + 1] : "web";
if (api !== "web" && api !== "node") throw new Error("--api web|node");

const SYSTEM = api === "web" ? "deno-web-worker-loop" : "deno-node-worker-loop";
const spawn = api === "web"
  ? (announce) =>
    new Worker(new URL("./web-worker-child.mjs", import.meta.url), {
      type: "module",
      name: announce ? "announce" : "workload",
      deno: { permissions: "none" },
    })
  : (announce) =>
    new NodeWorker(new URL("./worker-child.mjs", import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: 64 },
      workerData: { announce },
    });

await runSystem(SYSTEM, (workload) => ({
  runOne: () => runOnFreshWorker(spawn, WORKLOADS[workload]),
  sample: rssMb,
  rssOf: "harness process, peak",
}));
emit({ system: SYSTEM, workload: "idle", ...(await idleIsolateMb(spawn)) });
