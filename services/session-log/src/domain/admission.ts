/**
 * What may be appended to a session, and what it implies. Pure: the store calls these inside the
 * appending transaction with the locked session's state, and writes exactly what they return.
 *
 * Client input (spec §6.2):
 * - `user.message` on an idle session → `session.status_running` and a wake-up; while running it is
 *   queued (and wakes, harmlessly). Not accepted while the session waits on tool results.
 * - `user.custom_tool_result` / `user.tool_confirmation` must answer a pending call. Answering the last
 *   one of an idle `requires_action` session → running + wake; answering some → a new idle event
 *   listing the rest.
 * - `user.interrupt` on an idle session that waits on the client cancels the waiting calls and idles
 *   with `end_turn`; on a running session it is left to the harness (which cancels its model call).
 * - `user.tool_result` answers a builtin call a self-hosted worker ran.
 *
 * Harness appends: a `session.status_idle` is refused while client input the harness has not seen
 * (seq > basis) is in the log, so a turn can never end over unread input.
 */
import {
  AppError,
  type AppendItem,
  type ClientEventParams,
  ConflictError,
  type EventPayload,
  type SessionEvent,
  ValidationError,
} from "@tendon/contracts";
import { applyEvent, type ProjectionContext, type SessionState } from "./projection.js";

export interface AppendContext extends ProjectionContext {
  lastSeq: number;
  now: Date;
  newEventId(): string;
}

export interface Appended {
  seq: number;
  event: SessionEvent;
  key: string;
  internal: Record<string, unknown> | null;
}

export interface AppendPlan {
  events: Appended[];
  state: SessionState;
  lastSeq: number;
  /** A harness must look at the session (new input, or work to resume). */
  wake: boolean;
}

class Builder {
  readonly events: Appended[] = [];
  wake = false;
  constructor(
    public state: SessionState,
    public lastSeq: number,
    private readonly ctx: AppendContext,
  ) {}

  push(
    payload: EventPayload,
    key: string,
    opts: { id?: string; internal?: Record<string, unknown> } = {},
  ): SessionEvent {
    const seq = this.lastSeq + 1;
    const event = {
      ...payload,
      id: opts.id ?? this.ctx.newEventId(),
      processed_at: this.ctx.now.toISOString(),
    } as SessionEvent;
    this.state = applyEvent(this.state, event, seq, this.ctx);
    this.lastSeq = seq;
    this.events.push({ seq, event, key, internal: opts.internal ?? null });
    return event;
  }

  plan(): AppendPlan {
    return { events: this.events, state: this.state, lastSeq: this.lastSeq, wake: this.wake };
  }
}

function idleRequiresAction(state: SessionState): EventPayload {
  return {
    type: "session.status_idle",
    stop_reason: { type: "requires_action", event_ids: Object.keys(state.pending) },
    stop_details: null,
  };
}

export function terminatedError(): AppError {
  return new ConflictError("the session is terminated and accepts no more events", {
    details: { error_code: "session_terminated" },
  });
}

