// A promise chain that never yields to timers. Each link also holds the next (a promise
// resolved with a promise), so its memory grows too: enough of it that time runs out first.
// expect: {"status": "timeout"}
// limits: {"timeout_ms": 300, "memory_mb": 512}
export default () => {
  const spin = () => Promise.resolve().then(spin);
  spin();
  return new Promise(() => {});
};
