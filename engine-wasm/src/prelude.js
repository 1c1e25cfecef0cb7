// The workload's global environment, installed once at initialisation (before Wizer's
// snapshot). Evaluated as a script whose value is a function: it receives the engine's log
// sink (`emit`) and job queue (`defer`) and returns the engine's private hooks, which no
// workload code can reach.
// Builtins are captured up front so a workload that replaces globals breaks only itself.
(function install(emit, defer) {
  "use strict";
  const global = globalThis;
  const { defineProperty } = Object;
  const stringify = JSON.stringify;
  const ErrorCtor = Error;
  const StringCtor = String;
  const NumberCtor = Number;
  const TypeErrorCtor = TypeError;
  const resolve = Promise.resolve.bind(Promise);
  const apply = Reflect.apply;
  // The timers' table, used after workload code ran: its methods are called through `apply`,
  // and it is never iterated (a workload may replace any iterator).
  const MapCtor = Map;
  const { set: mapSet, delete: mapDelete, forEach: mapForEach } = Map.prototype;

  function define(target, name, value) {
    defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // --- Math.random: sfc32, reseeded per workload by `reseed` -----------------------------
  let a = 0, b = 0, c = 0, d = 1;

  function next() {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  }

  function reseed(seed) {
    // The seed is an integer below 2^53: its low and high 32-bit halves seed the state.
    a = 0;
    b = seed >>> 0;
    c = (seed / 4294967296) >>> 0;
    d = 1;
    for (let i = 0; i < 12; i++) next();
  }

  define(Math, "random", function random() {
    // 53 random bits, like the engines' own Math.random.
    return ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
  });

  // --- console: one entry per call, capped by the host's sink ---------------------------
  function show(value) {
    if (typeof value === "string") return value;
    try {
      if (value instanceof ErrorCtor) return `${value.name}: ${value.message}`;
      const json = stringify(value);
      if (json !== undefined) return json;
    } catch {
      // Not JSON-serialisable (BigInt, circular): fall back to String below.
    }
    try {
      return StringCtor(value);
    } catch {
      return "[unprintable]";
    }
  }

  let full = false;
  const console = {};
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const method = {
      [level](...args) {
        if (full) return;
        let message = "";
        for (let i = 0; i < args.length; i++) message += (i ? " " : "") + show(args[i]);
        full = !emit(level, message);
      },
    }[level];
    define(console, level, method);
  }
  define(global, "console", console);

  // --- virtual timers: fired by the engine in (due, creation) order, no real waiting ----
  const timers = new MapCtor();
  let clock = 0;
  let created = 0;

  function schedule(callback, delay, args, repeat) {
    if (typeof callback !== "function") throw new TypeErrorCtor("timer callback is not a function");
    delay = NumberCtor(delay);
    if (!(delay >= 0)) delay = 0;
    const id = ++created;
    apply(mapSet, timers, [id, { due: clock + delay, order: id, callback, args, every: repeat ? delay : -1 }]);
    return id;
  }

  function clear(id) {
    apply(mapDelete, timers, [id]);
  }

  function fireNextTimer() {
    let id = 0, timer;
    apply(mapForEach, timers, [(candidate, key) => {
      if (!timer || candidate.due < timer.due || (candidate.due === timer.due && candidate.order < timer.order)) {
        id = key;
        timer = candidate;
      }
    }]);
    if (!timer) return false;
    clock = timer.due;
    if (timer.every < 0) {
      apply(mapDelete, timers, [id]);
    } else {
      timer.due = clock + timer.every;
      timer.order = ++created;
    }
    apply(timer.callback, undefined, timer.args);
    return true;
  }

  define(global, "setTimeout", function setTimeout(callback, delay, ...args) {
    return schedule(callback, delay, args, false);
  });
  define(global, "setInterval", function setInterval(callback, delay, ...args) {
    return schedule(callback, delay, args, true);
  });
  define(global, "clearTimeout", function clearTimeout(id) { clear(id); });
  define(global, "clearInterval", function clearInterval(id) { clear(id); });
  define(global, "queueMicrotask", function queueMicrotask(callback) {
    if (typeof callback !== "function") throw new TypeErrorCtor("microtask callback is not a function");
    // On the engine's job queue, so an exception fails the workload as a timer's does.
    defer(callback);
  });

  return {
    reseed,
    fireNextTimer,
    resolve,
    typeOf: (value) => typeof value,
  };
})
