/**
 * Renders a results file of run.mjs (`{machine, command, results: [line…]}`) as Markdown tables
 * and an SVG chart of latency per system. `node report.mjs RESULTS.json [REPORT.md] [CHART.svg]`
 * re-renders without measuring again.
 */
import { readFileSync, writeFileSync } from "node:fs";

/** Display order: the wasm tier and its bounds, then the isolate tier and its peers. */
const ORDER = [
  "vulcan-wasm-http",
  "vulcan-wasm-backend",
  "rquickjs-native",
  "quickjs-emscripten",
  "vulcan-isolate-http",
  "vulcan-isolate-http-paced",
  "vulcan-isolate-host",
  "deno-web-worker-loop",
  "deno-node-worker-loop",
  "node-worker-per-workload",
  "deno-run-per-workload",
];
const WORKLOAD_TITLES = {
  trivial: "trivial (`input.a + input.b`)",
  json: "JSON transform (~48 KB in, ~27 KB out)",
  fib25: "compute (naive fib(25))",
  ts_trivial: "TypeScript trivial",
};
const CONCURRENCIES = [1, 2, 8, 32];

function systemsOf(results) {
  const seen = [...new Set(results.map((line) => line.system))];
  const rank = (system) => (ORDER.includes(system) ? ORDER.indexOf(system) : ORDER.length);
  return seen.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

const ms = (value) =>
  value == null
    ? "–"
    : value < 1
    ? value.toFixed(3)
    : value < 100
    ? value.toFixed(2)
    : value.toFixed(0);
const perS = (value) => (value == null ? "–" : value >= 100 ? value.toFixed(0) : value.toFixed(1));
const mb = (value) => (value == null ? "–" : value < 1 ? value.toFixed(2) : value.toFixed(1));

export function markdown({ machine, command, results }) {
  const out = [];
  const systems = systemsOf(results);
  const cell = (system, workload, concurrency) =>
    results.find((l) =>
      l.system === system && l.workload === workload && l.concurrency === concurrency
    );
  const na = (system, workload) =>
    results.find((l) => l.system === system && l.workload === workload && l.na);

  out.push(
    `Machine: ${machine.summary}. Load average ${machine.load_before} before, ${
      machine.load_after ?? "?"
    } after.`,
  );
  out.push("");
  out.push(`Command: \`${command}\` (${machine.date}).`);
  out.push("");
  out.push(
    "Latency is per run, submission to checked result, back to back (concurrency 1); throughput is " +
      "runs/s with N workloads in flight (closed loop). RSS is the peak over the cells of the " +
      "process named in the memory table.",
  );
  const workloads = [
    ...new Set(results.filter((l) => l.workload !== "idle").map((l) => l.workload)),
  ];
  for (const workload of Object.keys(WORKLOAD_TITLES).filter((w) => workloads.includes(w))) {
    out.push("");
    out.push(`### ${WORKLOAD_TITLES[workload]}`);
    out.push("");
    out.push("| system | runs (c=1) | p50 c=1 | p99 c=1 | /s c=1 | /s c=2 | /s c=8 | /s c=32 |");
    out.push("|---|---|---|---|---|---|---|---|");
    for (const system of systems) {
      const skipped = na(system, workload);
      if (skipped) {
        out.push(`| ${system} | n/a: ${skipped.na} | | | | | | |`);
        continue;
      }
      const one = cell(system, workload, 1);
      if (!one && !CONCURRENCIES.some((c) => cell(system, workload, c))) continue;
      const throughput = CONCURRENCIES.map((c) =>
        perS(cell(system, workload, c)?.throughput_per_s)
      );
      out.push(
        `| ${system} | ${one?.runs ?? "–"} | ${ms(one?.p50_ms)} ms | ${ms(one?.p99_ms)} ms | ${
          throughput.join(" | ")
        } |`,
      );
    }
  }

  out.push("");
  out.push("### Memory");
  out.push("");
  out.push("| system | per idle isolate | of what | peak RSS during runs | of what |");
  out.push("|---|---|---|---|---|");
  for (const system of systems) {
    const idle = results.find((l) => l.system === system && l.workload === "idle");
    const cells = results.filter((l) =>
      l.system === system && l.workload !== "idle" && l.rss_mb != null
    );
    const peak = cells.length ? Math.max(...cells.map((l) => l.rss_mb)) : null;
    const hostsPeak = cells.some((l) => l.hosts_rss_mb != null)
      ? Math.max(...cells.map((l) => l.hosts_rss_mb ?? 0))
      : null;
    const idleText = idle?.per_isolate_mb != null ? `${mb(idle.per_isolate_mb)} MiB` : "–";
    let idleOf = idle?.per_isolate_of ??
      (idle?.isolates ? `RSS growth / ${idle.isolates} held idle` : "");
    if (system === "deno-run-per-workload" && idle) idleOf = "RSS of one booted deno process";
    if (idle?.agent_rss_mb != null) {
      idleOf += `; idle agent ${mb(idle.agent_rss_mb)} MiB, hosts ${mb(idle.hosts_rss_mb)} MiB ` +
        `(${(idle.processes ?? []).map((p) => mb(p.rss_mb)).join(" + ")})`;
    }
    let peakText = peak == null ? "–" : `${mb(peak)} MiB`;
    if (hostsPeak != null) peakText += ` + hosts ${mb(hostsPeak)} MiB`;
    const peakOf = cells.find((l) => l.rss_of)?.rss_of ?? "";
    if (!idle && peak == null) continue;
    out.push(`| ${system} | ${idleText} | ${idleOf} | ${peakText} | ${peakOf} |`);
  }
  return out.join("\n") + "\n";
}

/** Horizontal bars on a log scale: p50 at concurrency 1 per system, p99 as a whisker. */
export function svg({ results }, workload = "trivial") {
  const rows = systemsOf(results)
    .map((system) =>
      results.find((l) => l.system === system && l.workload === workload && l.concurrency === 1)
    )
    .filter((line) => line?.p50_ms > 0);
  const width = 860;
  const left = 220;
  const right = 90;
  const top = 46;
  const rowHeight = 26;
  const height = top + rows.length * rowHeight + 58;
  const values = rows.flatMap((line) => [line.p50_ms, line.p99_ms ?? line.p50_ms]);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values, 0.1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 1)));
  const x = (value) =>
    left +
    ((Math.log10(value) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) *
      (width - left - right);
  const esc = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${
      esc(workload)
    } workload, concurrency 1: p50 latency (bar), p99 (whisker), log scale</text>`,
  ];
  for (let tick = lo; tick <= hi * 1.0001; tick *= 10) {
    const tx = x(tick).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${top - 8}" x2="${tx}" y2="${height - 50}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${tx}" y="${height - 34}" text-anchor="middle" fill="#555">${
        tick >= 1 ? tick : tick.toFixed(String(tick).length - 2)
      } ms</text>`,
    );
  }
  rows.forEach((line, i) => {
    const y = top + i * rowHeight;
    const vulcan = line.system.startsWith("vulcan-");
    const wasmish = /wasm|quickjs/.test(line.system);
    const fill = vulcan ? (wasmish ? "#1f77b4" : "#d62728") : wasmish ? "#9ecae1" : "#fcae91";
    parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(line.system)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y + 4}" width="${(x(line.p50_ms) - left).toFixed(1)}" height="${
        rowHeight - 10
      }" fill="${fill}"/>`,
    );
    if (line.p99_ms != null) {
      const x50 = x(line.p50_ms).toFixed(1);
      const x99 = x(line.p99_ms).toFixed(1);
      const mid = y + rowHeight / 2 - 1;
      parts.push(`<line x1="${x50}" y1="${mid}" x2="${x99}" y2="${mid}" stroke="#333"/>`);
      parts.push(`<line x1="${x99}" y1="${mid - 5}" x2="${x99}" y2="${mid + 5}" stroke="#333"/>`);
    }
    const label = `${ms(line.p50_ms)} / ${ms(line.p99_ms)} ms`;
    parts.push(
      `<text x="${(x(line.p99_ms ?? line.p50_ms) + 6).toFixed(1)}" y="${
        y + 15
      }" fill="#333">${label}</text>`,
    );
  });
  const legend = [["#1f77b4", "Vulcan wasm tier"], ["#9ecae1", "QuickJS peers and bound"], [
    "#d62728",
    "Vulcan isolate tier",
  ], ["#fcae91", "V8 isolate / process peers and bound"]];
  let lx = 20;
  for (const [fill, text] of legend) {
    parts.push(`<rect x="${lx}" y="${height - 20}" width="12" height="12" fill="${fill}"/>`);
    parts.push(`<text x="${lx + 16}" y="${height - 10}" fill="#333">${text}</text>`);
    lx += 16 + text.length * 6.6 + 24;
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

export function render(results, reportPath, svgPath) {
  writeFileSync(reportPath, markdown(results));
  writeFileSync(svgPath, svg(results));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, report = "report.md", chart = "latency.svg"] = process.argv.slice(2);
  if (!input) throw new Error("usage: node report.mjs RESULTS.json [REPORT.md] [CHART.svg]");
  render(JSON.parse(readFileSync(input, "utf8")), report, chart);
}
