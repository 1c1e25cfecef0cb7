/**
 * The host's command-line flags.
 *
 * - `--socket PATH` (required): the Unix socket to serve HTTP on.
 * - `--max-concurrent N` (default 1): workloads run at once; one more is refused with 429.
 * - `--heap-mb N` (default 64): heap limit of each worker in MiB (V8's old generation, set with
 *   `resourceLimits`), used when a request has no `memory_mb`. Do not also pass
 *   `--v8-flags=--max-old-space-size`: it overrides every worker's limit (measured).
 * - `--exit-on-stdin-eof` (no value): exit when stdin reaches end of file. The agent holds the
 *   other end of a pipe, so the host goes when the agent goes, however it went.
 */

export interface Args {
  socket: string;
  maxConcurrent: number;
  heapMb: number;
  exitOnStdinEof: boolean;
}

export function parseArgs(argv: readonly string[]): Args {
  const args: Partial<Args> = { maxConcurrent: 1, heapMb: 64, exitOnStdinEof: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--exit-on-stdin-eof") {
      args.exitOnStdinEof = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case "--socket":
        args.socket = value;
        break;
      case "--max-concurrent":
        args.maxConcurrent = positiveInteger(flag, value);
        break;
      case "--heap-mb":
        args.heapMb = positiveInteger(flag, value);
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!args.socket) throw new Error("--socket is required");
  return args as Args;
}

function positiveInteger(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new Error(`${flag} must be a positive integer, not ${JSON.stringify(value)}`);
  }
  return number;
}
