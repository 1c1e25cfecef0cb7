// A promise chain that never yields to timers.
// expect: {"status": "timeout"}
// limits: {"timeout_ms": 300}
export default () => {
  const spin = () => Promise.resolve().then(spin);
  spin();
  return new Promise(() => {});
};
