/**
 * Peer 5: quickjs-emscripten (QuickJS compiled to wasm by Emscripten, run by Node's V8) with a
 * fresh runtime and context per workload. At concurrency 1 the workload runs on the main
 * thread (no hand-off: the library's best case); above it, on a pool of min(concurrency, CPUs)
 * worker threads, each with its own QuickJS module, the rest queued (as Vulcan's wasm tier
 * queues on its pool of one thread per CPU). TypeScript: n/a (no type stripping in QuickJS).
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import { getQuickJS, newQuickJSWASMModule } from "quickjs-emscripten";
import { emit, rssMb, runSystem, WORKLOADS } from "./common.mjs";
import { runFresh } from "./quickjs-run.mjs";

const SYSTEM = "quickjs-emscripten";
const CPUS = os.availableParallelism?.() ?? os.cpus().length;
const quickjs = await getQuickJS();

// Per idle runtime, measured first on a module of its own (a used module's heap has room to
// spare): RSS growth holding 100 fresh runtime+context pairs.
const IDLE = 100;
{
  const module = await newQuickJSWASMModule();
  const before = rssMb();
  const held = [];
  for (let i = 0; i < IDLE; i++) {
    const runtime = module.newRuntime();
    held.push({ runtime, vm: runtime.newContext() });
  }
  const after = rssMb();
  emit({
    system: SYSTEM,
    workload: "idle",
    per_isolate_mb: (after - before) / IDLE,
    rss_mb: after,
    isolates: IDLE,
  });
  for (const { runtime, vm } of held) {
    vm.dispose();
    runtime.dispose();
  }
}

/** Pool threads, started once and reused across cells. */
const threads = [];
const waiting = [];
const pending = new Map();
let nextId = 0;

async function grow(size) {
  while (threads.length < size) {
    const worker = new Worker(new URL("./quickjs-pool-child.mjs", import.meta.url));
    await new Promise((resolve) => worker.once("message", resolve));
    const thread = { worker, busy: false };
    worker.on("message", ({ id, output, error }) => {
      const job = pending.get(id);
      pending.delete(id);
      thread.busy = false;
      dispatch();
      if (error) job.reject(new Error(error));
      else job.resolve(output);
    });
    threads.push(thread);
  }
}

let poolSize = 0;
function dispatch() {
  for (const thread of threads.slice(0, poolSize)) {
    if (thread.busy || waiting.length === 0) continue;
    const job = waiting.shift();
    thread.busy = true;
    pending.set(job.id, job);
    thread.worker.postMessage({ id: job.id, code: job.code, input: job.input });
  }
}

function onPool(spec) {
  return new Promise((resolve, reject) => {
    waiting.push({ id: nextId++, code: spec.code, input: spec.input, resolve, reject });
    dispatch();
  });
}

await runSystem(SYSTEM, async (workload, concurrency) => {
  const spec = WORKLOADS[workload];
  if (spec.language === "typescript") return "QuickJS has no type stripping";
  if (concurrency === 1) {
    return {
      runOne: () => runFresh(quickjs, spec.code, spec.input),
      sample: rssMb,
      rssOf: "harness process, peak",
    };
  }
  poolSize = Math.min(concurrency, CPUS);
  await grow(poolSize);
  return { runOne: () => onPool(spec), sample: rssMb, rssOf: "harness process incl. pool, peak" };
});

for (const { worker } of threads) await worker.terminate();