/** Plans the append of client-sent events; `clientKey(i)` is the idempotency key of event i. */
export function admitClientEvents(
  state: SessionState,
  inputs: ReadonlyArray<ClientEventParams>,
  ctx: AppendContext,
  clientKey: (index: number) => string,
): AppendPlan {
  if (state.status === "terminated") throw terminatedError();
  const b = new Builder(state, ctx.lastSeq, ctx);
  inputs.forEach((input, i) => {
    const key = clientKey(i);
    const s = b.state;
    switch (input.type) {
      case "user.message": {
        const waiting = Object.keys(s.pending);
        if (s.status === "idle" && waiting.length > 0) {
          throw new ValidationError(
            `the session is waiting for ${waiting.length} tool call(s) to be answered (${waiting.join(", ")}); answer them or send user.interrupt first`,
            { details: { error_code: "requires_action", event_ids: waiting } },
          );
        }
        b.push(input, key);
        if (s.status === "idle") b.push({ type: "session.status_running" }, `${key}:running`);
        b.wake = true;
        return;
      }
      case "user.interrupt": {
        if (input.session_thread_id) {
          throw new ValidationError("session threads are not supported by this server", {
            details: { error_code: "unsupported_field" },
          });
        }
        b.push(input, key);
        if (s.status === "idle" && s.stop_reason?.type === "requires_action") {
          b.push(
            { type: "session.status_idle", stop_reason: { type: "end_turn" }, stop_details: null },
            `${key}:idle`,
          );
        } else if (s.status !== "idle") {
          b.wake = true;
        }
        return;
      }
      case "user.custom_tool_result":
      case "user.tool_confirmation": {
        const id = input.type === "user.custom_tool_result" ? input.custom_tool_use_id : input.tool_use_id;
        const want = input.type === "user.custom_tool_result" ? "custom_tool" : "confirmation";
        const p = s.pending[id];
        if (!p || p.kind !== want) {
          throw new ValidationError(
            `${id} is not a ${want === "custom_tool" ? "custom tool call" : "tool call awaiting confirmation"} of this session that is still waiting for an answer`,
            { details: { error_code: "tool_use_not_pending" } },
          );
        }
        if (
          input.type === "user.tool_confirmation" &&
          input.result === "allow" &&
          input.deny_message != null
        ) {
          throw new ValidationError('deny_message is only allowed with result "deny"');
        }
        b.push(input, key);
        if (b.state.status === "idle" && s.stop_reason?.type === "requires_action") {
          if (Object.keys(b.state.pending).length === 0) {
            b.push({ type: "session.status_running" }, `${key}:running`);
            b.wake = true;
          } else {
            b.push(idleRequiresAction(b.state), `${key}:idle`);
          }
        } else {
          b.wake = true;
        }
        return;
      }
      case "user.tool_result": {
        if (!ctx.selfHosted) {
          throw new ValidationError(
            "user.tool_result is only accepted for sessions in a self_hosted environment",
            {
              details: { error_code: "invalid_event_for_environment" },
            },
          );
        }
        if (!s.awaiting[input.tool_use_id]) {
          throw new ValidationError(
            `${input.tool_use_id} is not a tool call of this session awaiting a result`,
            {
              details: { error_code: "tool_use_not_pending" },
            },
          );
        }
        b.push(input, key);
        b.wake = true;
        return;
      }
      case "user.define_outcome":
      case "system.message":
        throw new ValidationError(`${input.type} events are not supported by this server yet`, {
          details: { error_code: "unsupported_event_type" },
        });
    }
  });
  return b.plan();
}

/** Plans a harness append. Items whose key is already in the log must be filtered out by the caller. */
export function planHarnessAppend(
  state: SessionState,
  items: ReadonlyArray<AppendItem>,
  basisSeq: number,
  ctx: AppendContext,
): AppendPlan {
  if (state.status === "terminated") throw terminatedError();
  if (items.some((i) => i.payload.type === "session.status_idle") && state.last_input_seq > basisSeq) {
    throw new AppError("input_pending", "client input arrived after the harness read the log", {
      details: { last_input_seq: state.last_input_seq, basis_seq: basisSeq },
    });
  }
  const b = new Builder(state, ctx.lastSeq, ctx);
  for (const item of items) {
    b.push(item.payload, item.key, {
      ...(item.id ? { id: item.id } : {}),
      ...(item.internal ? { internal: item.internal } : {}),
    });
  }
  return b.plan();
}

/** Plans events the session-log itself emits (session.updated, session.status_terminated). */
export function planServerEvents(
  state: SessionState,
  payloads: ReadonlyArray<EventPayload>,
  ctx: AppendContext,
  keyPrefix: string,
): AppendPlan {
  const b = new Builder(state, ctx.lastSeq, ctx);
  payloads.forEach((p, i) => {
    b.push(p, `${keyPrefix}:${i}`);
  });
  return b.plan();
}
