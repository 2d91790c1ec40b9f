/**
 * Hands on the bus: serving `execute(name, input)` with exactly-once-or-"unknown" semantics, the
 * registry of live hands, and the caller's side.
 *
 * Execution records (KV `<PREFIX>_EXEC`, keyed `<hand>.<tool_use id>`, kept 24 h) make `execute`
 * idempotent across retries, worker takeovers and hand restarts:
 * - first call: record "running", run, record "done" with the result, reply;
 * - repeat while running in this process: attach to the same run;
 * - repeat after "done": the stored result;
 * - repeat after the process that was running it died: "unknown" — never a silent second run —
 *   except for tools the hand declares idempotent, which simply run again.
 *
 * The registry (KV `<PREFIX>_HANDS`, bucket TTL) holds one entry per hand, refreshed on a
 * heartbeat; entries of silent hands expire. Custom-tool hands also index their tools.
 */
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import {
  AppError,
  type ExecutionRecord,
  ExecutionRecord as ExecutionRecordSchema,
  formatZodError,
  type HandAnnouncement,
  HandAnnouncement as HandAnnouncementSchema,
  HandExecuteReply,
  HandExecuteRequest,
  type Subjects,
  type ToolResult,
} from "@tendon/contracts";
import { decodeJson, encodeJson } from "./codec.js";
import { probe } from "./presence.js";
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

const EXECUTIONS_TTL_MS = 24 * 3600_000;
const REGISTRY_TTL_MS = 30_000;
const ANNOUNCE_EVERY_MS = 10_000;

export interface HandStores {
  executions: KV;
  registry: KV;
}

/**
 * Opens the two KV buckets hands use. Services create them when missing; a hand running with a
 * scoped credential (`create: false`) only binds to them.
 */
export async function openHandStores(
  nc: NatsConnection,
  subjects: Subjects,
  opts: { create?: boolean } = {},
): Promise<HandStores> {
  const kvm = new Kvm(nc);
  const open = (name: string, ttl: number) =>
    opts.create === false ? kvm.open(name) : kvm.create(name, { ttl, history: 1 });
  const [executions, registry] = await Promise.all([
    open(subjects.executionsBucket(), EXECUTIONS_TTL_MS),
    open(subjects.handsBucket(), REGISTRY_TTL_MS),
  ]);
  return { executions, registry };
}

export interface ServeHandOptions {
  name: string;
  kind: HandAnnouncement["kind"];
  instance: string;
  tools: string[];
  sessionId?: string;
  provider?: string;
  sandboxId?: string;
  handler(req: HandExecuteRequest, signal: AbortSignal): Promise<ToolResult>;
  /** Tools without side effects: when their first run's outcome is unknown they run again. */
  idempotentTools?: ReadonlySet<string>;
  /** Index each tool in the registry so brains can route custom tool calls here. */
  indexTools?: boolean;
  onError?(err: unknown): void;
}

export interface HandServer {
  readonly name: string;
  /** Calls being run right now. */
  inFlight(): number;
  stop(): Promise<void>;
}

function toolResultError(text: string): ToolResult {
  return { content: [{ type: "text", text }], is_error: true };
}

async function getRecord(kv: KV, key: string): Promise<ExecutionRecord | undefined> {
  const e = await kv.get(key);
  if (e?.operation !== "PUT") return undefined;
  const r = ExecutionRecordSchema.safeParse(decodeJson(e.value));
  return r.success ? r.data : undefined;
}

/** Writes an execution record, retrying through a short NATS outage (a reconnect takes ~1-2 s). */
async function storeRecord(kv: KV, key: string, record: ExecutionRecord): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await kv.put(key, encodeJson(record));
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
}

