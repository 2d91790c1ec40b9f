/**
 * The session page's model: folds a session's events (oldest first) into spans on a time axis —
 * model requests (`span.model_request_start` … `span.model_request_end`) and tool calls (a tool use
 * … its result) — plus point markers (messages, interrupts, errors) and the tool calls waiting for
 * the user's confirmation. Pure: no DOM, so it is unit-tested on its own.
 *
 * Who served a tool call is derived from how Tendon routes it, from public events only:
 * - builtin tools (`agent.tool_use`) run in the session's sandbox, the hand `sandbox.<session id>`,
 *   in a cloud environment; in a self-hosted one, the environment's own worker answers with
 *   `user.tool_result`;
 * - custom tools run on the hand `tool.<name>` when one serves the tool (the result is appended
 *   while the session runs); otherwise the session idles with `requires_action` and the client
 *   answers;
 * - MCP tools are called by the credential-proxy on the named MCP server.
 */
import type { SessionEvent } from "@tendon/contracts";

export type SpanState = "open" | "waiting" | "ok" | "error" | "cancelled";

export interface Span {
  /** The id of the event that opened it. */
  id: string;
  kind: "model" | "tool";
  label: string;
  start: number;
  /** `null` while open or waiting. */
  end: number | null;
  state: SpanState;
  /** The event that closed it, when one did. */
  endEventId?: string;
  /** For tool calls: which hand or party served (or will serve) it. */
  servedBy?: string;
  /** For model requests: token usage once it ended. */
  usage?: { input_tokens: number; output_tokens: number };
}

export interface Marker {
  id: string;
  at: number;
  kind: "user" | "interrupt" | "error" | "idle" | "running" | "terminated";
  label: string;
}

export interface PendingConfirmation {
  toolUseId: string;
  name: string;
  input: unknown;
}

export interface Timeline {
  spans: Span[];
  markers: Marker[];
  pending: PendingConfirmation[];
  /** Earliest time on the axis (ms since the epoch); `undefined` without events. */
  start: number | undefined;
  /** Latest event time. */
  last: number | undefined;
  /** Tool-use event id → how it was served (also on the span). */
  servedBy: Map<string, string>;
}

export interface TimelineContext {
  sessionId: string;
  environmentType?: "cloud" | "self_hosted" | undefined;
}

type AnyEvent = SessionEvent & Record<string, unknown>;

const time = (e: { processed_at: string }) => Date.parse(e.processed_at);

const textOf = (content: unknown): string =>
  Array.isArray(content)
    ? content
        .map((b: { type?: string; text?: string }) => (b?.type === "text" ? (b.text ?? "") : ""))
        .join("")
    : "";

export function shorten(s: string, n = 80): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** The event id a result event answers, or `undefined` for other events. */
export function resultFor(e: SessionEvent): string | undefined {
  const r = e as AnyEvent;
  switch (e.type) {
    case "agent.tool_result":
    case "user.tool_result":
      return r.tool_use_id as string;
    case "user.custom_tool_result":
      return r.custom_tool_use_id as string;
    case "agent.mcp_tool_result":
      return r.mcp_tool_use_id as string;
    default:
      return undefined;
  }
}

export function isToolUse(e: SessionEvent): boolean {
  return e.type === "agent.tool_use" || e.type === "agent.custom_tool_use" || e.type === "agent.mcp_tool_use";
}

/** True for events the console highlights as errors. */
export function isErrorEvent(e: SessionEvent): boolean {
  const r = e as AnyEvent;
  if (e.type === "session.error") return true;
  if (resultFor(e) !== undefined) return r.is_error === true;
  if (e.type === "span.model_request_end") return r.is_error === true;
  if (e.type === "session.status_idle") {
    const t = (r.stop_reason as { type?: string } | undefined)?.type;
    return t === "retries_exhausted" || t === "budget_reached" || t === "refusal";
  }
  return false;
}

