/**
 * The mock model server: a node:http server that routes `/v1/messages` to the Messages API
 * emulation and `/_mock/*` to the admin API, and owns the lifecycle.
 *
 * Invariants:
 * - Every request handler gets an AbortSignal that aborts when its client disconnects or the
 *   server stops; handlers stop writing and clear their timers on abort.
 * - `stop()` aborts every in-flight request (hung ones included), destroys every connection and
 *   resolves once the listener is closed and every handler has returned.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { handleAdmin } from "./admin.js";
import { newId, sendError } from "./http.js";
import { handleMessages, type MessagesContext } from "./messages.js";
import { type RecordedRequest, RequestLog } from "./requests.js";
import { type Script, ScriptStore } from "./script.js";
import { TimerSet } from "./timers.js";

export interface MockModelOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  host?: string;
  /** When set, `/v1/messages` requires it as `x-api-key` or `Authorization: Bearer`. */
  apiKey?: string;
  /** Default delay before the first content delta (ms), unless a step says otherwise. @default 0 */
  firstTokenMs?: number;
  /** Default delay before every following content delta (ms). @default 0 */
  perTokenMs?: number;
  /**
   * Called synchronously with each valid `/v1/messages` request as it is recorded, before it is
   * answered (benchmarks time model requests with its `receivedAt`). An exception it throws is
   * ignored: the request is answered as if there were no hook.
   */
  onRequest?: (request: RecordedRequest) => void;
}

export interface MockModel {
  /** Base URL, e.g. `http://127.0.0.1:41234` (valid after `start()`). */
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Validates and sets the script for `model` (same as `PUT /_mock/scripts/:model`). */
  script(model: string, script: Script): void;
  /** Forgets the script, failure counters and recorded requests of `model`, or of every model. */
  clear(model?: string): void;
  /** Recorded `/v1/messages` requests (for `model`, or all), newest last. */
  requests(model?: string): RecordedRequest[];
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

function urlFor(address: AddressInfo): string {
  const host =
    address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "::1" : address.address;
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
}

export function createMockModel(opts: MockModelOptions = {}): MockModel {
  const scripts = new ScriptStore();
  const log = new RequestLog();
  const timers = new TimerSet();
  /** Abort controllers of requests being handled (admin ones included). */
  const inflight = new Set<AbortController>();
  /** `/v1/messages` requests being handled. */
  let modelCalls = 0;
  const handlers = new Set<Promise<void>>();
  let server: Server | undefined;
  let url: string | undefined;

  const messagesCtx: MessagesContext = {
    scripts,
    log,
    timers,
    apiKey: opts.apiKey,
    firstTokenMs: opts.firstTokenMs ?? 0,
    perTokenMs: opts.perTokenMs ?? 0,
    maxBodyBytes: MAX_BODY_BYTES,
    onRequest: opts.onRequest,
  };
  const adminCtx = {
    scripts,
    log,
    maxBodyBytes: MAX_BODY_BYTES,
    stats: () => ({ inflight: modelCalls, timers: timers.active }),
  };

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    signal: AbortSignal,
    receivedAt: number,
  ): Promise<void> {
    const target = new URL(req.url ?? "/", "http://mock.invalid");
    if (target.pathname.startsWith("/_mock/")) return handleAdmin(req, res, adminCtx, target);
    if (target.pathname === "/v1/messages" && req.method === "POST") {
      modelCalls++;
      try {
        return await handleMessages(req, res, messagesCtx, signal, receivedAt);
      } finally {
        modelCalls--;
      }
    }
    req.resume();
    sendError(res, 404, `no route for ${req.method} ${target.pathname}`);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = performance.now();
    res.setHeader("request-id", newId("req_"));
    const controller = new AbortController();
    inflight.add(controller);
    res.on("close", () => controller.abort());
    const handler = route(req, res, controller.signal, receivedAt)
      .catch(() => {
        if (!res.headersSent) sendError(res, 500, "the mock model failed to handle the request");
        else res.destroy();
      })
      .finally(() => {
        inflight.delete(controller);
        handlers.delete(handler);
      });
    handlers.add(handler);
  }

  return {
    get url(): string {
      if (!url) throw new Error("the mock model is not started");
      return url;
    },

    async start(): Promise<void> {
      if (server) throw new Error("the mock model is already started");
      const s = createServer(onRequest);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
          s.off("error", reject);
          resolve();
        });
      }).catch((err: unknown) => {
        server = undefined;
        throw err;
      });
      url = urlFor(s.address() as AddressInfo);
    },

    async stop(): Promise<void> {
      const s = server;
      if (!s) return;
      server = undefined;
      url = undefined;
      for (const c of inflight) c.abort();
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
      await Promise.allSettled([...handlers]);
    },

    script(model: string, script: Script): void {
      scripts.set(model, script);
    },

    clear(model?: string): void {
      if (model === undefined) {
        scripts.clear();
        log.clear();
      } else {
        scripts.delete(model);
        log.clear(model);
      }
    },

    requests(model?: string): RecordedRequest[] {
      return log.list(model);
    },
  };
}
