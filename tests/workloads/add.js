// Trivial: what most functions-as-a-service calls look like.
export default (input) => (input?.a ?? 1) + (input?.b ?? 2);
