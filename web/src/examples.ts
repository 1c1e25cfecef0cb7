// The examples menu: each one shows off a tier's behaviour or a limit.

import type { Isolation, Language } from "./api.ts";

export interface Example {
  name: string;
  language: Language;
  code: string;
  input: string;
  /** The tier that shows the example best; left as chosen when absent. */
  isolation?: Isolation;
  timeout_ms?: number;
  memory_mb?: number;
  fuel?: number;
  /** Routing rules can match it; left empty by the examples. */
  tag?: string;
}

export const EXAMPLES: Example[] = [
  {
    name: "Hello, world",
    language: "javascript",
    code: `// The default export is called with the JSON input; its return value is the output.
export default function (input) {
  console.log("greeting", input.name);
  return \`Hello, \${input.name}!\`;
}
`,
    input: `{ "name": "world" }`,
  },
  {
    name: "JSON transform",
    language: "javascript",
    code: `// Group orders by customer and total them.
export default function ({ orders }) {
  const totals = {};
  for (const { customer, amount } of orders) {
    totals[customer] = (totals[customer] ?? 0) + amount;
  }
  return Object.entries(totals)
    .map(([customer, total]) => ({ customer, total }))
    .sort((a, b) => b.total - a.total);
}
`,
    input: `{
  "orders": [
    { "customer": "ada", "amount": 30 },
    { "customer": "grace", "amount": 12.5 },
    { "customer": "ada", "amount": 7 },
    { "customer": "linus", "amount": 99 }
  ]
}`,
  },
  {
    name: "Fibonacci (compute)",
    language: "javascript",
    code: `// Naive recursion: compare how the JIT (isolate) and an interpreter (wasm) cope.
const fib = (n) => (n < 2 ? n : fib(n - 1) + fib(n - 2));

export default function ({ n }) {
  return { n, fib: fib(n) };
}
`,
    input: `{ "n": 25 }`,
  },
  {
    name: "TypeScript with types",
    language: "typescript",
    code: `interface Point {
  x: number;
  y: number;
}

function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

export default function ({ points }: { points: Point[] }): number {
  let total = 0;
  for (let i = 1; i < points.length; i++) total += distance(points[i - 1], points[i]);
  return Math.round(total * 1000) / 1000;
}
`,
    input: `{ "points": [{ "x": 0, "y": 0 }, { "x": 3, "y": 4 }, { "x": 6, "y": 8 }] }`,
  },
  {
    name: "Infinite loop (timeout)",
    language: "javascript",
    code: `// Never returns: the wall-clock timeout stops it, and the CPU is free again.
export default function () {
  while (true) {}
}
`,
    input: "null",
    timeout_ms: 1000,
  },
  {
    name: "Memory bomb (memory_limit)",
    language: "javascript",
    code: `// Grows without bound: the tier's memory cap stops it, other workloads are unaffected.
export default function () {
  const hoard = [];
  for (;;) hoard.push(new Array(1e5).fill(1));
}
`,
    input: "null",
    memory_mb: 32,
    timeout_ms: 10000,
  },
  {
    name: "Fuel-hungry loop (fuel_exhausted)",
    language: "javascript",
    code: `// A long loop on a deterministic fuel budget: the wasm tier stops it after exactly
// the same amount of work on every run, however fast the machine is.
export default function () {
  let sum = 0;
  for (let i = 0; i < 1e9; i++) sum += i;
  return sum;
}
`,
    input: "null",
    isolation: "wasm",
    fuel: 20000000,
  },
];
