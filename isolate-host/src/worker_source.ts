/**
 * The worker's runtime (`worker/`) as one JavaScript module in a `data:` URL, built once when
 * the host starts (before it revokes its permissions, as it reads files).
 *
 * One self-contained module is the cheapest thing Deno can start a worker from: no module
 * graph to resolve, no TypeScript to transpile, no file or blob to read for each worker
 * (measured here: a worker from a file module costs about twice one from a `data:` URL).
 *
 * The bundling is deliberately small, for code written to its rules (checked, not assumed):
 * sibling imports are `import { a, b } from "./x.ts";` only, exports are `export function`,
 * `export async function`, `export const`, `export let` or `export class` only, and only the
 * entry module may use top-level `await`. Types are stripped in place; each module but the
 * entry becomes a function scope returning its exports, evaluated once, in dependency order,
 * before the entry's own code. Comments and spare white space are dropped (`compact.ts`): each
 * worker parses the bundle anew.
 */
import { stripTypeScriptTypes } from "node:module";
import { compact } from "./compact.ts";

const SIBLING_IMPORT = /import\s*\{([^}]*)\}\s*from\s*"\.\/([\w-]+)\.ts";/g;
const OTHER_IMPORT = /^\s*import\b/m;
const EXPORT = /^export (async function|function|const|let|class) (\w+)/gm;
const OTHER_EXPORT = /^\s*export\b/m;

/** Reads `entry` and its sibling modules; returns the `data:` URL of their bundle. */
export function workerSource(entry = new URL("../worker/main.ts", import.meta.url)): string {
  const modules: string[] = [];
  const done = new Map<string, string>();
  const linking = new Set<string>();

  /** Adds `file` (after its own imports) to `modules`; returns the variable holding it. */
  const add = (file: URL, isEntry: boolean): string => {
    const known = done.get(file.href);
    if (known) return known;
    if (linking.has(file.href)) throw new Error(`import cycle through ${file.href}`);
    linking.add(file.href);
    let code = stripTypeScriptTypes(Deno.readTextFileSync(file), { mode: "strip" });
    code = code.replace(SIBLING_IMPORT, (_, names: string, sibling: string) => {
      const variable = add(new URL(`${sibling}.ts`, file), false);
      return `const {${checkedNames(names, file)}} = ${variable};`;
    });
    if (OTHER_IMPORT.test(code)) throw new Error(`${file.href}: an import the bundle cannot take`);
    const exported: string[] = [];
    code = code.replace(EXPORT, (_, kind: string, name: string) => {
      exported.push(name);
      return `${kind} ${name}`;
    });
    if (OTHER_EXPORT.test(code)) throw new Error(`${file.href}: an export the bundle cannot take`);
    const variable = `__module${done.size}`;
    modules.push(
      isEntry
        ? code
        : `const ${variable} = (() => {\n${code}\nreturn { ${exported.join(", ")} };\n})();`,
    );
    done.set(file.href, variable);
    linking.delete(file.href);
    return variable;
  };
  add(entry, true);
  const bundle = compact(modules.join("\n"));
  // `text/javascript`: workload modules are `application/javascript` (`worker/intrinsics.ts`),
  // so a stack frame tells the two apart.
  return `data:text/javascript,${encodeURIComponent(bundle)}`;
}

/** `a, b` of a sibling import, refusing renames (`a as b`) the bundle does not take. */
function checkedNames(names: string, file: URL): string {
  const list = names.split(",").map((name) => name.trim()).filter((name) => name);
  for (const name of list) {
    if (!/^\w+$/.test(name)) throw new Error(`${file.href}: cannot bundle import of ${name}`);
  }
  return list.join(", ");
}
