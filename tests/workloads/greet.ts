// TypeScript: the isolate tier runs it natively; wasm strips the types first.
export default (name: string | null): string => `hello ${name ?? "world"}`;
