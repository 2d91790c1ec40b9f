/**
 * The one way events enter a session's log: lock the session row, let a planner decide what to
 * append (pure domain code), insert the events and the new projection in the same transaction,
 * then, after commit, publish and wake.
 *
 * Invariants:
 * - `seq` is assigned under the row lock, so it is gap-free and unique per session.
 * - The stored projection is updated before any event is published (readers of GET /sessions/{id}
 *   never lag behind the stream).
 */
import type { Database, SessionRow, Transaction } from "@tendon/db";
import { type Span, tracer, withSpan } from "@tendon/tracing";
import type { HandlerContext } from "./context.js";
import type { AppendContext, AppendPlan } from "./domain/admission.js";
import type { SessionState } from "./domain/projection.js";
import { appendEvents, type StoredEvent } from "./store/events.repo.js";
import { lockForAppend, saveProjection } from "./store/sessions.repo.js";
import { ensureLiveItem } from "./store/work.repo.js";

/** Events after which a self-hosted session needs a worker attached. */
const NEEDS_WORKER = new Set(["user.message", "agent.tool_use", "user.tool_confirmation"]);

export interface LockedSession {
  trx: Transaction<Database>;
  row: SessionRow;
  state: SessionState;
  /** Events already in the log under the idempotency keys the writer was given, by key. */
  seen: ReadonlyMap<string, StoredEvent>;
  /** Context for the pure planners: ids, time and the current log position. */
  appendContext(): AppendContext;
}

export interface WriteOutcome<T> {
  plan?: AppendPlan | undefined;
  releaseLease?: boolean;
  result: T;
}

export function isSelfHosted(row: SessionRow): boolean {
  return row.environment_kind === "self_hosted";
}

const appendTracer = tracer("@tendon/session-log");

/**
 * One append, in a span of its own (the wake-up it publishes is its child). `keys`: idempotency
 * keys to look up under the lock (`LockedSession.seen`), in the same round trip that takes it.
 */
export function writeSession<T>(
  ctx: HandlerContext,
  sessionId: string,
  fn: (s: LockedSession) => Promise<WriteOutcome<T>>,
  keys: readonly string[] = [],
): Promise<T> {
  return withSpan(
    appendTracer,
    "session append",
    { attributes: { "tendon.session_id": sessionId } },
    (span) => write(ctx, sessionId, fn, keys, span),
  );
}

async function write<T>(
  ctx: HandlerContext,
  sessionId: string,
  fn: (s: LockedSession) => Promise<WriteOutcome<T>>,
  keys: readonly string[],
  span: Span,
): Promise<T> {
  const { db, clock, ids, effects } = ctx;
  const now = clock.now();
  const { outcome, plan, queued } = await db.kysely.transaction().execute(async (trx) => {
    const { row, seen } = await lockForAppend(trx, sessionId, keys);
    const selfHosted = isSelfHosted(row);
    const locked: LockedSession = {
      trx,
      row,
      seen,
      state: row.state as SessionState,
      appendContext: () => ({ lastSeq: row.last_seq, now, newEventId: () => ids.next("event"), selfHosted }),
    };
    const outcome = await fn(locked);
    const p = outcome.plan;
    if (p && p.events.length > 0) {
      await appendEvents(trx, sessionId, p.events, {
        state: p.state,
        lastSeq: p.lastSeq,
        now,
        ...(outcome.releaseLease ? { releaseLease: true } : {}),
      });
    } else if (outcome.releaseLease) {
      await saveProjection(trx, sessionId, {
        state: locked.state,
        lastSeq: row.last_seq,
        now,
        releaseLease: true,
      });
    }
    let queued = false;
    if (
      selfHosted &&
      p &&
      p.state.status !== "terminated" &&
      p.events.some((e) => NEEDS_WORKER.has(e.event.type))
    ) {
      queued = await ensureLiveItem(trx, sessionId, row.environment_id, ids.next("work"), now);
    }
    return { outcome, plan: p, queued: queued ? row.environment_id : undefined };
  });
  span.setAttributes({
    "tendon.append.events": plan?.events.length ?? 0,
    "tendon.append.wake": plan?.wake === true,
    ...(plan && plan.events.length > 0 ? { "tendon.append.last_seq": plan.lastSeq } : {}),
  });
  if (queued) ctx.bus.notifyWorkAvailable(queued);
  if (plan && plan.events.length > 0) {
    ctx.metrics.eventsAppended.inc(plan.events.length);
    await effects.committed(
      sessionId,
      plan.events.map((e) => ({ seq: e.seq, event: e.event })),
      plan.wake,
    );
  }
  return outcome.result;
}
