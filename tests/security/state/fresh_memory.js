// Reads a large fresh allocation and a fresh string buffer: nothing written by an earlier
// workload (on this tier, the corpus runs in sequence) may show through.
// expect: {"status": "succeeded", "output": [0, "aaaa"]}
export default () => {
  const bytes = new Uint8Array(8 << 20);
  let nonZero = 0;
  for (let i = 0; i < bytes.length; i += 64) nonZero += bytes[i] === 0 ? 0 : 1;
  const text = "a".repeat(4096);
  return [nonZero, text.slice(0, 4)];
};
