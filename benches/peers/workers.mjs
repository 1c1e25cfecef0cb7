/**
 * A fresh worker per workload, the worker made on the workload's path (no warm pool): the
 * shared part of the Node worker_threads peer and the Deno `new Worker` loops.
 */
import { rssMb } from "./common.mjs";

/** Runs one workload on a worker that `spawn()` makes for it; resolves with the output JSON. */
export function runOnFreshWorker(spawn, spec) {
  return new Promise((resolve, reject) => {
    const worker = spawn(false);
    const done = (settle) => (value) => {
      settle(value);
      void worker.terminate();
    };
    on(worker, "message", done(resolve));
    on(worker, "error", done((error) => reject(error?.error ?? error)));
    worker.postMessage({ code: spec.code, language: spec.language, input: spec.input });
  });
}

/**
 * RSS per idle isolate: `count` workers that booted and wait (each told to announce itself),
 * held at once; (RSS with them − RSS before) / count, in MiB.
 */
export async function idleIsolateMb(spawn, count = 8) {
  await settle();
  const before = rssMb();
  const workers = [];
  for (let i = 0; i < count; i++) {
    const worker = spawn(true);
    workers.push(worker);
    await new Promise((resolve) => on(worker, "message", resolve));
  }
  await settle();
  const after = rssMb();
  for (const worker of workers) await worker.terminate();
  return { per_isolate_mb: (after - before) / count, rss_mb: after, isolates: count };
}

function on(worker, event, listener) {
  if (worker.once) worker.once(event, listener); // node:worker_threads
  else worker.addEventListener(event, (e) => listener(e.data ?? e), { once: true }); // Web Worker
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
