// expect: {"status": "error"}
export default () => {
  const loop = {};
  loop.self = loop;
  return loop;
};
