/**
 * Span helpers for services: run a function in a span, and give every request of an HTTP server
 * its SERVER span.
 *
 * Everything here is written against `@opentelemetry/api` only: with tracing off it is the API's
 * no-op (non-recording spans, nothing injected).
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { maskSecrets } from "@tendon/runtime";

export type { Attributes, Span, SpanOptions, Tracer };
export { SpanKind, SpanStatusCode };

/** The tracer of one Tendon component (instrumentation scope), e.g. `@tendon/harness-worker`. */
export function tracer(name: string): Tracer {
  return trace.getTracer(name);
}

/** Marks the span failed with the error's name and (masked) message. */
export function recordError(span: Span, err: unknown): void {
  const message = maskSecrets(err instanceof Error ? err.message : String(err)).slice(0, 500);
  span.recordException({ name: err instanceof Error ? err.name : "Error", message });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * Runs `fn` inside a new active span and ends it when `fn` settles; a throw marks it failed and
 * is rethrown.
 */
export async function withSpan<T>(
  t: Tracer,
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return t.startActiveSpan(name, options, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

const HTTP_SPAN = Symbol.for("tendon.http.span");

/**
 * Names the request's span after its route template (call from the router's hooks). A no-op once
 * the response has finished (the span has ended).
 */
export function nameHttpSpan(req: IncomingMessage, route: string | undefined): void {
  const span = (req as { [HTTP_SPAN]?: Span })[HTTP_SPAN];
  if (!span || !route) return;
  span.setAttribute("http.route", route);
  span.updateName(`${req.method ?? "GET"} ${route}`);
}

/**
 * Wraps the server's request listeners: each request runs inside a SERVER span that continues the
 * caller's `traceparent`, ends when the response finishes or the connection closes, and is failed
 * for 5xx answers. Call after the framework attached its listener and before `listen`.
 */
export function traceHttpServer(
  server: Server,
  opts: { name: string; ignore?: (path: string) => boolean },
): void {
  const t = trace.getTracer(opts.name);
  const listeners = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const run = () => {
      for (const l of listeners) l.call(server, req, res);
    };
    if (opts.ignore?.(path)) {
      run();
      return;
    }
    const method = req.method ?? "GET";
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = t.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": method,
          "url.path": path,
          "url.scheme": "http",
          "network.protocol.version": req.httpVersion,
        },
      },
      parent,
    );
    (req as { [HTTP_SPAN]?: Span })[HTTP_SPAN] = span;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      delete (req as { [HTTP_SPAN]?: Span })[HTTP_SPAN];
      span.setAttribute("http.response.status_code", res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!res.writableFinished) span.setAttribute("tendon.http.aborted", true);
      span.end();
    };
    res.once("finish", end);
    res.once("close", end);
    context.with(trace.setSpan(parent, span), run);
  });
}
