// `Atomics` on the wasm tier. QuickJS-ng builds its own only with threads, and the guest
// (wasm32-wasip1) has none: a workload is the only agent, so each operation is the plain
// read-modify-write the specification describes, with its argument checks. `wait` needs a
// shared array, as everywhere, and may not block the only thread (as on a browser's main
// thread): it throws unless the value differs ("not-equal"); `notify` wakes no one (0).
(function installAtomics() {
  "use strict";
  if (typeof globalThis.Atomics !== "undefined") return;
  const TypedArray = Object.getPrototypeOf(Int8Array);
  const tag = Object.getOwnPropertyDescriptor(TypedArray.prototype, Symbol.toStringTag).get;
  const { apply } = Reflect;
  const toStringOf = Object.prototype.toString;
  const INTEGER = ["Int8Array", "Uint8Array", "Int16Array", "Uint16Array", "Int32Array",
    "Uint32Array", "BigInt64Array", "BigUint64Array"];
  const WAITABLE = ["Int32Array", "BigInt64Array"];
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const toNumber = Number;
  const isBig = (name) => name === "BigInt64Array" || name === "BigUint64Array";

  function check(array, allowed) {
    const name = array !== null && typeof array === "object" ? apply(tag, array, []) : undefined;
    if (!allowed.includes(name)) {
      throw new TypeErrorCtor(`Atomics operations need an integer typed array, got ${name ?? typeof array}`);
    }
    return name;
  }

  function index(array, at) {
    const i = Math.trunc(toNumber(at)) || 0;
    if (!(i >= 0 && i < array.length)) {
      throw new RangeErrorCtor("Atomics index out of range");
    }
    return i;
  }

  function value(name, v) {
    return isBig(name) ? BigInt(v) : toNumber(v);
  }

  function update(op) {
    return function (array, at, v) {
      const name = check(array, INTEGER);
      const i = index(array, at);
      const operand = value(name, v);
      const old = array[i];
      array[i] = op(old, operand);
      return old;
    };
  }

  const Atomics = {
    add: update((a, b) => a + b),
    sub: update((a, b) => a - b),
    and: update((a, b) => a & b),
    or: update((a, b) => a | b),
    xor: update((a, b) => a ^ b),
    exchange: update((_, b) => b),
    compareExchange(array, at, expected, replacement) {
      const name = check(array, INTEGER);
      const i = index(array, at);
      const want = value(name, expected);
      const next = value(name, replacement);
      const old = array[i];
      // Compared as the element type stores them.
      const probe = new array.constructor(1);
      probe[0] = want;
      if (old === probe[0]) array[i] = next;
      return old;
    },
    load(array, at) {
      check(array, INTEGER);
      return array[index(array, at)];
    },
    store(array, at, v) {
      const name = check(array, INTEGER);
      const i = index(array, at);
      const stored = isBig(name) ? BigInt(v) : Math.trunc(toNumber(v)) || 0;
      array[i] = stored;
      return stored;
    },
    isLockFree(size) {
      const n = toNumber(size);
      return n === 1 || n === 2 || n === 4 || n === 8;
    },
    wait(array, at, expected) {
      const name = check(array, WAITABLE);
      if (apply(toStringOf, array.buffer, []) !== "[object SharedArrayBuffer]") {
        throw new TypeErrorCtor(`${apply(toStringOf, array, [])} is not a shared typed array.`);
      }
      const i = index(array, at);
      if (array[i] !== value(name, expected)) return "not-equal";
      throw new TypeErrorCtor("Atomics.wait cannot block the wasm tier's only thread");
    },
    notify(array, at) {
      check(array, WAITABLE);
      index(array, at);
      return 0;
    },
    pause() {},
  };
  for (const name of Object.keys(Atomics)) {
    Object.defineProperty(Atomics, name, { enumerable: false });
  }
  Object.defineProperty(Atomics, Symbol.toStringTag, { value: "Atomics", configurable: true });
  Object.defineProperty(globalThis, "Atomics", {
    value: Atomics, writable: true, configurable: true, enumerable: false,
  });
})
