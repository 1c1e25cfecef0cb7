/**
 * One workload in a Deno Web Worker, used once: the same work as worker-child.mjs.
 */
const MEDIA_TYPES = { javascript: "application/javascript", typescript: "application/typescript" };

self.onmessage = async ({ data: { code, language, input } }) => {
  self.onmessage = null;
  const url = URL.createObjectURL(new Blob([code], { type: MEDIA_TYPES[language] }));
  const { default: main } = await import(url);
  self.postMessage(JSON.stringify(await main(JSON.parse(input))) ?? "null");
};
// For the idle-isolate measurement: say when the worker has booted and waits.
if (self.name === "announce") self.postMessage("ready");
