/**
 * derive(log) → the next step of the agent loop. Pure: a worker that just took over a session
 * knows exactly what to do from the log alone, whatever the previous worker was doing when it died.
 *
 * Reading rules:
 * - Input is "consumed" by a model call that succeeded (`span.model_request_end` without error);
 *   the call's start event records the log position it was built from (`internal.basis_seq`).
 * - A model call whose start has no end died with its worker: it is closed as an error first
 *   (`internal.reason` "abandoned"); only "failed" calls count toward the retry budget.
 * - `user.interrupt` cancels the calls waiting on anyone and flushes queued input.
 * - A `session.error` with `retry_status` exhausted or terminal gives up on the pending input.
 */
import type { LoggedEvent, SessionStatus, StopReason } from "@tendon/contracts";

export type CallKind = "custom" | "builtin" | "mcp";

export interface ToolCall {
  id: string;
  kind: CallKind;
  name: string;
  input: Record<string, unknown>;
  /** For MCP calls: the server's name. */
  mcpServer?: string;
  permission: "allow" | "ask" | "deny" | undefined;
  confirmation: "allow" | "deny" | undefined;
  denyMessage: string | undefined;
  resolved: boolean;
  cancelled: boolean;
}

export type Step =
  | { kind: "stop" }
  | { kind: "close_dangling"; startId: string }
  | { kind: "interrupt" }
  | { kind: "run_tools"; calls: ToolCall[] }
  | { kind: "await_worker"; calls: ToolCall[] }
  | { kind: "await_client"; eventIds: string[]; alreadyIdle: boolean }
  | { kind: "call_model"; attempt: number }
  | { kind: "end_turn" };

export interface LogView {
  status: SessionStatus;
  stopReason: StopReason | null;
  /** Last seq of the log read. */
  lastSeq: number;
  /** Seq of the newest input the model has not seen yet (0 = none). */
  inputSeq: number;
  consumedSeq: number;
  /** Consecutive failed model calls since the last success (drives retries). */
  failures: number;
  dangling: { id: string; seq: number } | null;
  interruptPending: boolean;
  terminated: boolean;
  calls: ToolCall[];
}

