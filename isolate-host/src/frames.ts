/**
 * The framing of the host's socket, both ways: each message is
 *
 *     u32 length of what follows | u32 length of the head | head | payload
 *
 * (big-endian lengths), where the head is UTF-8 JSON and the payload raw bytes: a workload's
 * code and input going in, its output's JSON text coming back, passed on without being parsed
 * on the host's own thread. The agent sends one request at a time and reads its answer before
 * the next, on one connection kept for the host's life.
 */

/** The largest frame accepted: far above what the agent's own caps let through. */
export const MAX_FRAME_BYTES = 1 << 30;

export interface Frame {
  head: unknown;
  /** Valid until the next frame is read. */
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class FrameReader {
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  readonly conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** The next frame; `null` when the connection closed between frames. */
  async next(): Promise<Frame | null> {
    if (!(await this.#fill(8))) {
      if (this.#end === this.#start) return null;
      throw new Error("the connection closed inside a frame");
    }
    const view = new DataView(this.#buffer.buffer, this.#start, 8);
    const length = view.getUint32(0);
    const headLength = view.getUint32(4);
    if (length > MAX_FRAME_BYTES || headLength > length - 4) {
      throw new Error(`a frame of ${length} bytes with a head of ${headLength} is not valid`);
    }
    if (!(await this.#fill(4 + length))) throw new Error("the connection closed inside a frame");
    const headStart = this.#start + 8;
    const payloadStart = headStart + headLength;
    const end = this.#start + 4 + length;
    const head = JSON.parse(decoder.decode(this.#buffer.subarray(headStart, payloadStart)));
    const payload = this.#buffer.subarray(payloadStart, end);
    this.#start = end;
    return { head, payload };
  }

  /** Reads until `bytes` are buffered from `#start`; false at end of file first. */
  async #fill(bytes: number): Promise<boolean> {
    if (this.#end - this.#start >= bytes) return true;
    if (this.#buffer.length - this.#start < bytes) {
      // Make room from #start: move the buffered bytes to the front, in a bigger buffer if
      // this one cannot hold the frame.
      const target = this.#buffer.length >= bytes
        ? this.#buffer
        : new Uint8Array(Math.max(bytes, this.#buffer.length * 2));
      target.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = target;
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#end - this.#start < bytes) {
      const read = await this.conn.read(this.#buffer.subarray(this.#end));
      if (read === null) return false;
      this.#end += read;
    }
    return true;
  }
}

/** Writes one frame (a single write of head and payload together). */
export async function writeFrame(
  conn: Deno.Conn,
  head: unknown,
  payload: Uint8Array = new Uint8Array(0),
): Promise<void> {
  const headBytes = encoder.encode(JSON.stringify(head));
  const frame = new Uint8Array(8 + headBytes.length + payload.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, 4 + headBytes.length + payload.length);
  view.setUint32(4, headBytes.length);
  frame.set(headBytes, 8);
  frame.set(payload, 8 + headBytes.length);
  for (let written = 0; written < frame.length;) {
    written += await conn.write(frame.subarray(written));
  }
}
