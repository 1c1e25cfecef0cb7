/**
 * Serves the agent's connections on the host's socket, one at a time (another waits until the
 * one served closes): reads a request frame, answers it, and reads the next. A connection whose framing breaks is answered with an error
 * and closed (its byte stream cannot be trusted to find the next frame).
 */
import { FrameReader, writeFrame } from "./frames.ts";
import type { Host } from "./host.ts";

export async function serve(listener: Deno.Listener, host: Host): Promise<void> {
  for await (const conn of listener) {
    try {
      await serveConnection(conn, host);
    } catch (error) {
      console.error("isolate-host: connection failed:", error);
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed by the agent.
      }
    }
  }
}

async function serveConnection(conn: Deno.Conn, host: Host): Promise<void> {
  const frames = new FrameReader(conn);
  while (true) {
    let frame;
    try {
      frame = await frames.next();
    } catch (error) {
      const message = (error as Error).message;
      await writeFrame(conn, { error: { code: "invalid_frame", message } });
      return;
    }
    if (frame === null) return;
    const answer = await host.handle(frame.head, frame.payload);
    await writeFrame(conn, answer.head, answer.payload);
  }
}
