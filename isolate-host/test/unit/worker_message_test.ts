import { checkWorkerMessage } from "../../src/worker_message.ts";
import { MAX_TEXT_CHARS } from "../../worker/error_info.ts";
import { assertEquals } from "../assert.ts";

const heap = { heap_used_bytes: 1, heap_total_bytes: 2, external_bytes: 3 };

Deno.test("a well-formed result is kept, its output bytes untouched", () => {
  const output = new TextEncoder().encode('{"a":"é"}');
  const message = { type: "result", outcome: { status: "succeeded", output }, heap };
  assertEquals(checkWorkerMessage(message), {
    type: "result",
    heap,
    status: "succeeded",
    output,
  });
});

Deno.test("an exit and a log line are kept", () => {
  assertEquals(checkWorkerMessage({ type: "exited", code: 3 }), { type: "exited", code: 3 });
  assertEquals(checkWorkerMessage({ type: "log", level: "warn", message: "m" }), {
    type: "log",
    level: "warn",
    message: "m",
  });
});

Deno.test("messages of the wrong shape are dropped", () => {
  for (
    const message of [
      null,
      "result",
      [],
      { type: "nope" },
      { type: "log", level: "trace", message: "x" },
      { type: "log", level: "log", message: 1 },
      { type: "exited", code: "3" },
      { type: "result", outcome: { status: "succeeded", output: "{}" }, heap },
      { type: "result", outcome: { status: "succeeded", output: new Uint8Array(1) } },
      {
        type: "result",
        outcome: { status: "succeeded", output: new Uint8Array(1) },
        heap: { ...heap, external_bytes: -1 },
      },
      { type: "result", outcome: { status: "output_limit", output_bytes: "10" }, heap },
      { type: "result", outcome: { status: "error", error: { name: "E" } }, heap },
      { type: "result", outcome: { status: "timeout" }, heap },
      { type: "result", outcome: null, heap },
    ]
  ) {
    assertEquals(checkWorkerMessage(message), null, JSON.stringify(message));
  }
});

Deno.test("an error's fields are cut and its position kept only when valid", () => {
  const error = {
    name: "E",
    message: "m".repeat(MAX_TEXT_CHARS + 5),
    line: 3,
    column: -1,
    stack: 7,
  };
  const checked = checkWorkerMessage({ type: "result", outcome: { status: "error", error }, heap });
  assertEquals(checked?.type === "result" && checked.status === "error" ? checked.error : null, {
    name: "E",
    message: "m".repeat(MAX_TEXT_CHARS),
    line: 3,
    column: null,
    stack: null,
  });
});
