/**
 * The side-by-side benchmark of issue 6: runs every peer one after the other (and Vulcan over
 * HTTP when `VULCAN_URL` names a running agent), collects their JSON lines into one results
 * file, and renders the Markdown tables and the SVG latency chart. See README.md here.
 *
 *   node benches/peers/run.mjs [--agent VULCAN_BINARY] [--only ID,ID] [--include LINES.jsonl]…
 *                              [--out RESULTS.json] [--report REPORT.md] [--svg CHART.svg]
 *                              [--render-only]
 *
 * `--agent` starts that `vulcan` binary on a free loopback port with a fresh data dir for the
 * run (and stops it after), instead of measuring an agent named by `VULCAN_URL`/`VULCAN_PID`.
 *
 * IDs: deno-run, node-worker, isolated-vm, workerd, quickjs-emscripten, rquickjs-native,
 * deno-web-worker, deno-node-worker, vulcan. `--include` merges results measured elsewhere into these: a file of
 * JSON lines (e.g. the cargo benches' backend-only figures in the same shape) or an earlier
 * results file. `PEERS_WORKLOADS`, `PEERS_CONCURRENCY`,
 * `PEERS_SCALE` are passed to every program (common.mjs).
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startAgent } from "./agent.mjs";
import { workloadsForFile } from "./common.mjs";
import { render } from "./report.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const ISOLATE_HOST = path.join(ROOT, "isolate-host");
const DENO = path.join(ISOLATE_HOST, "node_modules/@deno/linux-x64-glibc/deno");
const ENGINE = path.join(ROOT, "engine-wasm");

const args = parseArgs(process.argv.slice(2));
const out = path.resolve(args.out ?? path.join(ROOT, "target/bench-peers.json"));
const reportPath = path.resolve(args.report ?? path.join(ROOT, "target/bench-peers.md"));
const svgPath = path.resolve(args.svg ?? path.join(HERE, "latency.svg"));

if (args["render-only"]) {
  render(JSON.parse(readFileSync(out, "utf8")), reportPath, svgPath);
  console.error(`rendered ${reportPath} and ${svgPath} from ${out}`);
  process.exit(0);
}

ensureInstalled();
const tmp = mkdtempSync(path.join(os.tmpdir(), "vulcan-peers-"));
const agent = args.agent ? await startAgent(args.agent, path.join(tmp, "agent-data")) : null;
if (agent) {
  process.env.VULCAN_URL = agent.url;
  process.env.VULCAN_PID = String(agent.child.pid);
}
const workloadsFile = path.join(tmp, "workloads.json");
writeFileSync(workloadsFile, JSON.stringify(await workloadsForFile()));
const denoEnv = {
  DENO_DIR: path.join(tmp, "deno-dir"),
  DENO_NO_UPDATE_CHECK: "1",
  DENO_NO_PACKAGE_JSON: "1",
  NO_COLOR: "1",
};
const denoFlags = ["run", "--no-prompt", "--no-config", "--no-lock", "--no-remote", "--no-npm"];

/** Every program, in the order they run; `id` is what `--only` takes. */
const PROGRAMS = [
  {
    id: "rquickjs-native",
    command: "cargo",
    args: ["bench", "--bench", "native_quickjs", "--target", "x86_64-unknown-linux-gnu"],
    cwd: ENGINE,
    env: { PEERS_WORKLOADS_FILE: workloadsFile },
  },
  { id: "quickjs-emscripten", command: process.execPath, args: ["quickjs-emscripten.mjs"] },
  {
    id: "deno-web-worker",
    command: DENO,
    args: [
      ...denoFlags,
      "--unstable-worker-options",
      "--allow-env",
      `--allow-read=${HERE}`,
      "deno-worker.mjs",
      "--api",
      "web",
    ],
    env: denoEnv,
  },
  {
    id: "deno-node-worker",
    command: DENO,
    args: [...denoFlags, "--allow-env", `--allow-read=${HERE}`, "deno-worker.mjs", "--api", "node"],
    env: denoEnv,
  },
  { id: "node-worker", command: process.execPath, args: ["node-worker.mjs"] },
  { id: "isolated-vm", command: process.execPath, args: ["isolated-vm.mjs"] },
  { id: "workerd", command: process.execPath, args: ["workerd.mjs"] },
  {
    id: "deno-run",
    command: DENO,
    args: [
      ...denoFlags,
      "--allow-env",
      `--allow-read=${HERE},${os.tmpdir()}`,
      `--allow-write=${os.tmpdir()}`,
      `--allow-run=${DENO}`,
      "deno-run.mjs",
    ],
    env: { ...denoEnv, PEERS_DENO: DENO },
  },
  {
    id: "vulcan",
    command: process.execPath,
    args: ["vulcan-http.mjs"],
    when: () => process.env.VULCAN_URL,
  },
];

