/**
 * Minimal raw clients for the SSE soak: many `GET /v1/sessions/{id}/events/stream` streams over one
 * `node:http` agent (the SDK's streams are too heavy for a thousand of them), small JSON requests,
 * and `/proc` readings of a process's memory and file descriptors.
 *
 * Invariants:
 * - A stream parses only what it needs: `event:`/`data:` lines, `:` comments; `data` is JSON.
 * - Event ids are interned per session (`SessionLedger`), so a stream keeps small integers, not a
 *   copy of every id; a stream counts an id it has already seen as a duplicate.
 * - Anything the stream did not ask for (a non-200 status, a socket error, the server ending the
 *   stream, unparsable data) is recorded in `error` and rejects every pending wait.
 * - `close()` destroys the request; after it, an ending socket is not an error.
 */
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";

/** Event ids of one session in first-seen order, shared by its streams. */
export class SessionLedger {
  private readonly index = new Map<string, number>();
  readonly ids: string[] = [];

  constructor(readonly sessionId: string) {}

  intern(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(id);
      this.index.set(id, i);
    }
    return i;
  }
}

interface Waiter {
  pred: () => boolean;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface StreamTarget {
  baseUrl: string;
  apiKey: string;
  agent: http.Agent;
}

/** One open SSE stream of a session, reading as fast as the server writes. */
export class SoakStream {
  /** Interned ids of the non-ping events, in arrival order. */
  readonly order: number[] = [];
  private readonly seen = new Set<number>();
  duplicates = 0;
  pings = 0;
  /** `session.status_idle` events with `stop_reason.type === "end_turn"`. */
  endTurns = 0;
  bytes = 0;
  error: Error | undefined;
  private closing = false;
  private req: http.ClientRequest | undefined;
  private buf = "";
  private readonly waiters = new Set<Waiter>();
  /** Resolves once the server flushed the headers and the `: connected` comment. */
  readonly connected: Promise<void>;
  private onConnected!: () => void;
  private onConnectFailed!: (e: Error) => void;

  constructor(
    readonly ledger: SessionLedger,
    private readonly target: StreamTarget,
  ) {
    this.connected = new Promise((resolve, reject) => {
      this.onConnected = resolve;
      this.onConnectFailed = reject;
    });
    // Handled by whoever awaits `connected`; a failure is recorded in `error` as well.
    this.connected.catch(() => undefined);
  }

  get sessionId(): string {
    return this.ledger.sessionId;
  }

  /** Sends the request; await `connected` for the stream to be live (it fails after `timeoutMs`). */
  open(timeoutMs = 60_000): this {
    const timer = setTimeout(
      () => this.fail(new Error(`stream of ${this.sessionId}: not connected in ${timeoutMs} ms`)),
      timeoutMs,
    );
    void this.connected.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    const url = new URL(`/v1/sessions/${this.sessionId}/events/stream`, this.target.baseUrl);
    const req = http.request(url, {
      method: "GET",
      agent: this.target.agent,
      headers: { authorization: `Bearer ${this.target.apiKey}`, accept: "text/event-stream" },
    });
    this.req = req;
    req.on("error", (e) => this.fail(e));
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        this.fail(new Error(`stream of ${this.sessionId}: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => this.onData(chunk));
      res.on("error", (e) => this.fail(e));
      res.on("close", () => {
        if (!this.closing) this.fail(new Error(`stream of ${this.sessionId} closed by the server`));
      });
    });
    req.end();
    return this;
  }

  /** Resolves once `pred` holds (checked after every message); rejects on a stream error. */
  waitUntil(pred: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          reject(
            new Error(
              `stream of ${this.sessionId}: ${what} not reached in ${timeoutMs} ms ` +
                `(${this.order.length} events, ${this.endTurns} end_turns, ${this.pings} pings)`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.req?.destroy();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`stream of ${this.sessionId} closed while waiting`));
    }
    this.waiters.clear();
  }

  private fail(e: Error): void {
    if (this.closing || this.error) return;
    this.error = e;
    this.onConnectFailed(e);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
  }

  private onData(chunk: string): void {
    this.bytes += chunk.length;
    this.buf += chunk;
    for (let i = this.buf.indexOf("\n\n"); i >= 0; i = this.buf.indexOf("\n\n")) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      this.onMessage(block);
    }
    if (this.waiters.size > 0) {
      for (const w of [...this.waiters]) {
        if (!w.pred()) continue;
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private onMessage(block: string): void {
    let event: string | undefined;
    let data: string | undefined;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) {
        if (line.slice(1).trim() === "connected") this.onConnected();
      } else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data = line.slice(6);
    }
    if (data === undefined) return;
    let parsed: { id?: unknown; type?: unknown; stop_reason?: { type?: unknown } | null };
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch {
      this.fail(new Error(`stream of ${this.sessionId}: unparsable data for "${event}"`));
      return;
    }
    if (event !== parsed.type) {
      this.fail(new Error(`stream of ${this.sessionId}: event "${event}" carries type "${parsed.type}"`));
      return;
    }
    if (event === "ping") {
      this.pings++;
      return;
    }
    if (typeof parsed.id !== "string") {
      this.fail(new Error(`stream of ${this.sessionId}: "${event}" without an id`));
      return;
    }
    const n = this.ledger.intern(parsed.id);
    if (this.seen.has(n)) {
      this.duplicates++;
      return;
    }
    this.seen.add(n);
    this.order.push(n);
    if (event === "session.status_idle" && parsed.stop_reason?.type === "end_turn") this.endTurns++;
  }
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

/** One JSON request over `agent`; resolves with any status (the caller asserts it). */
export function requestJson<T>(
  target: StreamTarget,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<JsonResponse<T>> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, target.baseUrl), {
      method,
      agent: target.agent,
      headers: {
        authorization: `Bearer ${target.apiKey}`,
        accept: "application/json",
        ...(payload === undefined
          ? {}
          : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
      },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      res.setEncoding("utf8");
      let text = "";
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("error", reject);
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: (text === "" ? undefined : JSON.parse(text)) as T });
        } catch (e) {
          reject(new Error(`${method} ${path}: HTTP ${res.statusCode}, unparsable body`, { cause: e }));
        }
      });
    });
    req.end(payload);
  });
}

/** Every event id in a session's log, oldest first. */
export async function listEventIds(target: StreamTarget, sessionId: string): Promise<string[]> {
  const ids: string[] = [];
  let page: string | null = null;
  do {
    const q = new URLSearchParams({ limit: "1000", order: "asc" });
    if (page !== null) q.set("page", page);
    const r = await requestJson<{ data: Array<{ id: string }>; next_page: string | null }>(
      target,
      "GET",
      `/v1/sessions/${sessionId}/events?${q}`,
    );
    if (r.status !== 200) throw new Error(`listing events of ${sessionId}: HTTP ${r.status}`);
    for (const e of r.body.data) ids.push(e.id);
    page = r.body.next_page;
  } while (page !== null);
  return ids;
}

export interface ProcStats {
  rssBytes: number;
  fds: number;
}

/** Resident memory (VmRSS) and open file descriptors of a live process, from `/proc`. */
export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return { rssBytes: Number(m[1]) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
