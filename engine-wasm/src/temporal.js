// `Temporal` on the wasm tier, from temporal-polyfill (vendor/temporal-polyfill/): the
// polyfill is compiled before the snapshot (evaluated as `function (Intl) { … }`, the
// factory handed to this script's function) and run on the first access to
// `globalThis.Temporal`, so a workload that never touches it pays nothing.
//
// QuickJS has no `Intl`. The polyfill needs `Intl.DateTimeFormat` only for named time zones
// and locale formatting, so it gets a private stand-in that knows UTC alone: ISO dates and
// times, durations, instants, `Temporal.Now`, and zoned date-times in UTC or at a fixed
// offset work as on V8; a named zone such as `Europe/Paris` throws a `RangeError` and
// `toLocaleString` a `TypeError`, each saying why. Workloads still see no `Intl` global.
(function installTemporal(factory) {
  "use strict";
  const global = globalThis;
  const { defineProperty, getOwnPropertyDescriptor } = Object;
  const RangeErrorCtor = RangeError;
  const TypeErrorCtor = TypeError;
  const StringCtor = String;

  class DateTimeFormat {
    constructor(locales, options) {
      const zone = options === undefined || options.timeZone === undefined
        ? "UTC"
        : StringCtor(options.timeZone);
      if (zone.toUpperCase() !== "UTC") {
        throw new RangeErrorCtor(
          `time zone ${zone} is not available on the wasm tier (QuickJS has no Intl): ` +
            "use UTC or a fixed offset such as +02:00, or the isolate tier",
        );
      }
    }
    resolvedOptions() {
      return { locale: "en-US", calendar: "iso8601", numberingSystem: "latn", timeZone: "UTC" };
    }
    format() {
      throw new TypeErrorCtor("locale formatting is not available on the wasm tier (no Intl)");
    }
    formatToParts() {
      return this.format();
    }
    static supportedLocalesOf() {
      return [];
    }
  }

  function settle(value) {
    defineProperty(global, "Temporal", { value, writable: true, configurable: true, enumerable: false });
  }

  defineProperty(global, "Temporal", {
    configurable: true,
    enumerable: false,
    get() {
      // The polyfill installs itself only where no `Temporal` is: take the accessor away first.
      settle(undefined);
      factory({ DateTimeFormat });
      const installed = getOwnPropertyDescriptor(global, "Temporal");
      const value = installed === undefined ? undefined : installed.value;
      settle(value);
      return value;
    },
    set(value) {
      settle(value);
    },
  });
})