const only = args.only?.split(",");
for (const id of only ?? []) {
  if (!PROGRAMS.some((program) => program.id === id)) throw new Error(`unknown --only ${id}`);
}
const selected = PROGRAMS.filter((
  program,
) => (only ? only.includes(program.id) : program.when ? Boolean(program.when()) : true));
if (only?.includes("vulcan") && !process.env.VULCAN_URL) {
  throw new Error("--only vulcan needs VULCAN_URL");
}

const command = [
  "node",
  path.relative(process.cwd(), fileURLToPath(import.meta.url)) || "run.mjs",
  ...process.argv.slice(2),
].join(" ");
const document = { machine: machine(), command, results: [] };
for (const file of [args.include ?? []].flat()) {
  const text = readFileSync(file, "utf8");
  const earlier = text.trimStart().startsWith("{\n") ? JSON.parse(text).results : null;
  document.results.push(...(earlier ?? parseLines(text)));
}
mkdirSync(path.dirname(out), { recursive: true });

try {
  for (const program of selected) {
    const started = performance.now();
    console.error(`== ${program.id}`);
    const lines = await runProgram(program);
    document.results.push(...lines);
    console.error(
      `== ${program.id}: ${lines.length} lines in ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s`,
    );
    writeFileSync(out, JSON.stringify(document, null, 1)); // partial results survive a failure
  }
} finally {
  agent?.child.kill();
  rmSync(tmp, { recursive: true, force: true });
}
document.machine.load_after = os.loadavg().map((l) => l.toFixed(2)).join(" ");
writeFileSync(out, JSON.stringify(document, null, 1));
render(document, reportPath, svgPath);
console.error(`results ${out}\nreport  ${reportPath}\nchart   ${svgPath}`);

/** Runs one program; resolves with its JSON lines; its stderr (progress) passes through. */
function runProgram(program) {
  return new Promise((resolve, reject) => {
    const child = spawn(program.command, program.args, {
      cwd: program.cwd ?? HERE,
      env: { ...process.env, ...program.env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code !== 0) reject(new Error(`${program.id} exited with ${signal ?? code}`));
      else resolve(parseLines(stdout));
    });
  });
}

function parseLines(text) {
  return text.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}

/**
 * Installs the peers' packages (isolated-vm is built against Node's own headers, `.npmrc`
 * here) and the pinned Deno if they are missing or older than their lock files.
 */
function ensureInstalled() {
  for (
    const [dir, marker] of [[HERE, "node_modules/.package-lock.json"], [
      ISOLATE_HOST,
      "node_modules/@deno/linux-x64-glibc/deno",
    ]]
  ) {
    const installed = path.join(dir, marker);
    const stale = existsSync(installed) &&
      statSync(path.join(dir, "package-lock.json")).mtimeMs > statSync(installed).mtimeMs;
    if (existsSync(installed) && !stale) continue;
    console.error(`npm ci in ${dir}`);
    const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
      cwd: dir,
      stdio: "inherit",
    });
    if (result.status !== 0) throw new Error(`npm ci failed in ${dir}`);
  }
}

function machine() {
  const version = (cmd, argv) => {
    const result = spawnSync(cmd, argv, { encoding: "utf8" });
    return result.status === 0 ? result.stdout.split("\n")[0].trim() : null;
  };
  const osRelease = existsSync("/etc/os-release")
    ? /PRETTY_NAME="?([^"\n]*)/.exec(readFileSync("/etc/os-release", "utf8"))?.[1]
    : null;
  const cpus = os.cpus();
  const memGiB = (os.totalmem() / (1 << 30)).toFixed(0);
  const versions = {
    node: process.version,
    deno: version(DENO, ["--version"]),
    rustc: version("rustc", ["--version"]),
    quickjs_emscripten: JSON.parse(
      readFileSync(path.join(HERE, "node_modules/quickjs-emscripten/package.json"), "utf8"),
    ).version,
  };
  return {
    date: new Date().toISOString(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model,
    mem_gib: Number(memGiB),
    kernel: os.release(),
    os: osRelease,
    versions,
    load_before: os.loadavg().map((l) => l.toFixed(2)).join(" "),
    summary:
      `${cpus.length} × ${cpus[0]?.model ?? "CPU"}, ${memGiB} GiB, ${osRelease ?? "Linux"} ` +
      `(kernel ${os.release()}); Node ${process.version}, ${versions.deno}, ${versions.rustc}, ` +
      `quickjs-emscripten ${versions.quickjs_emscripten}`,
  };
}

function parseArgs(argv) {
  const parsed = {};
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    if (name === "render-only") {
      parsed[name] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    parsed[name] = name === "include" ? [...(parsed.include ?? []), value] : value;
  }
  return parsed;
}
