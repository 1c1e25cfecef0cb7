/**
 * Peer 8: Cloudflare's workerd (npm `workerd`), its dynamic Worker Loader: a parent Worker
 * served over HTTP on loopback calls `env.LOADER.load(code)` per workload (a fresh isolate each
 * time, no caching by id), with `globalOutbound: null`, and the loaded Worker parses the input,
 * calls the default export and `JSON.stringify`s the result. The loader needs `--experimental`.
 * Open-source workerd enforces no CPU or memory limit per isolate (a heap overflow aborts the
 * whole process), so this is a peer for speed, not for containment. `node workerd.mjs` prints
 * one JSON line per cell (common.mjs); requests go over keep-alive sockets (`raw-http.mjs`).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { runSystem, WORKLOADS } from "./common.mjs";
import { RawHttpClient } from "./raw-http.mjs";

const SYSTEM = "workerd-loader-per-workload";
const COMPATIBILITY_DATE = "2025-06-01";
const PARENT = `const DRIVER = \`import main from "./workload.js";
export default {
  async fetch(request) {
    const output = JSON.stringify(await main(JSON.parse(await request.text()))) ?? "null";
    return new Response(output);
  },
};\`;
export default {
  async fetch(request, env) {
    const { code, input } = await request.json();
    const worker = env.LOADER.load({
      compatibilityDate: "${COMPATIBILITY_DATE}",
      mainModule: "driver.js",
      modules: { "driver.js": DRIVER, "workload.js": code },
      globalOutbound: null,
    });
    return worker.getEntrypoint().fetch(new Request("http://workload/", { method: "POST", body: input }));
  },
};
`;

const workerd = createRequire(import.meta.url).resolve("workerd/bin/workerd");
const dir = mkdtempSync(path.join(os.tmpdir(), "vulcan-peers-workerd-"));
const port = await freePort();
writeFileSync(path.join(dir, "parent.mjs"), PARENT);
writeFileSync(
  path.join(dir, "config.capnp"),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = (
    modules = [(name = "parent.mjs", esModule = embed "parent.mjs")],
    compatibilityDate = "${COMPATIBILITY_DATE}",
    compatibilityFlags = ["experimental"],
    bindings = [(name = "LOADER", workerLoader = (id = "peers"))],
  ))],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
`,
);
const server = spawn(workerd, ["serve", "--experimental", "config.capnp"], {
  cwd: dir,
  stdio: ["ignore", "ignore", "inherit"],
});
const client = new RawHttpClient(`http://127.0.0.1:${port}`);
try {
  await untilServing();
  await runSystem(SYSTEM, (workload) => {
    const spec = WORKLOADS[workload];
    if (spec.language === "typescript") return "the Worker Loader takes JavaScript modules";
    const body = JSON.stringify({ code: spec.code, input: spec.input });
    return {
      runOne: async () => {
        const { status, body: answer } = await client.request("POST", "/", body);
        const text = answer.toString("utf8");
        if (status !== 200) throw new Error(`workerd answered ${status}: ${text.slice(0, 300)}`);
        return text;
      },
      sample: serverRssMb,
      rssOf: "workerd process, peak",
    };
  });
} finally {
  client.close();
  server.kill();
  rmSync(dir, { recursive: true, force: true });
}

function serverRssMb() {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : 0;
}

async function untilServing() {
  for (let tries = 0; tries < 200; tries++) {
    const connected = await new Promise((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("workerd did not start serving");
}

function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
