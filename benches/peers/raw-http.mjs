/**
 * A minimal HTTP/1.1 client for the agent: keep-alive TCP connections with Nagle off, one
 * request in flight on each, responses read by their `Content-Length` (the agent always sends
 * one). Node's `http.Agent` cost more per request than the wasm tier's whole run (~0.5 ms at
 * c=1 against `wrk`'s 0.34–0.49 ms for the same agent), which made Vulcan's HTTP lines say
 * more about the client than about Vulcan.
 */
import net from "node:net";

const HEADER_END = Buffer.from("\r\n\r\n");

/** One keep-alive connection; `send` may be called again once its promise settled. */
class Connection {
  #socket;
  #pending = null;
  #buffer = Buffer.alloc(0);
  #broken = null;

  constructor(host, port) {
    this.#socket = net.connect({ host, port, noDelay: true });
    this.#socket.on("data", (chunk) => this.#receive(chunk));
    const fail = (error) => {
      this.#broken = error ?? new Error("the agent closed the connection");
      this.#pending?.reject(this.#broken);
      this.#pending = null;
    };
    this.#socket.on("error", fail);
    this.#socket.on("close", () => fail());
  }

  get usable() {
    return this.#broken === null;
  }

  /** Sends one request (bytes) and settles with `{status, body}` (body a Buffer). */
  send(bytes) {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(bytes);
    });
  }

  close() {
    this.#socket.destroy();
  }

  #receive(chunk) {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const end = this.#buffer.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.#buffer.subarray(0, end).toString("latin1");
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.#socket.destroy(new Error(`a response without Content-Length: ${head}`));
      return;
    }
    const total = end + HEADER_END.length + Number(length[1]);
    if (this.#buffer.length < total) return;
    const status = Number(head.slice(9, 12));
    const body = this.#buffer.subarray(end + HEADER_END.length, total);
    this.#buffer = Buffer.alloc(0);
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve({ status, body });
  }
}

/** Connections to one agent, made as concurrency needs them and reused. */
export class RawHttpClient {
  #url;
  #idle = [];
  #all = [];

  constructor(base) {
    this.#url = new URL(base);
  }

  /**
   * `{status, body}` of `method path` with an optional JSON `body` (a string) and extra
   * headers (`{name: value}`).
   */
  async request(method, path, body, headers = {}) {
    const payload = body === undefined ? "" : body;
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.#url.host}\r\n${extra}` +
      (body === undefined
        ? "\r\n"
        : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n`);
    const connection = this.#take();
    try {
      return await connection.send(head + payload);
    } finally {
      if (connection.usable) this.#idle.push(connection);
    }
  }

  close() {
    for (const connection of this.#all) connection.close();
  }

  #take() {
    while (this.#idle.length) {
      const connection = this.#idle.pop();
      if (connection.usable) return connection;
    }
    const connection = new Connection(this.#url.hostname, Number(this.#url.port || 80));
    this.#all.push(connection);
    return connection;
  }
}
