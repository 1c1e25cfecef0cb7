/**
 * A module and everything it imports from this directory tree as one JavaScript module, at build
 * time (`build/main.ts`): the host then starts without transpiling TypeScript (and without
 * loading Node's `node:module`, which cost it ~65 ms of CPU at every start), and each worker
 * starts from one self-contained module (no module graph to resolve; a worker from a file
 * module costs about twice one from a `blob:` or `data:` URL, measured here).
 *
 * The bundling is deliberately small, for code written to its rules (checked, not assumed):
 * relative imports are `import { a, b } from "./x.ts";` (or `../dir/x.ts`) only, exports are
 * `export function`, `export async function`, `export const`, `export let` or `export class`
 * only, and only the entry module may use top-level `await`. Types are stripped in place; each
 * module but the entry becomes a function scope returning its exports, evaluated once, in
 * dependency order, before the entry's own code. Comments and spare white space are dropped
 * (`compact.ts`): each worker parses its bundle anew.
 */
import { stripTypeScriptTypes } from "node:module";
import { compact } from "./compact.ts";

const RELATIVE_IMPORT = /import\s*\{([^}]*)\}\s*from\s*"(\.\.?\/[\w/-]+\.ts)";/g;
const OTHER_IMPORT = /^\s*import\b/m;
const EXPORT = /^export (async function|function|const|let|class) (\w+)/gm;
const OTHER_EXPORT = /^\s*export\b/m;

/** The JavaScript of `entry` and every module it imports, bundled. */
export function bundle(entry: URL): string {
  const modules: string[] = [];
  const done = new Map<string, string>();
  const linking = new Set<string>();

  /** Adds `file` (after its own imports) to `modules`; returns the variable holding it. */
  const add = (file: URL, isEntry: boolean): string => {
    const known = done.get(file.href);
    if (known) return known;
    if (linking.has(file.href)) throw new Error(`import cycle through ${file.href}`);
    linking.add(file.href);
    let code: string;
    try {
      code = stripTypeScriptTypes(Deno.readTextFileSync(file), { mode: "strip" });
    } catch (error) {
      throw new Error(`${file.href}: ${(error as Error).message}`);
    }
    code = code.replace(RELATIVE_IMPORT, (_, names: string, relative: string) => {
      const variable = add(new URL(relative, file), false);
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
  return compact(modules.join("\n"));
}

/** `a, b` of an import, refusing renames (`a as b`) the bundle does not take. */
function checkedNames(names: string, file: URL): string {
  const list = names.split(",").map((name) => name.trim()).filter((name) => name);
  for (const name of list) {
    if (!/^\w+$/.test(name)) throw new Error(`${file.href}: cannot bundle import of ${name}`);
  }
  return list.join(", ");
}
