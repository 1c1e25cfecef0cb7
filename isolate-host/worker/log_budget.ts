/**
 * The log caps, shared by the worker (which drops lines before they cost the host anything) and
 * the host (which re-checks what a worker sent, since the workload can post on its own).
 *
 * Invariant: the admitted messages never exceed `maxLines` entries or `maxBytes` UTF-8 bytes in
 * total. The first message that does not fit closes the budget: it and every later one are
 * refused, and `truncated` is set. The same rule as the wasm tier's `Logs::push`.
 *
 * In the worker this runs after workload code, so it uses only captured built-ins.
 */
import { StringPrototypeCharCodeAt } from "./intrinsics.ts";

export class LogBudget {
  #lines = 0;
  #bytes = 0;
  #truncated = false;

  readonly maxBytes: number;
  readonly maxLines: number;

  constructor(maxBytes: number, maxLines: number) {
    this.maxBytes = maxBytes;
    this.maxLines = maxLines;
  }

  /** Whether `message` is kept; false from the first refusal on. */
  admit(message: string): boolean {
    if (this.#truncated) return false;
    const remaining = this.maxBytes - this.#bytes;
    const bytes = utf8Length(message, remaining);
    if (this.#lines >= this.maxLines || bytes > remaining) {
      this.#truncated = true;
      return false;
    }
    this.#lines += 1;
    this.#bytes += bytes;
    return true;
  }

  get truncated(): boolean {
    return this.#truncated;
  }
}

/**
 * UTF-8 length of `text`, counting no further than just past `limit`: the answer is exact when it
 * is at most `limit`, and some number above `limit` otherwise. A huge message costs no more
 * than the budget it is checked against.
 */
export function utf8Length(text: string, limit = Infinity): number {
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const unit = StringPrototypeCharCodeAt(text, i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (
      unit >= 0xd800 && unit < 0xdc00 && isLowSurrogate(StringPrototypeCharCodeAt(text, i + 1))
    ) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit < 0xe000;
}