export async function serveHand(
  nc: NatsConnection,
  subjects: Subjects,
  stores: HandStores,
  opts: ServeHandOptions,
): Promise<HandServer> {
  const running = new Map<string, Promise<ToolResult>>();
  const controllers = new Set<AbortController>();
  const startedAt = new Date().toISOString();

  // Records are namespaced by hand, so a hand's credential can be scoped to its own records.
  const recordKey = (req: HandExecuteRequest) => `${opts.name}.${req.tool_use_id}`;

  const run = (req: HandExecuteRequest): Promise<ToolResult> => {
    const ctl = new AbortController();
    controllers.add(ctl);
    const timer = setTimeout(() => ctl.abort(new Error("deadline")), req.deadline_ms);
    const p = (async () => {
      try {
        const timedOut = toolResultError(
          `The tool call did not finish within its deadline of ${req.deadline_ms} ms and was stopped.`,
        );
        const settled = await Promise.race([
          opts.handler(req, ctl.signal),
          new Promise<ToolResult>((resolve) =>
            ctl.signal.addEventListener("abort", () => resolve(timedOut), { once: true }),
          ),
        ]);
        // Past the deadline the call failed, whatever the handler answered while being stopped.
        const result = ctl.signal.aborted ? timedOut : settled;
        const record: ExecutionRecord = {
          state: "done",
          instance: opts.instance,
          tool: req.tool,
          started_at: startedAt,
          result,
        };
        // The call has run: its result is the answer even when the record cannot be written (a NATS
        // restart); a repeat then finds "running" and says "unknown", never a second run.
        await storeRecord(stores.executions, recordKey(req), record).catch((e: unknown) => opts.onError?.(e));
        return result;
      } finally {
        clearTimeout(timer);
        controllers.delete(ctl);
        running.delete(req.tool_use_id);
      }
    })();
    running.set(req.tool_use_id, p);
    return p;
  };

  const start = async (req: HandExecuteRequest): Promise<HandExecuteReply> => {
    const attached = running.get(req.tool_use_id);
    if (attached) return { status: "completed", result: await attached, instance: opts.instance };
    const prior = await getRecord(stores.executions, recordKey(req));
    if (prior?.state === "done" && prior.result)
      return { status: "completed", result: prior.result, instance: prior.instance };
    const rerunnable = opts.idempotentTools?.has(req.tool) === true;
    if (prior?.state === "running" && !rerunnable) {
      return {
        status: "unknown",
        reason: `the call was started by ${prior.instance} at ${prior.started_at}, which is gone; it was not run again`,
      };
    }
    const record: ExecutionRecord = {
      state: "running",
      instance: opts.instance,
      tool: req.tool,
      started_at: new Date().toISOString(),
    };
    if (prior) await stores.executions.put(recordKey(req), encodeJson(record));
    else {
      try {
        await stores.executions.create(recordKey(req), encodeJson(record));
      } catch {
        // Another runner claimed it between our read and create: answer from its record.
        return start(req);
      }
    }
    return { status: "completed", result: await run(req), instance: opts.instance };
  };

  const sub: Subscription = nc.subscribe(subjects.hand(opts.name), {
    queue: subjects.handQueue(opts.name),
    callback: (err, msg) => {
      if (err) return;
      // A call sent inside a trace runs inside its SERVER span.
      const parent = incomingContext(msg.headers);
      const span = parent
        ? startIncoming("execute_tool", SpanKind.SERVER, parent, {
            "gen_ai.operation.name": "execute_tool",
            "tendon.hand": opts.name,
            ...(opts.sessionId ? { "tendon.session_id": opts.sessionId } : {}),
          })
        : undefined;
      const handleCall = async () => {
        let reply: unknown;
        let failure: AppError | undefined;
        try {
          const parsed = HandExecuteRequest.safeParse(decodeJson(msg.data));
          if (!parsed.success) throw new AppError("invalid_request", formatZodError(parsed.error));
          span?.updateName(`execute_tool ${parsed.data.tool}`);
          span?.setAttributes({
            "gen_ai.tool.name": parsed.data.tool,
            "gen_ai.tool.call.id": parsed.data.tool_use_id,
          });
          if (!opts.tools.includes(parsed.data.tool)) {
            throw new AppError("not_found", `hand ${opts.name} does not serve tool "${parsed.data.tool}"`);
          }
          reply = { ok: true, result: await start(parsed.data) };
        } catch (e) {
          const ae =
            e instanceof AppError
              ? e
              : new AppError("internal", e instanceof Error ? e.message : String(e), { cause: e });
          if (ae.code === "internal") opts.onError?.(e);
          reply = { ok: false, error: ae.toWire() };
          failure = ae;
        }
        try {
          msg.respond(encodeJson(reply));
        } catch (e) {
          opts.onError?.(e);
        }
        endSpan(span, failure);
      };
      if (parent && span) activate(parent, span, () => void handleCall());
      else void handleCall();
    },
  });

  const announce = async () => {
    const now = new Date().toISOString();
    const entry: HandAnnouncement = {
      name: opts.name,
      kind: opts.kind,
      instance: opts.instance,
      tools: opts.tools,
      started_at: startedAt,
      last_seen: now,
      ...(opts.sessionId ? { session_id: opts.sessionId } : {}),
      ...(opts.provider ? { provider: opts.provider } : {}),
      ...(opts.sandboxId ? { sandbox_id: opts.sandboxId } : {}),
    };
    await stores.registry.put(`hands.${opts.name}`, encodeJson(entry));
    if (opts.indexTools) {
      for (const tool of opts.tools)
        await stores.registry.put(`tools.${tool}`, encodeJson({ hand: opts.name }));
    }
  };
  await nc.flush();
  await announce();
  const heartbeat = setInterval(() => {
    announce().catch((e: unknown) => opts.onError?.(e));
  }, ANNOUNCE_EVERY_MS);
  heartbeat.unref();

  return {
    name: opts.name,
    inFlight: () => running.size,
    async stop() {
      clearInterval(heartbeat);
      sub.unsubscribe();
      for (const c of controllers) c.abort(new Error("hand stopping"));
      await Promise.allSettled([...running.values()]);
      await stores.registry.delete(`hands.${opts.name}`).catch(() => {});
      if (opts.indexTools) {
        for (const tool of opts.tools) await stores.registry.delete(`tools.${tool}`).catch(() => {});
      }
    },
  };
}

