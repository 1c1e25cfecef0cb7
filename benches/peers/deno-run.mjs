/**
 * Peer 3, the naive runner: a fresh `deno run` process per workload, every permission denied
 * (Deno 2.9 has no `--deny-all`; no `--allow-*` flag plus `--no-prompt` denies everything, and
 * each `--deny-*` is given too). The workload is written to a fresh directory as
 * `workload.js|ts` beside a `main.js` that imports it, reads the input on stdin, calls the
 * default export and writes `<rss bytes>\n<output JSON>` on stdout. Fresh files per run, so no
 * run reuses another's module analysis; the code cache and emit cache are off (as for Vulcan's
 * hosts). Run by Deno: `deno run --allow-run=DENO --allow-read --allow-write=TMP --allow-env`.
 * `PEERS_DENO` is the Deno to spawn (default: the one running this script).
 */
import { emit, runSystem, WORKLOADS } from "./common.mjs";

const SYSTEM = "deno-run-per-workload";
const DENO = Deno.env.get("PEERS_DENO") ?? Deno.execPath();
const TMP = await Deno.makeTempDir({ prefix: "vulcan-peers-deno-run-" });
const FLAGS = [
  "run",
  "--no-prompt",
  ...["read", "write", "net", "env", "run", "ffi", "sys", "import"].map((p) => `--deny-${p}`),
  "--no-remote",
  "--no-npm",
  "--no-config",
  "--no-lock",
  "--no-code-cache",
];
const ENV = {
  DENO_DIR: `${TMP}/deno-dir`,
  DENO_CACHE_DB_MODE: "memory",
  DENO_EMIT_CACHE_MODE: "disable",
  DENO_NO_UPDATE_CHECK: "1",
  DENO_NO_PACKAGE_JSON: "1",
  NO_COLOR: "1",
};
const MAIN = (file) =>
  `import main from "./${file}";
const input = JSON.parse(await new Response(Deno.stdin.readable).text());
const output = JSON.stringify(await main(input)) ?? "null";
const bytes = new TextEncoder().encode(\`\${Deno.memoryUsage().rss}\\n\${output}\`);
for (let written = 0; written < bytes.length;) written += await Deno.stdout.write(bytes.subarray(written));
`;
const IDLE = `await Deno.stdout.write(new TextEncoder().encode(\`\${Deno.memoryUsage().rss}\\n\`));
await new Response(Deno.stdin.readable).text();
`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let serial = 0;
let lastRssMb = 0;

/** `deno run` of `dir/main.js` with every permission denied, stdin and stdout piped. */
function spawnDeno(dir, stderr) {
  return new Deno.Command(DENO, {
    args: [...FLAGS, `${dir}/main.js`],
    cwd: dir,
    clearEnv: true,
    env: ENV,
    stdin: "piped",
    stdout: "piped",
    stderr,
  }).spawn();
}

async function runOne(spec) {
  const dir = `${TMP}/run-${serial++}`;
  const file = spec.language === "typescript" ? "workload.ts" : "workload.js";
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/${file}`, spec.code);
  await Deno.writeTextFile(`${dir}/main.js`, MAIN(file));
  const child = spawnDeno(dir, "piped");
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(spec.input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  void Deno.remove(dir, { recursive: true });
  if (code !== 0) throw new Error(`deno run exited ${code}: ${decoder.decode(stderr)}`);
  const text = decoder.decode(stdout);
  const newline = text.indexOf("\n");
  lastRssMb = Number(text.slice(0, newline)) / (1 << 20);
  return text.slice(newline + 1);
}

/** RSS of one booted `deno run` process waiting on stdin (its own figure). */
async function idleProcessMb() {
  const dir = `${TMP}/idle`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/main.js`, IDLE);
  const child = spawnDeno(dir, "null");
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await child.stdin.close();
  reader.releaseLock();
  await child.output();
  return Number(decoder.decode(value).trim()) / (1 << 20);
}

try {
  await runSystem(SYSTEM, (workload) => ({
    runOne: () => runOne(WORKLOADS[workload]),
    sample: () => lastRssMb,
    rssOf: "one workload's deno process, peak",
  }), { warmupRuns: 2 });
  const perProcess = await idleProcessMb();
  emit({
    system: SYSTEM,
    workload: "idle",
    per_isolate_mb: perProcess,
    rss_mb: perProcess,
    isolates: 1,
  });
} finally {
  await Deno.remove(TMP, { recursive: true });
}
