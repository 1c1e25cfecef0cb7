// expect: {"status": "output_limit"}
export default () => "x".repeat(8 << 20);
