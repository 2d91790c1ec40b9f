/**
 * The console's client for Tendon's public API: the same routes, headers and key every other
 * client uses. The event stream is read with `fetch` and a streaming body reader (EventSource
 * cannot send the `x-api-key` header), parsed as the SDK parses it: a message without an `event:`
 * line is dropped, `ping` is skipped, `error` ends the stream with an error.
 */
import type { Agent, Environment, Session, SessionEvent, SessionStatus } from "@tendon/contracts";

/** What the SDK sends on every Managed Agents call. */
const BETA = "managed-agents-2026-04-01";
const VERSION = "2023-06-01";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type?: string,
  ) {
    super(message);
  }
}

export interface Page<T> {
  data: T[];
  next_page: string | null;
}

/** Stream-only previews of an agent message being written (spec §4.2). */
export type Preview =
  | { type: "event_start"; event: { type: string; id: string } }
  | {
      type: "event_delta";
      event_id: string;
      delta: { type: "content_delta"; index: number; content: { type: "text"; text: string } };
    };

export type ClientEvent =
  | { type: "user.message"; content: Array<{ type: "text"; text: string }> }
  | { type: "user.interrupt" }
  | { type: "user.tool_confirmation"; tool_use_id: string; result: "allow" | "deny"; deny_message?: string };

export interface SessionFilter {
  statuses?: SessionStatus[];
  agentId?: string;
  includeArchived?: boolean;
  page?: string;
  limit?: number;
}

function query(params: Array<[string, string | undefined]>): string {
  const q = new URLSearchParams();
  for (const [k, v] of params) if (v !== undefined && v !== "") q.append(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export class Api {
  constructor(
    private readonly key: string,
    private readonly base = "",
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      "x-api-key": this.key,
      "anthropic-version": VERSION,
      "anthropic-beta": BETA,
      accept: "application/json",
      ...extra,
    };
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: this.headers(body === undefined ? {} : { "content-type": "application/json" }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const err = (json as { error?: { message?: string; type?: string } } | null)?.error;
      throw new ApiError(res.status, err?.message ?? `${res.status} ${res.statusText}`, err?.type);
    }
    return json as T;
  }

  listSessions(f: SessionFilter): Promise<Page<Session> & { prev_page: string | null }> {
    return this.call(
      "GET",
      `/v1/sessions${query([
        ...(f.statuses ?? []).map((s): [string, string] => ["statuses[]", s]),
        ["agent_id", f.agentId],
        ["include_archived", f.includeArchived ? "true" : undefined],
        ["limit", String(f.limit ?? 50)],
        ["page", f.page],
      ])}`,
    );
  }

  listAgents(): Promise<Page<Agent>> {
    return this.call("GET", "/v1/agents?limit=100");
  }

  session(id: string): Promise<Session> {
    return this.call("GET", `/v1/sessions/${encodeURIComponent(id)}`);
  }

  environment(id: string): Promise<Environment> {
    return this.call("GET", `/v1/environments/${encodeURIComponent(id)}`);
  }

  /** Every event of the session, oldest first, following `next_page`. */
  async allEvents(id: string, signal?: AbortSignal): Promise<SessionEvent[]> {
    const out: SessionEvent[] = [];
    let page: string | undefined;
    for (;;) {
      const r = await this.call<Page<SessionEvent>>(
        "GET",
        `/v1/sessions/${encodeURIComponent(id)}/events${query([
          ["limit", "1000"],
          ["page", page],
        ])}`,
        undefined,
        signal,
      );
      out.push(...r.data);
      if (!r.next_page) return out;
      page = r.next_page;
    }
  }

  send(id: string, events: ClientEvent[]): Promise<{ data: SessionEvent[] }> {
    return this.call("POST", `/v1/sessions/${encodeURIComponent(id)}/events`, { events });
  }

  /**
   * Opens the session's event stream and calls `onMessage` for each event or preview until the
   * server closes it (resolves) or it fails (rejects). `onOpen` runs once the headers arrived: the
   * subscription exists from then on, so a history read after it misses nothing.
   */
  async stream(
    id: string,
    handlers: { onOpen(): void; onMessage(type: string, data: unknown): void },
    signal: AbortSignal,
  ): Promise<void> {
    const res = await fetch(
      `${this.base}/v1/sessions/${encodeURIComponent(id)}/events/stream?event_deltas[]=agent.message`,
      { headers: this.headers({ accept: "text/event-stream" }), signal },
    );
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => "");
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {}
      throw new ApiError(res.status, message);
    }
    handlers.onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event: string | undefined;
    let data: string[] = [];
    const dispatch = () => {
      const name = event;
      const payload = data.join("\n");
      event = undefined;
      data = [];
      if (!name || name === "ping" || payload === "") return;
      const parsed: unknown = JSON.parse(payload);
      if (name === "error") {
        const e = (parsed as { error?: { message?: string } }).error;
        throw new ApiError(0, e?.message ?? "stream error");
      }
      handlers.onMessage(name, parsed);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "") dispatch();
        else if (line.startsWith(":")) continue;
        else {
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          let v = i < 0 ? "" : line.slice(i + 1);
          if (v.startsWith(" ")) v = v.slice(1);
          if (field === "event") event = v;
          else if (field === "data") data.push(v);
        }
      }
    }
  }
}
