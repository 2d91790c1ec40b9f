/**
 * Typed request/reply over core NATS. Both ends validate with the endpoint's schemas; replies are
 * `{ok, result} | {ok: false, error}` envelopes so errors keep their code and retryability.
 *
 * Invariants:
 * - A caller never sees an untyped failure: timeouts and missing responders become retryable
 *   `unavailable`/`timeout` AppErrors; invalid replies become `internal`.
 * - A handler's thrown error is normalised with `toAppError`; internal errors are reported to the
 *   caller without their stack.
 */

import {
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  headers as natsHeaders,
  type Subscription,
} from "@nats-io/nats-core";
import {
  AppError,
  type Endpoint,
  formatZodError,
  Reply,
  type RequestOf,
  type ResponseOf,
  type Subjects,
  toAppError,
  ValidationError,
  type WireError,
} from "@tendon/contracts";
import type { z } from "zod";
import { decodeJson, encodeJson } from "./codec.js";
import {
  activate,
  endSpan,
  incomingContext,
  type Span,
  SpanKind,
  startIncoming,
  startOutgoing,
  withTraceHeaders,
} from "./tracing.js";

export interface RequestOptions {
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface HandlerContext {
  subject: string;
  headers: MsgHdrs | undefined;
}

export type Handler<E extends Endpoint> = (
  req: z.output<E["request"]>,
  ctx: HandlerContext,
) => Promise<z.input<E["response"]>>;

export interface RpcObserver {
  /** Called once per handled request (the service turns it into a wide log line / metrics). */
  onHandled?(info: { op: string; ok: boolean; durationMs: number; error?: AppError }): void;
}

const replyCache = new WeakMap<Endpoint, z.ZodType>();
function replySchema(e: Endpoint): z.ZodType {
  let s = replyCache.get(e);
  if (!s) {
    s = Reply(e.response);
    replyCache.set(e, s);
  }
  return s;
}

/** `rpc.*` attributes of a span for endpoint `e` (named `<service>/<op>`). */
function rpcAttributes(e: Endpoint, subject: string) {
  return {
    "rpc.system": "nats",
    "rpc.service": e.service,
    "rpc.method": e.op,
    "messaging.system": "nats",
    "messaging.destination.name": subject,
  };
}

export async function request<E extends Endpoint>(
  nc: NatsConnection,
  subjects: Subjects,
  e: E,
  req: RequestOf<E>,
  opts: RequestOptions = {},
): Promise<ResponseOf<E>> {
  const subject = subjects.rpc(e.service, e.op);
  const span = startOutgoing(`${e.service}/${e.op}`, SpanKind.CLIENT, rpcAttributes(e, subject));
  try {
    const result = await sendRequest(nc, subject, e, req, opts, span);
    endSpan(span);
    return result;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

async function sendRequest<E extends Endpoint>(
  nc: NatsConnection,
  subject: string,
  e: E,
  req: RequestOf<E>,
  opts: RequestOptions,
  span: Span | undefined,
): Promise<ResponseOf<E>> {
  let hdrs: MsgHdrs | undefined;
  if (opts.headers) {
    hdrs = natsHeaders();
    for (const [k, v] of Object.entries(opts.headers)) hdrs.set(k, v);
  }
  hdrs = withTraceHeaders(span, hdrs);
  let msg: Msg;
  try {
    msg = await nc.request(subject, encodeJson(req), {
      timeout: opts.timeoutMs ?? e.timeoutMs,
      ...(hdrs ? { headers: hdrs } : {}),
    });
  } catch (err) {
    throw requestFailure(e, err);
  }
  let parsed: z.ZodSafeParseResult<unknown>;
  try {
    parsed = replySchema(e).safeParse(decodeJson(msg.data));
  } catch (err) {
    throw new AppError("internal", `${e.service} sent an unreadable reply to ${e.op}`, { cause: err });
  }
  if (!parsed.success) {
    throw new AppError(
      "internal",
      `${e.service} sent an invalid reply to ${e.op}: ${formatZodError(parsed.error)}`,
    );
  }
  const reply = parsed.data as { ok: true; result: ResponseOf<E> } | { ok: false; error: WireError };
  if (reply.ok) return reply.result;
  throw AppError.fromWire(reply.error);
}

function requestFailure(e: Endpoint, err: unknown): AppError {
  const code = (err as { code?: string } | undefined)?.code;
  const name = (err as { name?: string } | undefined)?.name;
  if (
    code === "503" ||
    name === "NoRespondersError" ||
    (err instanceof Error && /no responders/i.test(err.message))
  ) {
    return new AppError("unavailable", `${e.service} is not reachable (${e.op})`, { cause: err });
  }
  if (
    code === "TIMEOUT" ||
    name === "TimeoutError" ||
    (err instanceof Error && /timeout/i.test(err.message))
  ) {
    return new AppError("timeout", `${e.service} did not answer ${e.op} in time`, { cause: err });
  }
  return new AppError("unavailable", `request to ${e.service} failed (${e.op})`, { cause: err });
}

export function serve<E extends Endpoint>(
  nc: NatsConnection,
  subjects: Subjects,
  e: E,
  handler: Handler<E>,
  observer: RpcObserver = {},
): Subscription {
  const subject = subjects.rpc(e.service, e.op);
  return nc.subscribe(subject, {
    queue: subjects.rpcQueue(e.service),
    callback: (err, msg) => {
      if (err) return;
      // A request sent inside a trace is handled inside its SERVER span (its logs and calls too).
      const parent = incomingContext(msg.headers);
      if (!parent) {
        void handle(e, handler, msg, observer);
        return;
      }
      const span = startIncoming(`${e.service}/${e.op}`, SpanKind.SERVER, parent, rpcAttributes(e, subject));
      activate(parent, span, () => void handle(e, handler, msg, observer, span));
    },
  });
}

async function handle<E extends Endpoint>(
  e: E,
  handler: Handler<E>,
  msg: Msg,
  observer: RpcObserver,
  span?: Span,
) {
  const started = performance.now();
  let payload: unknown;
  let failure: AppError | undefined;
  try {
    let raw: unknown;
    try {
      raw = decodeJson(msg.data);
    } catch (err) {
      throw new ValidationError("request body is not JSON", { cause: err });
    }
    const parsed = e.request.safeParse(raw);
    if (!parsed.success) throw new ValidationError(formatZodError(parsed.error));
    const result = await handler(parsed.data as z.output<E["request"]>, {
      subject: msg.subject,
      headers: msg.headers,
    });
    payload = { ok: true, result };
  } catch (err) {
    failure = toAppError(err);
    payload = { ok: false, error: failure.toWire() };
  }
  try {
    msg.respond(encodeJson(payload));
  } catch (err) {
    // The reply could not be sent (too large, connection gone): tell the caller if we still can.
    failure = new AppError("internal", `reply to ${e.op} could not be sent`, { cause: err });
    try {
      msg.respond(encodeJson({ ok: false, error: failure.toWire() }));
    } catch {
      // The caller will time out and retry (policy: nothing else to do).
    }
  }
  observer.onHandled?.({
    op: e.op,
    ok: failure === undefined,
    durationMs: performance.now() - started,
    ...(failure ? { error: failure } : {}),
  });
  endSpan(span, failure);
}
