/**
 * Trace context on NATS: W3C `traceparent`/`tracestate` in message headers, injected where the bus
 * sends (requests, the wake queue, hand calls) and extracted where it receives, so no call site
 * deals with tracing.
 *
 * Invariants:
 * - Outgoing spans are started only inside an active trace: background traffic (heartbeats,
 *   presence probes, sweeps) starts none and sends no trace headers.
 * - Receivers start a span only for a message that carries a trace context; the wake consumer is
 *   the exception (a harness turn is a unit of work, so it is traced even when re-woken by the
 *   sweeper).
 * - With tracing off (no SDK registered) the API is a no-op: no span is active, nothing is
 *   injected, and headers stay absent.
 */
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/nats-core";
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

export type { Span };
export { SpanKind };

const tracer = trace.getTracer("@tendon/bus");

const setter: TextMapSetter<MsgHdrs> = { set: (h, k, v) => h.set(k, v) };
const getter: TextMapGetter<MsgHdrs> = {
  keys: (h) => h.keys(),
  // nats returns "" for a missing header.
  get: (h, k) => h.get(k) || undefined,
};

/** A CLIENT or PRODUCER span for a message about to be sent, or none outside a trace. */
export function startOutgoing(name: string, kind: SpanKind, attributes: Attributes): Span | undefined {
  if (!trace.getActiveSpan()) return undefined;
  return tracer.startSpan(name, { kind, attributes });
}

/** `hdrs` (created when needed) carrying `span`'s context; unchanged without a span. */
export function withTraceHeaders(span: Span | undefined, hdrs?: MsgHdrs): MsgHdrs | undefined {
  if (!span) return hdrs;
  const h = hdrs ?? natsHeaders();
  propagation.inject(trace.setSpan(context.active(), span), h, setter);
  return h;
}

/** The sender's context carried by a received message, if any. */
export function incomingContext(h: MsgHdrs | undefined): Context | undefined {
  if (!h) return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, h, getter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** Starts a receiving span under `parent`; run the handling inside `activate(span, fn)`. */
export function startIncoming(name: string, kind: SpanKind, parent: Context, attributes: Attributes): Span {
  return tracer.startSpan(name, { kind, attributes }, parent);
}

export function activate<T>(parent: Context, span: Span, fn: () => T): T {
  return context.with(trace.setSpan(parent, span), fn);
}

/** Ends `span`, failed with `err`'s code and message when there is one. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") span.setAttribute("error.type", code);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: (err instanceof Error ? err.message : String(err)).slice(0, 300),
    });
  }
  span.end();
}
