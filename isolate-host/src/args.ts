/**
 * The host's command-line flags.
 *
 * - `--socket PATH` (required): the Unix socket to serve the agent's frames on.
 * - `--exit-on-stdin-eof` (no value): exit when stdin reaches end of file. The agent holds the
 *   other end of a pipe, so the host goes when the agent goes, however it went.
 *
 * The workers' heap limit is V8's own flag, given to Deno (`--v8-flags=--max-old-space-size=N`):
 * Web Workers take no per-worker limit, so each host serves one heap size.
 */

export interface Args {
  socket: string;
  exitOnStdinEof: boolean;
}

export function parseArgs(argv: readonly string[]): Args {
  const args: Partial<Args> = { exitOnStdinEof: false };
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
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!args.socket) throw new Error("--socket is required");
  return args as Args;
}
