/**
 * createGateway(deps): the fastify app with the Managed Agents routes, auth, the error envelope,
 * SSE streams and one wide log line per request.
 */
import type { Bus } from "@tendon/bus";
import { AppError, ID_PREFIX } from "@tendon/contracts";
import { type Logger, randomBase62, serializeError } from "@tendon/runtime";
import Fastify, { type FastifyInstance } from "fastify";
import { registerConsoleRoutes } from "./console.js";
import { createAccess } from "./http/access.js";
import { createAuthenticator } from "./http/auth.js";
import { clientErrorStatus, envelope, rawErrorResponse, sendError, toHttpError } from "./http/errors.js";
import { parseQuery } from "./http/query.js";
import { createGatewayMetrics, type GatewayMetrics } from "./metrics.js";
import { createRouteCatalog } from "./openapi/catalog.js";
import { registerOpenApiRoutes } from "./openapi/routes.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerResourceRoutes } from "./routes/resources.js";
import { registerStreamRoutes, type StreamRegistry } from "./routes/stream.js";
import { registerVaultRoutes } from "./routes/vaults.js";
import { registerWorkRoutes } from "./routes/work.js";

export interface GatewayConfig {
  host: string;
  port: number;
  /** Largest request body accepted; capped below the NATS server's max_payload. */
  maxBodyBytes: number;
  authCacheMs: number;
  ssePingMs: number;
  sseMaxBufferedBytes: number;
}

export interface GatewayDeps {
  bus: Bus;
  log: Logger;
  config: GatewayConfig;
  /** Prometheus metrics; a private registry when omitted (tests). */
  metrics?: GatewayMetrics;
}

export interface Gateway {
  readonly app: FastifyInstance;
  /** Resolves with the URL it listens on. */
  start(): Promise<string>;
  stop(): Promise<void>;
  readonly streams: StreamRegistry;
}

/** Headroom for the request envelope around a body forwarded over NATS. */
const NATS_ENVELOPE_BYTES = 16 * 1024;

/**
 * Deepest JSON nesting a body may have. `JSON.parse` takes any depth, but re-serialising a value a
 * few thousand levels deep (to forward it over NATS) overflows the stack.
 */
const MAX_JSON_DEPTH = 256;

/** True when the JSON text nests arrays/objects deeper than `max` (strings are skipped). */
function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

const newRequestId = () => `${ID_PREFIX.request}${randomBase62(24)}`;

export function createGateway(deps: GatewayDeps): Gateway {
  const { bus, log, config } = deps;
  const metrics = deps.metrics ?? createGatewayMetrics();
  const bodyLimit = Math.max(1024, Math.min(config.maxBodyBytes, bus.maxPayload() - NATS_ENVELOPE_BYTES));
  const app = Fastify({
    logger: false,
    bodyLimit,
    routerOptions: { querystringParser: parseQuery, ignoreTrailingSlash: true, maxParamLength: 256 },
    genReqId: newRequestId,
    requestIdHeader: false,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // Requests refused before routing (bad URL encoding, an over-long path parameter) and by the
    // HTTP parser get the API's error envelope too.
    frameworkErrors: (err, req, reply) => {
      reply.header("request-id", req.id);
      return sendError(reply, toHttpError(err), req.id);
    },
    clientErrorHandler: (err, socket) => {
      const code = (err as { code?: string }).code;
      if (code === "ECONNRESET" || socket.destroyed) return;
      const { status, message } = clientErrorStatus(code);
      if (socket.writable) socket.write(rawErrorResponse(status, message, newRequestId()));
      socket.destroy(err);
    },
  });
  // Node answers an `Expect` other than 100-continue with a bare 417 unless someone listens.
  app.server.on("checkExpectation", (_req, res) => {
    const id = newRequestId();
    const e = new AppError("invalid_request", "only the 100-continue expectation is supported");
    res
      .writeHead(417, { "content-type": "application/json", "request-id": id, connection: "close" })
      .end(JSON.stringify(envelope(e, id)));
  });
  // Before the first route: the OpenAPI document lists every route this catalog sees.
  const catalog = createRouteCatalog(app);
  const auth = createAuthenticator(bus, { cacheMs: config.authCacheMs });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    const ct = req.headers["content-type"] ?? "";
    if (ct && !/^application\/(json|[\w.+-]+\+json)\b/i.test(ct)) {
      return done(
        new AppError("invalid_request", `unsupported content-type "${ct}"; send application/json`),
        undefined,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return done(new AppError("invalid_request", "request body is not valid JSON"), undefined);
    }
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(
        new AppError("invalid_request", `request body is nested deeper than ${MAX_JSON_DEPTH} levels`),
        undefined,
      );
    }
    done(null, value);
  });

  app.decorateRequest("principal", undefined);
  app.addHook("onRequest", async (req, reply) => {
    req.requestId = req.id;
    reply.header("request-id", req.id);
    if (req.url === "/healthz" || req.url === "/readyz") return;
    // Routes registered with `config: { public: true }` (the console's static files) need no key.
    if ((req.routeOptions.config as { public?: boolean } | undefined)?.public === true) return;
    req.principal = await auth.authenticate(req.headers);
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err);
    if (e.code === "internal") log.error("request failed", { request_id: req.id, err: serializeError(err) });
    return sendError(reply, e, req.id);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      new AppError("not_found", `no route for ${req.method} ${req.url.split("?")[0]}`),
      req.id,
    ),
  );
  app.addHook("onResponse", async (req, reply) => {
    metrics.request(req.method, req.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    const fields = {
      request_id: req.id,
      method: req.method,
      route: req.routeOptions.url ?? "(none)",
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      session_id: (req.params as { id?: string } | undefined)?.id?.startsWith(ID_PREFIX.session)
        ? (req.params as { id: string }).id
        : undefined,
    };
    if (reply.statusCode >= 500) log.warn("wide_event", fields);
    else log.debug("wide_event", fields);
  });

  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_req, reply) => {
    const ok = !bus.nc.isClosed();
    return reply.code(ok ? 200 : 503).send({ ok });
  });

  const access = createAccess(bus);
  registerResourceRoutes(app, bus, access);
  registerEventRoutes(app, bus, access);
  registerWorkRoutes(app, bus, access);
  registerVaultRoutes(app, bus, access);
  registerOpenApiRoutes(app, catalog);
  registerConsoleRoutes(app);
  const streams = registerStreamRoutes(
    app,
    bus,
    log,
    { pingMs: config.ssePingMs, maxBufferedBytes: config.sseMaxBufferedBytes },
    (p, id) => access.session(p, id),
  );

  return {
    app,
    streams,
    async start() {
      const url = await app.listen({ host: config.host, port: config.port });
      log.info("gateway listening", { url, body_limit: bodyLimit });
      return url;
    },
    async stop() {
      streams.closeAll();
      await app.close();
    },
  };
}
