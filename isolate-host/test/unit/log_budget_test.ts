import { LogBudget, utf8Length } from "../../worker/log_budget.ts";
import { assertEquals } from "../assert.ts";

Deno.test("utf8Length matches TextEncoder, lone surrogates included", () => {
  for (const text of ["", "ascii", "é", "€uro", "😀 ok", "a\ud800b", "\udc00", "x".repeat(1000)]) {
    assertEquals(utf8Length(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
});

Deno.test("utf8Length stops counting just past its limit", () => {
  assertEquals(utf8Length("x".repeat(1_000_000), 10), 11);
  assertEquals(utf8Length("ééé", 4), 6);
});

Deno.test("a log budget keeps entries within both caps", () => {
  const budget = new LogBudget(10, 2);
  assertEquals([budget.admit("hello"), budget.admit("world")], [true, true]);
  assertEquals(budget.truncated, false);
});

Deno.test("a log budget closes at the first line over the line cap", () => {
  const budget = new LogBudget(100, 1);
  assertEquals([budget.admit("a"), budget.admit("b"), budget.truncated], [true, false, true]);
});

Deno.test("a log budget counts UTF-8 bytes and stays closed after a refusal", () => {
  const budget = new LogBudget(4, 10);
  assertEquals(budget.admit("é"), true);
  assertEquals(budget.admit("abc"), false);
  assertEquals(budget.admit("a"), false, "closed after the first refusal");
  assertEquals(budget.truncated, true);
});
