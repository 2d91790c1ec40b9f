/**
 * A minimal HTTP/1.1 client over `node:net`, for requests no well-behaved client would send: header
 * values with raw bytes, unencoded paths, bodies that are not UTF-8, a Content-Length that lies, a
 * body dribbled a byte at a time, a connection closed mid-body.
 *
 * Invariants:
 * - `rawRequest` sends exactly the bytes it is given (after the head it builds) and resolves with
 *   the first response on the connection, or `{closed: true}` if the server closed it without one.
 * - Every call settles: it rejects with `RawTimeoutError` after `timeoutMs` (a hung server), and the
 *   socket is always destroyed afterwards.
 */
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The server closed the connection before a complete response. */
  closed: false;
}

export interface RawClosed {
  closed: true;
  /** Bytes received before the close (a partial response, if any). */
  partial: Buffer;
}

export class RawTimeoutError extends Error {
  override readonly name = "RawTimeoutError";
}

export interface Target {
  host: string;
  port: number;
}

export function targetOf(url: string): Target {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

export interface RawRequestSpec {
  method: string;
  /** The request-target exactly as it goes on the wire (not encoded here). */
  path: string;
  /** Header lines; a Buffer value is written as raw bytes. Order is kept. */
  headers: Array<[string, string | Buffer]>;
  body?: Buffer;
  /** Add `Content-Length: body.length` unless a content-length header is given. Default true. */
  autoLength?: boolean;
}

/** The bytes of a request: request line, headers, blank line, body. */
export function encodeRequest(spec: RawRequestSpec): Buffer {
  const parts: Buffer[] = [Buffer.from(`${spec.method} `, "latin1"), Buffer.from(spec.path, "utf8")];
  parts.push(Buffer.from(" HTTP/1.1\r\n", "latin1"));
  const has = (n: string) => spec.headers.some(([k]) => k.toLowerCase() === n);
  const headers = [...spec.headers];
  if (!has("host")) headers.unshift(["Host", "127.0.0.1"]);
  if (!has("connection")) headers.push(["Connection", "close"]);
  if ((spec.autoLength ?? true) && spec.body !== undefined && !has("content-length")) {
    headers.push(["Content-Length", String(spec.body.length)]);
  }
  for (const [k, v] of headers) {
    parts.push(Buffer.from(`${k}: `, "latin1"), typeof v === "string" ? Buffer.from(v, "utf8") : v);
    parts.push(Buffer.from("\r\n", "latin1"));
  }
  parts.push(Buffer.from("\r\n", "latin1"));
  if (spec.body) parts.push(spec.body);
  return Buffer.concat(parts);
}

/**
 * Incrementally parses the first final response out of the bytes read so far (interim 1xx
 * responses, e.g. to `Expect: 100-continue`, are skipped). A response to HEAD has no body.
 */
function parseResponse(
  all: Buffer,
  ended: boolean,
  head: boolean,
  streams: boolean,
): RawResponse | undefined {
  let buf = all;
  for (;;) {
    const m = /^HTTP\/1\.[01] 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n/.exec(buf.toString("latin1"));
    if (!m) break;
    buf = buf.subarray(Buffer.byteLength(m[0], "latin1"));
  }
  const headEnd = buf.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const lines = buf.subarray(0, headEnd).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = buf.subarray(headEnd + 4);
  if (head || status === 204 || status === 304) {
    return { status, headers, body: Buffer.alloc(0), closed: false };
  }
  if (streams && /^text\/event-stream/i.test(headers["content-type"] ?? "")) {
    return { status, headers, body: rest, closed: false };
  }
  if (headers["content-length"] !== undefined) {
    const n = Number(headers["content-length"]);
    if (rest.length < n) return undefined;
    return { status, headers, body: rest.subarray(0, n), closed: false };
  }
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const chunks: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) throw new Error("malformed chunked response");
      if (size === 0) return { status, headers, body: Buffer.concat(chunks), closed: false };
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  return ended ? { status, headers, body: rest, closed: false } : undefined;
}

export interface RawOptions {
  /** Give up (reject) after this long. Default 30,000 ms. */
  timeoutMs?: number;
  /**
   * Writes the request itself instead of sending it in one piece: e.g. dribbles it, or writes
   * part of it and half-closes. Resolves when done writing.
   */
  write?: (socket: Socket, bytes: Buffer) => Promise<void>;
  /** The request is a HEAD: its response has no body whatever its headers say. */
  head?: boolean;
  /** An event stream that opened resolves with its headers (its body never ends). */
  streams?: boolean;
}

/** Sends one request on a fresh connection and reads the first response (or the close). */
export function rawRequest(
  target: Target,
  bytes: Buffer,
  opts: RawOptions = {},
): Promise<RawResponse | RawClosed> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (err: Error | undefined, value?: RawResponse | RawClosed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => finish(new RawTimeoutError(`no response within ${timeoutMs} ms to ${describeHead(bytes)}`)),
      timeoutMs,
    );
    const check = (ended: boolean) => {
      const buf = Buffer.concat(chunks);
      let res: RawResponse | undefined;
      try {
        res = parseResponse(buf, ended, opts.head ?? false, opts.streams ?? false);
      } catch (e) {
        finish(e as Error);
        return;
      }
      if (res) finish(undefined, res);
      else if (ended) finish(undefined, { closed: true, partial: buf });
    };
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      check(false);
    });
    socket.on("end", () => check(true));
    socket.on("close", () => check(true));
    // A reset while we are still writing is the server refusing the request: report what we got.
    socket.on("error", () => check(true));
    socket.on("connect", () => {
      if (opts.write) {
        opts.write(socket, bytes).catch(() => check(true));
      } else {
        socket.write(bytes);
      }
    });
  });
}

function describeHead(bytes: Buffer): string {
  const line = bytes.subarray(0, Math.min(bytes.length, 120)).toString("latin1").split("\r\n")[0];
  return JSON.stringify(line);
}

/** Writes `data` to the socket and resolves once it has been handed to the kernel. */
export function writeAsync(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      reject(new Error("socket destroyed"));
      return;
    }
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
