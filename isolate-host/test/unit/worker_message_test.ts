import { checkWorkerMessage } from "../../src/worker_message.ts";
import { MAX_TEXT_CHARS } from "../../worker/error_info.ts";
import { assertEquals } from "../assert.ts";

const heap = { heap_used_bytes: 1, heap_total_bytes: 2, external_bytes: 3 };

Deno.test("a well-formed result is parsed and measured", () => {
  const message = { type: "result", status: "succeeded", output_json: '{"a":"é"}', heap };
  assertEquals(checkWorkerMessage(message), {
    type: "result",
    status: "succeeded",
    output: { a: "é" },
    output_bytes: 10,
    error: null,
    heap,
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
      { type: "result", status: "succeeded", output_json: "{bad", heap },
      { type: "result", status: "succeeded", output_json: "1" },
      {
        type: "result",
        status: "succeeded",
        output_json: "1",
        heap: { ...heap, external_bytes: -1 },
      },
      { type: "result", status: "output_limit", output_bytes: "10", heap },
      { type: "result", status: "error", error: { name: "E" }, heap },
      { type: "result", status: "timeout", heap },
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
  const checked = checkWorkerMessage({ type: "result", status: "error", error, heap });
  assertEquals(checked?.type === "result" ? checked.error : null, {
    name: "E",
    message: "m".repeat(MAX_TEXT_CHARS),
    line: 3,
    column: null,
    stack: null,
  });
});
