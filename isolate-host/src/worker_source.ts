/**
 * The modules every workload worker runs (`worker/`), read once at start and handed to each
 * new worker as fresh `blob:` URLs.
 *
 * Once the host has revoked its permissions, neither it nor a worker can read a file, and a
 * worker loads even its static imports with its own (empty) permissions. So the sources are read
 * here, before revoking. For each worker, every module becomes a `blob:` URL in which its
 * sibling imports (`from "./x.ts"`) point at the siblings' URLs; the worker starts from a tiny
 * `data:` module importing the entry's URL (`node:worker_threads` takes only `file:` and `data:`
 * URLs). `import type` lines need no rewriting (Deno erases them), nor do `node:` imports; any
 * other import would fail in the worker.
 *
 * Why not `data:` URLs all the way (measured on Deno 2.9): a data: URL is its own source, and the
 * sibling URLs nest inside the entry's, 62 KB of specifiers in all; every later dynamic
 * `import()` in that worker (the workload's, when Deno's loader loads it) then costs time in
 * proportion: 1.7 ms for a trivial module, against 0.6 ms with blob: URLs. Workers also boot
 * faster (a first run on a worker made for it: 56 → 24 ms).
 *
 * Blob URLs are process-wide: any worker that knew one could revoke it. So each worker gets
 * URLs of its own (random, never shown to another worker), revoked by the pool as soon as the
 * worker has loaded them.
 */

const SIBLING_IMPORT = /from "\.\/([\w-]+\.ts)"/g;

/** One worker's entry URL, and how to release the blob: URLs behind it. */
export interface WorkerEntry {
  url: URL;
  revoke(): void;
}

export class WorkerSource {
  /** Source of every module, by its file URL. */
  readonly #sources = new Map<string, string>();
  readonly #entry: string;

  constructor(entry = new URL("../worker/main.ts", import.meta.url)) {
    const linking = new Set<string>();
    const read = (file: URL) => {
      if (this.#sources.has(file.href)) return;
      if (linking.has(file.href)) throw new Error(`import cycle through ${file.href}`);
      linking.add(file.href);
      const source = Deno.readTextFileSync(file);
      for (const [, name] of source.matchAll(SIBLING_IMPORT)) read(new URL(name, file));
      this.#sources.set(file.href, source);
    };
    read(entry);
    this.#entry = entry.href;
  }

  /** Fresh blob: URLs for one worker; a module imported twice gets one URL (one instance). */
  entry(): WorkerEntry {
    const urls = new Map<string, string>();
    const link = (file: string): string => {
      const known = urls.get(file);
      if (known) return known;
      const source = this.#sources.get(file)!.replace(
        SIBLING_IMPORT,
        (_, name: string) => `from "${link(new URL(name, file).href)}"`,
      );
      const url = URL.createObjectURL(new Blob([source], { type: "application/typescript" }));
      urls.set(file, url);
      return url;
    };
    const main = link(this.#entry);
    return {
      url: new URL(`data:application/javascript,${encodeURIComponent(`import "${main}";`)}`),
      revoke: () => {
        for (const url of urls.values()) URL.revokeObjectURL(url);
        urls.clear();
      },
    };
  }
}