export interface ExecuteOptions {
  /** How long past the call's deadline to wait for the reply. */
  marginMs?: number;
  /** The execution records: with them the caller watches the call while it waits (see below). */
  stores?: HandStores;
  /** How often the watch looks (default 2 s). */
  watchEveryMs?: number;
}

/**
 * The caller's side of `execute(name, input)`.
 *
 * A reply is a core NATS message: a server restart or a reconnect can lose it, and a hand that dies
 * with the call never sends one. Waiting for it alone would hold the caller until the call's
 * deadline (minutes). So, given the execution records, the caller also watches while it waits: a
 * record that says "done" is the answer, and a hand that no longer answers at all is
 * `hand_not_found` now (asked again, a new hand answers from the record: the stored result or
 * "unknown", never a second run).
 */
export async function executeOnHand(
  nc: NatsConnection,
  subjects: Subjects,
  name: string,
  req: HandExecuteRequest,
  opts: ExecuteOptions = {},
): Promise<HandExecuteReply> {
  const span = startOutgoing(`execute_tool ${req.tool}`, SpanKind.CLIENT, {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": req.tool,
    "gen_ai.tool.call.id": req.tool_use_id,
    "tendon.hand": name,
    "tendon.session_id": req.session_id,
  });
  try {
    const reply = await awaitExecute(nc, subjects, name, req, opts, span);
    span?.setAttribute("tendon.execute.status", reply.status);
    endSpan(span);
    return reply;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

async function awaitExecute(
  nc: NatsConnection,
  subjects: Subjects,
  name: string,
  req: HandExecuteRequest,
  opts: ExecuteOptions,
  span: Span | undefined,
): Promise<HandExecuteReply> {
  const reply = requestExecute(nc, subjects, name, req, opts.marginMs, span);
  if (!opts.stores) return reply;
  const watch = new AbortController();
  reply.catch(() => {}); // settled by the race below; a late rejection must not go unhandled
  try {
    return await Promise.race([
      reply,
      watchExecution(nc, subjects, opts.stores, name, req, opts.watchEveryMs ?? 2_000, watch.signal),
    ]);
  } finally {
    watch.abort();
  }
}

/** Resolves with the stored result once the record says "done"; rejects once the hand is gone. */
async function watchExecution(
  nc: NatsConnection,
  subjects: Subjects,
  stores: HandStores,
  name: string,
  req: HandExecuteRequest,
  everyMs: number,
  signal: AbortSignal,
): Promise<HandExecuteReply> {
  const key = `${name}.${req.tool_use_id}`;
  let wake: (() => void) | undefined;
  const stop = () => wake?.();
  signal.addEventListener("abort", stop, { once: true });
  for (;;) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, everyMs);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    if (signal.aborted) throw new Error("watch stopped"); // the reply won; nobody reads this
    const record = await getRecord(stores.executions, key).catch(() => undefined);
    if (record?.state === "done" && record.result)
      return { status: "completed", result: record.result, instance: record.instance };
    if ((await probe(nc, subjects.hand(name), encodeJson({ probe: true }), 1_000)) === "gone") {
      throw new AppError("unavailable", `hand ${name} went away during the call`, {
        details: { error_code: "hand_not_found" },
      });
    }
  }
}

