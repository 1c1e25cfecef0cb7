// expect: {"status": "error"}
export default () => 10n ** 30n;
