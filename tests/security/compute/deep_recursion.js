// expect: {"status": "error"}
export default () => {
  const down = (n) => down(n + 1) + 1;
  return down(0);
};