async function requestExecute(
  nc: NatsConnection,
  subjects: Subjects,
  name: string,
  req: HandExecuteRequest,
  marginMs = 5_000,
  span?: Span,
): Promise<HandExecuteReply> {
  let msg: Awaited<ReturnType<NatsConnection["request"]>>;
  const headers = withTraceHeaders(span);
  try {
    msg = await nc.request(subjects.hand(name), encodeJson(HandExecuteRequest.parse(req)), {
      timeout: req.deadline_ms + marginMs,
      ...(headers ? { headers } : {}),
    });
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (/no responders/i.test(text) || (err as { code?: string }).code === "503") {
      throw new AppError("unavailable", `no live hand named ${name}`, {
        cause: err,
        details: { error_code: "hand_not_found" },
      });
    }
    throw new AppError("timeout", `hand ${name} did not answer in time`, { cause: err });
  }
  const raw = decodeJson(msg.data) as { ok: boolean; result?: unknown; error?: unknown };
  if (raw.ok) {
    const r = HandExecuteReply.safeParse(raw.result);
    if (!r.success)
      throw new AppError("internal", `hand ${name} sent an invalid reply: ${formatZodError(r.error)}`);
    return r.data;
  }
  const e = raw.error as
    | { code?: string; message?: string; retryable?: boolean; details?: Record<string, unknown> }
    | undefined;
  throw new AppError((e?.code as AppError["code"]) ?? "internal", e?.message ?? "hand failed", {
    retryable: e?.retryable ?? false,
    ...(e?.details ? { details: e.details } : {}),
  });
}

/** True when something answers on the hand's subject (a malformed probe gets a quick error reply). */
/** Whether a hand of that name answers: busy (a timeout) is not gone. */
export async function handAlive(
  nc: NatsConnection,
  subjects: Subjects,
  name: string,
  timeoutMs = 1_000,
): Promise<boolean> {
  return (await probe(nc, subjects.hand(name), encodeJson({ probe: true }), timeoutMs)) !== "gone";
}

export interface HandRegistry {
  get(name: string): Promise<HandAnnouncement | undefined>;
  /** The live hand serving a custom tool, if any. */
  handForTool(tool: string): Promise<string | undefined>;
  list(): Promise<HandAnnouncement[]>;
}

export function handRegistry(stores: HandStores): HandRegistry {
  const readHand = async (key: string) => {
    const e = await stores.registry.get(key);
    if (e?.operation !== "PUT") return undefined;
    const r = HandAnnouncementSchema.safeParse(decodeJson(e.value));
    return r.success ? r.data : undefined;
  };
  return {
    get: (name) => readHand(`hands.${name}`),
    async handForTool(tool) {
      const e = await stores.registry.get(`tools.${tool}`);
      if (e?.operation !== "PUT") return undefined;
      const hand = (decodeJson(e.value) as { hand?: string }).hand;
      return hand && (await readHand(`hands.${hand}`)) ? hand : undefined;
    },
    async list() {
      const out: HandAnnouncement[] = [];
      const keys = await stores.registry.keys("hands.>");
      for await (const k of keys) {
        const h = await readHand(k);
        if (h) out.push(h);
      }
      return out;
    },
  };
}
