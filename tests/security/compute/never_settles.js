// A promise that never settles: the isolate tier waits for the timeout; the wasm tier knows
// at once that nothing is left to run.
// expect.isolate: {"status": "timeout"}
// expect.wasm: {"status": "error", "error": {"name": "ContractError"}}
// limits: {"timeout_ms": 300}
export default () => new Promise(() => {});
