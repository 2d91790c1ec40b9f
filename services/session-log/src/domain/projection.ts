/**
 * The session projection: everything the session row knows about its log, folded from the events.
 *
 * Invariants:
 * - `fold(events)` over a session's whole log equals the stored state (the state is rebuildable).
 * - `applyEvent` is pure and total over every event type: unknown types leave the state unchanged.
 * - `pending` holds the tool calls that block on the client (`requires_action`): custom tool calls
 *   and `ask`-gated calls, by event id. `awaiting` holds builtin calls a self-hosted worker answers.
 */

import type { SessionEvent, SessionStatus, StopReason } from "@tendon/contracts";
import { SessionStatus as SessionStatusSchema, StopReason as StopReasonSchema } from "@tendon/contracts";
import { z } from "zod";

export const PendingKind = z.enum(["custom_tool", "confirmation"]);
export type PendingKind = z.infer<typeof PendingKind>;

export const SessionState = z.object({
  v: z.literal(1),
  status: SessionStatusSchema,
  stop_reason: StopReasonSchema.nullable(),
  /** Tool calls blocked on the client, by event id. */
  pending: z.record(z.string(), z.object({ kind: PendingKind, name: z.string() })),
  /** Builtin tool calls that a self-hosted worker must answer with `user.tool_result`. */
  awaiting: z.record(z.string(), z.object({ name: z.string() })),
  /** Seq of the newest client input the harness has to act on. */
  last_input_seq: z.number().int().nonnegative(),
  usage: z.object({
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cache_read_input_tokens: z.number().int(),
    cache_creation_input_tokens: z.number().int(),
  }),
  /** Accumulated running time, and when the current running stretch began (ms since epoch). */
  active_ms: z.number().nonnegative(),
  running_since: z.number().nullable(),
});
export type SessionState = z.infer<typeof SessionState>;

export function initialState(): SessionState {
  return {
    v: 1,
    status: "idle",
    stop_reason: null,
    pending: {},
    awaiting: {},
    last_input_seq: 0,
    usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    active_ms: 0,
    running_since: null,
  };
}

function setStatus(
  s: SessionState,
  status: SessionStatus,
  at: number,
  stopReason: StopReason | null,
): SessionState {
  const wasActive = s.status === "running" || s.status === "rescheduling";
  const isActive = status === "running" || status === "rescheduling";
  let { active_ms, running_since } = s;
  if (wasActive && !isActive && running_since !== null) {
    active_ms += Math.max(0, at - running_since);
    running_since = null;
  } else if (!wasActive && isActive) {
    running_since = at;
  }
  return { ...s, status, stop_reason: stopReason, active_ms, running_since };
}

function without<T>(rec: Record<string, T>, key: string): Record<string, T> {
  if (!(key in rec)) return rec;
  const next = { ...rec };
  delete next[key];
  return next;
}

export interface ProjectionContext {
  /** Builtin tool calls of self-hosted sessions are answered by the customer's worker. */
  selfHosted: boolean;
}

const CLOUD: ProjectionContext = { selfHosted: false };

/** Folds one committed event (with its seq) into the state. */
export function applyEvent(
  s: SessionState,
  e: SessionEvent,
  seq: number,
  ctx: ProjectionContext = CLOUD,
): SessionState {
  const at = Date.parse(e.processed_at);
  switch (e.type) {
    case "session.status_running":
      return setStatus(s, "running", at, null);
    case "session.status_idle":
      return setStatus(s, "idle", at, e.stop_reason);
    case "session.status_rescheduled":
      return setStatus(s, "rescheduling", at, null);
    case "session.status_terminated":
      return setStatus({ ...s, pending: {}, awaiting: {} }, "terminated", at, null);
    case "user.message":
      return { ...s, last_input_seq: seq };
    case "user.interrupt":
      // Interrupting cancels whatever was blocked on the client.
      return { ...s, last_input_seq: seq, pending: {} };
    case "user.custom_tool_result":
      return { ...s, last_input_seq: seq, pending: without(s.pending, e.custom_tool_use_id) };
    case "user.tool_confirmation": {
      const confirmed = s.pending[e.tool_use_id];
      const next = { ...s, last_input_seq: seq, pending: without(s.pending, e.tool_use_id) };
      if (ctx.selfHosted && e.result === "allow" && confirmed) {
        return { ...next, awaiting: { ...s.awaiting, [e.tool_use_id]: { name: confirmed.name } } };
      }
      return next;
    }
    case "user.tool_result":
      return { ...s, last_input_seq: seq, awaiting: without(s.awaiting, e.tool_use_id) };
    case "agent.custom_tool_use":
      return { ...s, pending: { ...s.pending, [e.id]: { kind: "custom_tool", name: e.name } } };
    case "agent.tool_use":
      if (e.evaluated_permission === "ask") {
        return { ...s, pending: { ...s.pending, [e.id]: { kind: "confirmation", name: e.name } } };
      }
      if (ctx.selfHosted && e.evaluated_permission !== "deny") {
        return { ...s, awaiting: { ...s.awaiting, [e.id]: { name: e.name } } };
      }
      return s;
    case "agent.tool_result":
      return { ...s, awaiting: without(s.awaiting, e.tool_use_id) };
    case "agent.mcp_tool_use":
      if (e.evaluated_permission === "ask") {
        return { ...s, pending: { ...s.pending, [e.id]: { kind: "confirmation", name: e.name } } };
      }
      return s;
    case "span.model_request_end": {
      const u = e.model_usage;
      return {
        ...s,
        usage: {
          input_tokens: s.usage.input_tokens + u.input_tokens,
          output_tokens: s.usage.output_tokens + u.output_tokens,
          cache_read_input_tokens: s.usage.cache_read_input_tokens + u.cache_read_input_tokens,
          cache_creation_input_tokens: s.usage.cache_creation_input_tokens + u.cache_creation_input_tokens,
        },
      };
    }
    default:
      return s;
  }
}

export function fold(
  events: ReadonlyArray<{ seq: number; event: SessionEvent }>,
  ctx: ProjectionContext = CLOUD,
): SessionState {
  return events.reduce((s, { seq, event }) => applyEvent(s, event, seq, ctx), initialState());
}
