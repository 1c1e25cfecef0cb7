/**
 * Starts the real host as a subprocess, exactly as README.md tells the agent to (`hostCommand`),
 * on a socket in a fresh temporary directory, and talks to it over that socket with the
 * agent's framing.
 */
import { FrameReader, writeFrame } from "../src/frames.ts";
import type { HealthAnswer, PrepareAnswer, RunAnswer } from "../src/protocol.ts";

export interface HostOptions {
  /** The workers' heap limit (`--v8-flags=--max-old-space-size`), MiB. */
  heapMb?: number;
  /** `--exit-on-stdin-eof`, with stdin a pipe the test holds (as the agent runs hosts). */
  exitOnStdinEof?: boolean;
}

/** The command line of README.md, for a host serving on `dir/host.sock`. */
export function hostCommand(dir: string, options: HostOptions = {}): Deno.CommandOptions {
  const hostDir = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const socket = `${dir}/host.sock`;
  const args = [
    "run",
    "--no-prompt",
    "--no-remote",
    "--no-npm",
    "--no-config",
    "--no-lock",
    "--no-code-cache",
    "--unstable-worker-options",
    `--v8-flags=--max-old-space-size=${options.heapMb ?? 64}`,
    `--allow-read=${socket}`,
    `--allow-write=${socket}`,
    `--allow-net=unix:${socket}`,
    `${hostDir}/dist/host.js`,
    "--socket",
    socket,
  ];
  if (options.exitOnStdinEof) args.push("--exit-on-stdin-eof");
  return {
    args,
    clearEnv: true,
    env: {
      DENO_DIR: `${dir}/deno`,
      DENO_CACHE_DB_MODE: "memory",
      DENO_EMIT_CACHE_MODE: "disable",
      DENO_NO_UPDATE_CHECK: "1",
      DENO_NO_PACKAGE_JSON: "1",
      NO_COLOR: "1",
    },
    stdin: options.exitOnStdinEof ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  };
}

/** Generous defaults: the tests share two cores with whatever else runs. */
export const DEFAULT_LIMITS = {
  timeout_ms: 10_000,
  max_output_bytes: 1_048_576,
  max_log_bytes: 65_536,
  max_log_lines: 1_000,
  module_name: "workload.js",
};

/** A run's answer with its output parsed (`null` when the payload is empty). */
export type Executed = RunAnswer & { output: unknown };

export class RunningHost {
  #conn: Deno.UnixConn | null = null;
  #frames: FrameReader | null = null;

  constructor(
    readonly child: Deno.ChildProcess,
    readonly pid: number,
    readonly socket: string,
    readonly dir: string,
    readonly stderr: () => string,
  ) {}

  /** One request and its answer, on the kept connection. */
  async request(
    head: unknown,
    payload?: Uint8Array,
  ): Promise<{ head: Record<string, unknown>; payload: Uint8Array }> {
    if (!this.#conn) {
      this.#conn = await Deno.connect({ transport: "unix", path: this.socket });
      this.#frames = new FrameReader(this.#conn);
    }
    await writeFrame(this.#conn, head, payload);
    const answer = await this.#frames!.next();
    if (!answer) throw new Error("the host closed the connection");
    return { head: answer.head as Record<string, unknown>, payload: answer.payload.slice() };
  }

  /**
   * Runs `code` (fields override the default limits; `input` goes in the payload) and then,
   * as the agent does, prepares the next warm worker unless the host is poisoned. Fails the
   * test if the host refuses the run.
   */
  async execute(code: string, fields: Record<string, unknown> = {}): Promise<Executed> {
    const { input = null, ...limits } = fields;
    const job = new TextEncoder().encode(JSON.stringify({ code, input }));
    const answer = await this.request({ type: "run", ...DEFAULT_LIMITS, ...limits }, job);
    if ("error" in answer.head && !("status" in answer.head)) {
      throw new Error(`run refused: ${JSON.stringify(answer.head)}`);
    }
    const run = answer.head as unknown as RunAnswer;
    const output = answer.payload.length
      ? JSON.parse(new TextDecoder().decode(answer.payload))
      : null;
    if (!run.poisoned) await this.prepare();
    return { ...run, output };
  }

  async prepare(): Promise<PrepareAnswer> {
    return (await this.request({ type: "prepare" })).head as unknown as PrepareAnswer;
  }

  async health(): Promise<HealthAnswer> {
    return (await this.request({ type: "health" })).head as unknown as HealthAnswer;
  }

  /** Closes the kept connection (the host serves one connection at a time). */
  disconnect(): void {
    this.#conn?.close();
    this.#conn = null;
    this.#frames = null;
  }

  /** SIGKILLs the host and removes its directory. */
  async stop(): Promise<void> {
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await Deno.remove(this.dir, { recursive: true });
  }
}

export async function startHost(options: HostOptions = {}): Promise<RunningHost> {
  const dir = await Deno.makeTempDir({ prefix: "isolate-host-test-" });
  const child = new Deno.Command(Deno.execPath(), hostCommand(dir, options)).spawn();
  let stderr = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stderr = (stderr + chunk).slice(-65_536)) }),
  );
  const firstLine = await readFirstLine(child, 30_000);
  if (firstLine === null) {
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited by itself.
    }
    await child.status;
    await stderrDone;
    await Deno.remove(dir, { recursive: true });
    throw new Error(`host did not become ready; stderr:\n${stderr}`);
  }
  const ready = JSON.parse(firstLine);
  if (ready.ready !== true || ready.pid !== child.pid) {
    throw new Error(`bad ready line ${firstLine}`);
  }
  return new RunningHost(child, ready.pid, `${dir}/host.sock`, dir, () => stderr);
}

/**
 * The first stdout line, or `null` if the host exits or the deadline passes first. The rest of
 * stdout is drained and dropped, as the agent must do too (a workload can write there).
 */
async function readFirstLine(child: Deno.ChildProcess, deadlineMs: number): Promise<string | null> {
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<null>((resolve) =>
    timer = setTimeout(() => resolve(null), deadlineMs)
  );
  const line = (async () => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) return null;
      buffered += value;
    }
    return buffered.slice(0, buffered.indexOf("\n"));
  })();
  const first = await Promise.race([line, deadline]);
  clearTimeout(timer);
  void (async () => {
    while (!(await lines.read()).done);
  })().catch(() => {});
  return first;
}