export function buildTimeline(events: readonly SessionEvent[], ctx: TimelineContext): Timeline {
  const spans: Span[] = [];
  const markers: Marker[] = [];
  const byId = new Map<string, Span>();
  const servedBy = new Map<string, string>();
  const confirmed = new Set<string>();
  const asks = new Map<string, PendingConfirmation>();
  /** Custom tool calls the session idled on: the client, not a hand, answers them. */
  const handedToClient = new Set<string>();
  let requests = 0;
  let start: number | undefined;
  let last: number | undefined;

  const closeOpen = (at: number, keep: ReadonlySet<string>) => {
    for (const s of spans) {
      if ((s.state === "open" || s.state === "waiting") && !keep.has(s.id)) {
        s.state = "cancelled";
        s.end = at;
      }
    }
  };

  for (const ev of events) {
    const e = ev as AnyEvent;
    const at = time(ev);
    if (Number.isNaN(at)) continue;
    start = start === undefined ? at : Math.min(start, at);
    last = last === undefined ? at : Math.max(last, at);
    switch (ev.type) {
      case "span.model_request_start": {
        requests++;
        const s: Span = {
          id: ev.id,
          kind: "model",
          label: `model request ${requests}`,
          start: at,
          end: null,
          state: "open",
        };
        spans.push(s);
        byId.set(ev.id, s);
        break;
      }
      case "span.model_request_end": {
        const s = byId.get(e.model_request_start_id as string);
        if (!s) break;
        s.end = at;
        s.endEventId = ev.id;
        s.state = e.is_error === true ? "error" : "ok";
        const u = e.model_usage as { input_tokens?: number; output_tokens?: number } | undefined;
        if (u) s.usage = { input_tokens: u.input_tokens ?? 0, output_tokens: u.output_tokens ?? 0 };
        break;
      }
      case "agent.tool_use":
      case "agent.custom_tool_use":
      case "agent.mcp_tool_use": {
        const name = String(e.name ?? "tool");
        let served: string;
        if (ev.type === "agent.mcp_tool_use")
          served = `MCP server ${String(e.mcp_server_name)} (credential-proxy)`;
        else if (ev.type === "agent.custom_tool_use") served = `hand tool.${name}`;
        else if (ctx.environmentType === "self_hosted") served = "self-hosted environment worker";
        else served = `sandbox hand sandbox.${ctx.sessionId}`;
        const ask = e.evaluated_permission === "ask";
        const s: Span = {
          id: ev.id,
          kind: "tool",
          label: ev.type === "agent.mcp_tool_use" ? `${String(e.mcp_server_name)}/${name}` : name,
          start: at,
          end: null,
          state: ask ? "waiting" : "open",
          servedBy: served,
        };
        if (ask) asks.set(ev.id, { toolUseId: ev.id, name: s.label, input: e.input });
        spans.push(s);
        byId.set(ev.id, s);
        servedBy.set(ev.id, served);
        break;
      }
      case "user.tool_confirmation": {
        const id = e.tool_use_id as string;
        confirmed.add(id);
        const s = byId.get(id);
        if (s?.state === "waiting") s.state = "open";
        break;
      }
      case "user.message":
        markers.push({ id: ev.id, at, kind: "user", label: shorten(textOf(e.content), 60) || "message" });
        break;
      case "user.interrupt":
        markers.push({ id: ev.id, at, kind: "interrupt", label: "interrupt" });
        break;
      case "session.error": {
        const err = e.error as { type?: string; message?: string } | undefined;
        markers.push({
          id: ev.id,
          at,
          kind: "error",
          label: `${err?.type ?? "error"}: ${err?.message ?? ""}`,
        });
        break;
      }
      case "session.status_running":
        markers.push({ id: ev.id, at, kind: "running", label: "running" });
        break;
      case "session.status_idle": {
        const stop = e.stop_reason as { type?: string; event_ids?: string[] } | undefined;
        const waiting = new Set(stop?.type === "requires_action" ? (stop.event_ids ?? []) : []);
        for (const id of waiting) {
          const s = byId.get(id);
          if (s && (s.state === "open" || s.state === "waiting")) s.state = "waiting";
          if (s?.servedBy?.startsWith("hand tool.")) {
            handedToClient.add(id);
            s.servedBy = "the client (no hand serves this tool)";
            servedBy.set(id, s.servedBy);
          }
        }
        closeOpen(at, waiting);
        markers.push({ id: ev.id, at, kind: "idle", label: `idle: ${stop?.type ?? "?"}` });
        break;
      }
      case "session.status_terminated":
        closeOpen(at, new Set());
        markers.push({ id: ev.id, at, kind: "terminated", label: "terminated" });
        break;
      default: {
        const target = resultFor(ev);
        if (target === undefined) break;
        const s = byId.get(target);
        if (!s) break;
        s.end = at;
        s.endEventId = ev.id;
        s.state = e.is_error === true ? "error" : "ok";
        if (ev.type === "user.tool_result" && !s.servedBy?.startsWith("self-hosted")) {
          s.servedBy = "self-hosted environment worker";
          servedBy.set(target, s.servedBy);
        }
        if (ev.type === "user.custom_tool_result" && handedToClient.has(target)) {
          s.servedBy = "the client";
          servedBy.set(target, s.servedBy);
        }
      }
    }
  }

  const pending = [...asks.values()].filter((p) => {
    const s = byId.get(p.toolUseId);
    return !confirmed.has(p.toolUseId) && s?.state === "waiting";
  });
  return { spans, markers, pending, start, last, servedBy };
}

/** Tick spacing (ms) that puts at most `maxTicks` ticks on a range of `rangeMs`. */
export function tickStep(rangeMs: number, maxTicks = 8): number {
  const steps = [
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000,
  ];
  for (const s of steps) if (rangeMs / s <= maxTicks) return s;
  let s = 600_000;
  while (rangeMs / s > maxTicks) s *= 2;
  return s;
}

export function formatOffset(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1_000);
  return `${m}m${s.toString().padStart(2, "0")}s`;
}
