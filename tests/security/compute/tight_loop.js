// expect: {"status": "timeout"}
// limits: {"timeout_ms": 300}
export default () => {
  for (;;);
};
