/**
 * Starts the real host as a subprocess, exactly as README.md tells the agent to (`hostCommand`),
 * on a socket in a fresh temporary directory, and talks to it over that socket.
 */
import type { ExecuteResponse, HealthResponse } from "../src/protocol.ts";

export interface HostOptions {
  maxConcurrent?: number;
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
    `--allow-read=${hostDir}/worker,${socket}`,
    `--allow-write=${socket}`,
    `--allow-net=unix:${socket}`,
    `${hostDir}/main.ts`,
    "--socket",
    socket,
  ];
  if (options.maxConcurrent) args.push("--max-concurrent", String(options.maxConcurrent));
  if (options.heapMb) args.push("--heap-mb", String(options.heapMb));
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
};

export class RunningHost {
  readonly #client: Deno.HttpClient;

  constructor(
    readonly child: Deno.ChildProcess,
    readonly pid: number,
    readonly socket: string,
    readonly dir: string,
    readonly stderr: () => string,
  ) {
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  }

  request(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`http://host${path}`, { ...init, client: this.#client });
  }

  /** Runs `code` and returns the decoded answer; fails the test unless the status is 200. */
  async execute(
    code: string,
    fields: Record<string, unknown> = {},
  ): Promise<ExecuteResponse> {
    const response = await this.post({ code, ...DEFAULT_LIMITS, ...fields });
    const body = await response.json();
    if (response.status !== 200) {
      throw new Error(`execute answered ${response.status}: ${JSON.stringify(body)}`);
    }
    return body;
  }

  post(body: unknown): Promise<Response> {
    return this.request("/execute", { method: "POST", body: JSON.stringify(body) });
  }

  async health(): Promise<HealthResponse> {
    return await (await this.request("/health")).json();
  }

  /** SIGKILLs the host (SIGTERM waits for busy workers) and removes its directory. */
  async stop(): Promise<void> {
    this.#client.close();
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
