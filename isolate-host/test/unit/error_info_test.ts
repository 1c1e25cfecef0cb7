import { describeError, type ModuleName } from "../../worker/error_info.ts";
import { RUNTIME_URL } from "../../worker/intrinsics.ts";
import { assertEquals } from "../assert.ts";

const blob: ModuleName = { url: "blob:null/1234", display: "workload.ts" };
const data: ModuleName = {
  url: "data:application/javascript,export%20default",
  display: "workload.js",
};

Deno.test("a thrown error's position is its first frame in the workload", () => {
  const error = new TypeError("bad");
  error.stack =
    "TypeError: bad\n    at JSON.parse (<anonymous>)\n    at f (blob:null/1234:4:27)\n" +
    `    at ${RUNTIME_URL}:5:53`;
  assertEquals(describeError(error, blob), {
    name: "TypeError",
    message: "bad",
    line: 4,
    column: 27,
    stack: "TypeError: bad\n    at JSON.parse (<anonymous>)\n    at f (workload.ts:4:27)",
  });
});

Deno.test("a data: module's frames, abbreviated by Deno, are found and renamed", () => {
  const error = new RangeError("far");
  error.stack = "RangeError: far\n" +
    "    at Module.default (data:application/javascript,export%20default%20(......%20%7D%3B:3:9)\n" +
    `    at run (${RUNTIME_URL}:1:2)`;
  assertEquals(describeError(error, data), {
    name: "RangeError",
    message: "far",
    line: 3,
    column: 9,
    stack: "RangeError: far\n    at Module.default (workload.js:3:9)",
  });
});

Deno.test("Deno's parse error is a SyntaxError at the position in its message", () => {
  const error = new TypeError(
    "SyntaxError: Expression expected\n  |\n3 |   x = x +;\n  |          ~\n" +
      "    at \u001b[36mblob:null/1234\u001b[0m:\u001b[33m3\u001b[0m:\u001b[33m10\u001b[0m",
  );
  assertEquals(describeError(error, blob), {
    name: "SyntaxError",
    message: "Expression expected",
    line: 3,
    column: 10,
    stack: "SyntaxError: Expression expected\n    at workload.ts:3:10",
  });
  const inData = new TypeError(
    "SyntaxError: Expression expected\n  |\n2 |   return 1 +;\n  |   ~\n" +
      "    at data:application/javascript,export%20default%20()%20%3D%3E%20%7B%0A:2:13",
  );
  const info = describeError(inData, data);
  assertEquals([info.name, info.message, info.line, info.column], [
    "SyntaxError",
    "Expression expected",
    2,
    13,
  ]);
});

Deno.test("V8's early error keeps its name and loses the URL from its message", () => {
  const error = new SyntaxError("Unexpected reserved word at blob:null/1234:1:40");
  const info = describeError(error, blob);
  assertEquals([info.name, info.message, info.line, info.column], [
    "SyntaxError",
    "Unexpected reserved word",
    1,
    40,
  ]);
});

Deno.test("a thrown non-error, or an error whose getters throw, degrades", () => {
  assertEquals(describeError(42, blob).message, "42");
  const hostile = new Error("x");
  for (const name of ["message", "name"]) {
    Object.defineProperty(hostile, name, {
      get: () => {
        throw new Error("no");
      },
    });
  }
  assertEquals([describeError(hostile, blob).name, describeError(hostile, blob).message], [
    "Error",
    "",
  ]);
  const unprintable = {
    toString: () => {
      throw new Error("no");
    },
  };
  assertEquals(describeError(unprintable, blob).message, "unprintable value");
});

Deno.test("an error from before the module had a URL has no position, and ends", () => {
  const error = new ReferenceError("load is not defined");
  error.stack = `ReferenceError: load is not defined\n    at run (${RUNTIME_URL}:1:2)`;
  const info = describeError(error, { url: "", display: "workload.js" });
  assertEquals([info.name, info.message, info.line, info.column], [
    "ReferenceError",
    "load is not defined",
    null,
    null,
  ]);
});
