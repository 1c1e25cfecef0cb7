/** The few assertions the tests need (Deno's standard library is not available offline). */

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep equality of JSON-like values (objects compared key by key, in any order). */
export function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  if (!equal(actual, expected)) {
    throw new Error(
      `${message ? message + ": " : ""}values differ\n  actual:   ${show(actual)}\n` +
        `  expected: ${show(expected)}`,
    );
  }
}

export function assertMatch(actual: string, pattern: RegExp): void {
  if (!pattern.test(actual)) throw new Error(`${JSON.stringify(actual)} does not match ${pattern}`);
}

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) =>
    Object.hasOwn(b, key) &&
    equal((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
  );
}

function show(value: unknown): string {
  return value === undefined ? "undefined" : JSON.stringify(value);
}
