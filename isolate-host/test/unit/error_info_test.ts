import { describeError, type ModuleName } from "../../worker/error_info.ts";
import { assertEquals } from "../assert.ts";

const module: ModuleName = { url: "blob:null/1234", display: "workload.ts" };

Deno.test("a thrown error's position is its first frame in the workload", () => {
  const error = new TypeError("bad");
  error.stack =
    "TypeError: bad\n    at JSON.parse (<anonymous>)\n    at f (blob:null/1234:4:27)\n" +
    "    at blob:null/5678:5:53";
  assertEquals(describeError(error, module), {
    name: "TypeError",
    message: "bad",
    line: 4,
    column: 27,
    stack: "TypeError: bad\n    at JSON.parse (<anonymous>)\n    at f (workload.ts:4:27)",
  });
});

Deno.test("Deno's parse error is a SyntaxError at the position in its message", () => {
  const error = new TypeError(
    "SyntaxError: Expression expected\n  |\n3 |   x = x +;\n  |          ~\n" +
      "    at \u001b[36mblob:null/1234\u001b[0m:\u001b[33m3\u001b[0m:\u001b[33m10\u001b[0m",
  );
  assertEquals(describeError(error, module), {
    name: "SyntaxError",
    message: "Expression expected",
    line: 3,
    column: 10,
    stack: "SyntaxError: Expression expected\n    at workload.ts:3:10",
  });
});

Deno.test("V8's early error keeps its name and loses the URL from its message", () => {
  const error = new SyntaxError("Unexpected reserved word at blob:null/1234:1:40");
  const info = describeError(error, module);
  assertEquals([info.name, info.message, info.line, info.column], [
    "SyntaxError",
    "Unexpected reserved word",
    1,
    40,
  ]);
});

Deno.test("a thrown non-error, or an error whose getters throw, degrades", () => {
  assertEquals(describeError(42, module).message, "42");
  const hostile = new Error("x");
  Object.defineProperty(hostile, "message", {
    get: () => {
      throw new Error("no");
    },
  });
  Object.defineProperty(hostile, "name", {
    get: () => {
      throw new Error("no");
    },
  });
  assertEquals([describeError(hostile, module).name, describeError(hostile, module).message], [
    "Error",
    "",
  ]);
  const unprintable = {
    toString: () => {
      throw new Error("no");
    },
  };
  assertEquals(describeError(unprintable, module).message, "unprintable value");
});
