/**
 * A single-use isolate: what `warm.ts`, `workload.ts` and `deadline.ts` know of the thing a
 * workload runs in, whatever makes it. Here it is a Deno Web Worker (a fresh V8 isolate on a
 * thread of its own) started from the runtime's bundled module with no permissions at all.
 *
 * Measured here (Deno 2.9): a Web Worker from a `blob:` or `data:` module costs about half the
 * CPU of one from a file module, and about a third of a `node:worker_threads` worker (which boots Node's
 * compatibility layer); `terminate()` does not stop one spinning in JavaScript (see
 * `deadline.ts`); and reaching V8's heap limit in one aborts the whole process, which is why a
 * host runs one workload at a time and the agent replaces it then.
 */
import type { HostMessage } from "./protocol.ts";

export interface SingleUseIsolate {
  /** Sends a message (a structured clone). */
  post(message: HostMessage): void;
  /** Every message the isolate posts, unchecked: the workload can post anything. */
  onMessage(listener: (data: unknown) => void): void;
  /** An error that escaped the runtime inside (loading it failed); the isolate is done. */
  onError(listener: (message: string) => void): void;
  /** Ends it. A worker busy in JavaScript keeps its thread (see `deadline.ts`). */
  terminate(): void;
}

/** Starts an isolate running the runtime at `source` (a `blob:` URL). */
export function createIsolate(source: string): SingleUseIsolate {
  const worker = new Worker(source, { type: "module", deno: { permissions: "none" } });
  let onMessage: (data: unknown) => void = () => {};
  let onError: (message: string) => void = () => {};
  worker.onmessage = (event) => onMessage(event.data);
  worker.onmessageerror = () => {};
  worker.onerror = (event) => {
    event.preventDefault();
    onError(event.message);
  };
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => onMessage = listener,
    onError: (listener) => onError = listener,
    terminate: () => worker.terminate(),
  };
}