export function readLog(events: ReadonlyArray<LoggedEvent>): LogView {
  let status: SessionStatus = "idle";
  let stopReason: StopReason | null = null;
  let inputSeq = 0;
  let consumedSeq = 0;
  let failures = 0;
  let dangling: { id: string; seq: number; basis: number } | null = null;
  let interruptPending = false;
  let terminated = false;
  let lastSeq = 0;
  let calls = new Map<string, ToolCall>();

  const resolve = (id: string, seq: number) => {
    const c = calls.get(id);
    if (!c) return;
    c.resolved = true;
    if ([...calls.values()].every((x) => x.resolved || x.cancelled)) inputSeq = seq;
  };
  const addCall = (
    id: string,
    kind: CallKind,
    name: string,
    input: Record<string, unknown>,
    permission?: ToolCall["permission"],
  ) =>
    calls.set(id, {
      id,
      kind,
      name,
      input,
      permission,
      confirmation: undefined,
      denyMessage: undefined,
      resolved: false,
      cancelled: false,
    });

  for (const { seq, event: e, internal } of events) {
    lastSeq = seq;
    switch (e.type) {
      case "user.message":
        inputSeq = seq;
        interruptPending = false;
        break;
      case "user.interrupt":
        interruptPending = true;
        failures = 0;
        consumedSeq = Math.max(consumedSeq, seq);
        for (const c of calls.values()) if (!c.resolved) c.cancelled = true;
        break;
      case "span.model_request_start": {
        const basis = typeof internal?.basis_seq === "number" ? internal.basis_seq : seq - 1;
        dangling = { id: e.id, seq, basis };
        calls = new Map();
        break;
      }
      case "span.model_request_end":
        // Only calls the model failed count toward retries; interrupted or abandoned ones don't.
        if (e.is_error) {
          if ((internal?.reason ?? "failed") === "failed") failures++;
        } else {
          failures = 0;
          if (dangling) consumedSeq = Math.max(consumedSeq, dangling.basis);
        }
        dangling = null;
        break;
      case "agent.custom_tool_use":
        addCall(e.id, "custom", e.name, e.input);
        break;
      case "agent.tool_use":
        addCall(e.id, "builtin", e.name, e.input, e.evaluated_permission);
        break;
      case "agent.mcp_tool_use":
        addCall(e.id, "mcp", e.name, e.input, e.evaluated_permission);
        calls.get(e.id)!.mcpServer = e.mcp_server_name;
        break;
      case "user.custom_tool_result":
        resolve(e.custom_tool_use_id, seq);
        break;
      case "agent.tool_result":
      case "user.tool_result":
        resolve(e.tool_use_id, seq);
        break;
      case "agent.mcp_tool_result":
        resolve(e.mcp_tool_use_id, seq);
        break;
      case "user.tool_confirmation": {
        const c = calls.get(e.tool_use_id);
        if (c) {
          c.confirmation = e.result;
          c.denyMessage = e.deny_message ?? undefined;
        }
        break;
      }
      case "session.error":
        if (e.error.retry_status.type !== "retrying") {
          consumedSeq = Math.max(consumedSeq, inputSeq);
          failures = 0;
        }
        break;
      case "session.status_running":
        status = "running";
        stopReason = null;
        break;
      case "session.status_rescheduled":
        status = "rescheduling";
        break;
      case "session.status_idle":
        status = "idle";
        stopReason = e.stop_reason;
        interruptPending = false;
        break;
      case "session.status_terminated":
        status = "terminated";
        terminated = true;
        break;
      default:
        break;
    }
  }
  return {
    status,
    stopReason,
    lastSeq,
    inputSeq,
    consumedSeq,
    failures,
    dangling: dangling ? { id: dangling.id, seq: dangling.seq } : null,
    interruptPending,
    terminated,
    calls: [...calls.values()],
  };
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export interface DecideOptions {
  selfHosted: boolean;
  /** Custom tools a registered hand serves: their calls run on the hand, not the client. */
  handTools?: ReadonlySet<string>;
}

export function decide(v: LogView, opts: DecideOptions): Step {
  if (v.terminated) return { kind: "stop" };
  if (v.dangling) return { kind: "close_dangling", startId: v.dangling.id };
  if (v.interruptPending) return v.status === "idle" ? { kind: "stop" } : { kind: "interrupt" };

  const open = v.calls.filter((c) => !c.resolved && !c.cancelled);
  if (open.length > 0) {
    const needsClient = open.filter(
      (c) =>
        (c.kind === "custom" && !opts.handTools?.has(c.name)) ||
        (c.permission === "ask" && c.confirmation === undefined),
    );
    const ready = open.filter((c) => !needsClient.includes(c));
    const serverSide = ready.filter(
      (c) =>
        !(opts.selfHosted && c.kind === "builtin" && c.confirmation !== "deny" && c.permission !== "deny"),
    );
    if (serverSide.length > 0) return { kind: "run_tools", calls: serverSide };
    if (needsClient.length > 0) {
      const ids = needsClient.map((c) => c.id);
      const alreadyIdle =
        v.status === "idle" &&
        v.stopReason?.type === "requires_action" &&
        sameIds(v.stopReason.event_ids, ids);
      return { kind: "await_client", eventIds: ids, alreadyIdle };
    }
    return { kind: "await_worker", calls: ready };
  }
  if (v.inputSeq > v.consumedSeq) return { kind: "call_model", attempt: v.failures };
  if (v.status !== "idle") return { kind: "end_turn" };
  return { kind: "stop" };
}

export function derive(
  events: ReadonlyArray<LoggedEvent>,
  opts: DecideOptions,
): { view: LogView; step: Step } {
  const view = readLog(events);
  return { view, step: decide(view, opts) };
}
