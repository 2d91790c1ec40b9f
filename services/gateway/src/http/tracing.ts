/**
 * The gateway's HTTP spans: every API request runs in a SERVER span that continues the client's
 * `traceparent` and is named after its route template (`POST /v1/sessions/:id/events`); the calls
 * it makes on the bus are its children. Health and metrics probes are not traced.
 */
import { nameHttpSpan, traceHttpServer } from "@tendon/tracing";
import type { FastifyInstance } from "fastify";

const UNTRACED = new Set(["/healthz", "/readyz", "/metrics"]);

/** Call after createGateway and before start (only when tracing is on). */
export function traceGateway(app: FastifyInstance): void {
  traceHttpServer(app.server, { name: "@tendon/gateway", ignore: (path) => UNTRACED.has(path) });
  // onRequest names most requests early; onSend also covers those an earlier hook refused (401).
  app.addHook("onRequest", async (req) => nameHttpSpan(req.raw, req.routeOptions.url));
  app.addHook("onSend", async (req) => nameHttpSpan(req.raw, req.routeOptions.url));
}
