/**
 * The operations listener every service can serve on `OPS_PORT`, apart from any API port:
 *
 * - `GET /healthz` — liveness: 200 whenever the process and its event loop answer.
 * - `GET /readyz`  — readiness: 200 once the service has started and every readiness check passes
 *   (NATS round trip, database ping...), 503 otherwise, with a JSON body naming each check.
 * - `GET /metrics` — the service's Prometheus registry in the text exposition format.
 *
 * It is started first (so liveness answers during migrations) and closed last. Readiness is 503
 * until `ready(checks)` is called after the service started, and again after `draining()`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, serializeError } from "@tendon/runtime";
import type { Metrics } from "./metrics.js";
import { type ReadinessCheck, runChecks } from "./readiness.js";

export interface OpsHandlerOptions {
  metrics: Metrics;
  log: Logger;
  /** Per readiness check. @default 2_000 */
  checkTimeoutMs?: number;
}

export interface OpsHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** The service is up: from now on readiness is the checks' verdict. */
  ready(checks: readonly ReadinessCheck[]): void;
  /** Shutting down: readiness answers 503 from now on. */
  draining(): void;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(text);
}

/** The request handler alone (unit tests drive it on their own server). */
export function createOpsHandler(opts: OpsHandlerOptions): OpsHandler {
  let state:
    | { kind: "starting" }
    | { kind: "ready"; checks: readonly ReadinessCheck[] }
    | { kind: "draining" } = {
    kind: "starting",
  };
  const timeoutMs = opts.checkTimeoutMs ?? 2_000;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    switch (path) {
      case "/healthz":
        return json(res, 200, { ok: true });
      case "/readyz": {
        if (state.kind !== "ready") return json(res, 503, { ok: false, status: state.kind, checks: {} });
        const r = await runChecks(state.checks, timeoutMs);
        return json(res, r.ok ? 200 : 503, { ok: r.ok, status: "ready", checks: r.checks });
      }
      case "/metrics": {
        const text = await opts.metrics.text();
        res
          .writeHead(200, { "content-type": opts.metrics.contentType, "cache-control": "no-store" })
          .end(text);
        return;
      }
      default:
        return json(res, 404, { ok: false, error: `no ${path} here: try /healthz, /readyz or /metrics` });
    }
  };

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      opts.log.error("ops request failed", { path: req.url, err: serializeError(err) });
      if (!res.headersSent) json(res, 500, { ok: false });
      else res.end();
    });
  }) as OpsHandler;
  handler.ready = (checks) => {
    state = { kind: "ready", checks };
  };
  handler.draining = () => {
    state = { kind: "draining" };
  };
  return handler;
}

export interface OpsServer {
  /** `http://host:port`, with 127.0.0.1 for a wildcard bind (what a local client dials). */
  readonly url: string;
  readonly port: number;
  ready(checks: readonly ReadinessCheck[]): void;
  draining(): void;
  close(): Promise<void>;
}

export interface OpsServerOptions extends OpsHandlerOptions {
  host: string;
  /** 0 picks a free port; the chosen one is in `url` / `port`. */
  port: number;
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  opts.metrics.collectProcessMetrics();
  const handler = createOpsHandler(opts);
  const server = createServer(handler);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host =
    opts.host === "0.0.0.0" || opts.host === "::" || opts.host === ""
      ? "127.0.0.1"
      : addr.family === "IPv6"
        ? `[${addr.address}]`
        : addr.address;
  const url = `http://${host}:${addr.port}`;
  opts.log.info("ops listener up", { url, bind: opts.host, paths: ["/healthz", "/readyz", "/metrics"] });
  return {
    url,
    port: addr.port,
    ready: handler.ready,
    draining: handler.draining,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A service's ops listener when `port` is set (`OPS_PORT`), else undefined: main.ts calls this
 * first and passes `opsReadyFields(ops)` to `announceReady`.
 */
export async function startOps(
  opts: Omit<OpsServerOptions, "port"> & { port: number | undefined },
): Promise<OpsServer | undefined> {
  if (opts.port === undefined) return undefined;
  return startOpsServer({ ...opts, port: opts.port });
}

/** Fields for the ready line, so supervisors (tests, `tendon dev`) learn where the ops listener is. */
export function opsReadyFields(ops: OpsServer | undefined): { ops_url?: string } {
  return ops ? { ops_url: ops.url } : {};
}
