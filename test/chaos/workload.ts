/**
 * The chaos workload: scripted two-turn sessions that use every kind of tool, and the SDK-driven
 * client of each, which must get its session to the end through any fault.
 *
 * Turn 1: a streamed text + a sandbox `bash` call → a custom tool (`lookup`, answered by the
 * client) → `write` under always_ask (confirmed by the client) → an MCP tool (`tools__echo`) →
 * "DONE-1". Turn 2: another `bash` call → "DONE-2". Some steps fail first (a 529, or a stream dropped after a chunk),
 * chosen by the seed.
 *
 * The client (Driver) derives what to send from the events it has seen, so it can be killed,
 * disconnected or lied to by a dying gateway and still converge: every send carries an
 * idempotency key (a retry never duplicates), the SSE stream is reopened on any error and then
 * backfilled from the list endpoint (deduped by id), and a quiet stream triggers a backfill too.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { SessionHistory } from "./checker.js";
import type { Rng } from "./rng.js";

type Event = { id: string; type: string } & Record<string, unknown>;

export interface SessionPlan {
  tag: string;
  model: string;
  script: { steps: unknown[] };
  expected: SessionHistory["expected"];
}

export function planSession(index: number, runTag: string, rng: Rng, faultRate: number): SessionPlan {
  const tag = `${runTag}-${index}`;
  const latency = { first_token_ms: 20, per_token_ms: 10 };
  const step = (content: unknown[]) => {
    const s: Record<string, unknown> = { content, latency };
    if (rng.next() < faultRate) {
      s.failures = [rng.next() < 0.5 ? { status: 529 } : { drop_after_chunks: 1 }];
    }
    return s;
  };
  const starting = `Starting ${tag}: streaming a few words so that a fault can land mid-stream.`;
  const steps = [
    step([
      { type: "text", text: starting },
      { type: "tool_use", name: "bash", input: { command: `echo sandbox-${tag}; sleep 1` } },
    ]),
    step([{ type: "tool_use", name: "lookup", input: { key: tag } }]),
    step([{ type: "tool_use", name: "write", input: { file_path: `/workspace/${tag}.txt`, content: tag } }]),
    step([{ type: "tool_use", name: "tools__echo", input: { text: `mcp-${tag}` } }]),
    step([{ type: "text", text: `DONE-1 ${tag}` }]),
    // Turn 2 calls the sandbox again, so tool calls are in flight late in the run too.
    step([{ type: "tool_use", name: "bash", input: { command: `echo again-${tag}; sleep 1` } }]),
    step([{ type: "text", text: `DONE-2 ${tag}` }]),
  ];
  return {
    tag,
    model: `chaos-${tag}`,
    script: { steps },
    expected: {
      agentTexts: [starting, `DONE-1 ${tag}`, `DONE-2 ${tag}`],
      finalText: `DONE-2 ${tag}`,
      toolUses: { builtin: 3, custom: 1, mcp: 1 },
    },
  };
}

export function agentParams(model: string, mcpUrl: string) {
  return {
    name: model,
    model,
    mcp_servers: [{ type: "url" as const, name: "tools", url: mcpUrl }],
    tools: [
      {
        type: "agent_toolset_20260401" as const,
        default_config: { permission_policy: { type: "always_allow" as const } },
        configs: [{ name: "write" as const, permission_policy: { type: "always_ask" as const } }],
      },
      {
        type: "custom" as const,
        name: "lookup",
        description: "Looks a key up on the client.",
        input_schema: { type: "object" as const, properties: { key: { type: "string" } } },
      },
      {
        type: "mcp_toolset" as const,
        mcp_server_name: "tools",
        default_config: { permission_policy: { type: "always_allow" as const } },
      },
    ],
  };
}

export interface DriverDeps {
  /** Clients for each gateway; a failed call moves to the next. */
  clients: () => Anthropic[];
  log: (msg: string) => void;
  /** A stream with no event for this long is backfilled from the list endpoint. */
  quietMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `fn` on each gateway in turn until one answers; 4xx other than 404/409/429 are final. */
export async function onAnyGateway<T>(
  deps: DriverDeps,
  start: number,
  fn: (c: Anthropic) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const clients = deps.clients();
    const client = clients[(start + attempt) % clients.length]!;
    try {
      return await fn(client);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (
        status !== undefined &&
        status >= 400 &&
        status < 500 &&
        status !== 404 &&
        status !== 408 &&
        status !== 429
      ) {
        throw err;
      }
      if (attempt > 400) throw err;
      // A gateway or session-log is down for a moment: back off a little, then try the next one.
      await sleep(Math.min(50 * (attempt + 1), 500));
    }
  }
}

export class Driver {
  readonly sent: SessionHistory["clientSent"] = [];
  readonly sseIds: string[] = [];
  readonly seen = new Map<string, Event>();
  readonly order: string[] = [];
  sseReconnects = 0;
  readonly reconnectReasons = new Map<string, number>();
  backfills = 0;
  done = false;
  lastType = "";
  /** Sandbox tool calls (`bash`) seen without their result yet. */
  private readonly running = new Set<string>();
  private stream: { controller: AbortController } | undefined;
  private readonly sending = new Set<string>();
  private readonly sentKeys = new Set<string>();
  private wake: (() => void) | undefined;

  constructor(
    readonly sessionId: string,
    readonly plan: SessionPlan,
    private readonly deps: DriverDeps,
    private readonly gateway: number,
  ) {}

  /** Inside a sandbox tool call, as far as this client has seen. */
  get inTool(): boolean {
    return this.running.size > 0;
  }

  /** Drops the live stream (a fault): the driver reconnects and backfills. */
  dropStream(): void {
    this.stream?.controller.abort();
  }

  async run(deadline: number): Promise<void> {
    const streaming = this.streamLoop(deadline);
    await this.send("user.message", `task-1 ${this.plan.tag}`, `m1-${this.plan.tag}`, {
      type: "user.message",
      content: [{ type: "text", text: `task-1 ${this.plan.tag}` }],
    });
    while (!this.done && Date.now() < deadline) {
      await this.react();
      if (this.done) break;
      const before = this.seen.size;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, this.deps.quietMs);
      });
      this.wake = undefined;
      // Nothing new for a while: the live stream may have lost something; read the log.
      if (this.seen.size === before) await this.backfill().catch(() => {});
    }
    this.dropStream();
    await streaming;
  }
  private observe(e: Event): void {
    this.sseIds.push(e.id);
    if (!this.seen.has(e.id)) {
      this.seen.set(e.id, e);
      this.order.push(e.id);
      this.lastType = e.type;
      if (e.type === "agent.tool_use" && e.name === "bash") this.running.add(e.id);
      if (e.type === "agent.tool_result") this.running.delete(String(e.tool_use_id));
    }
    this.wake?.();
  }

  private async streamLoop(deadline: number): Promise<void> {
    let first = true;
    let failures = 0;
    while (!this.done && Date.now() < deadline) {
      const controller = new AbortController();
      this.stream = { controller };
      try {
        const clients = this.deps.clients();
        const client = clients[(this.gateway + this.sseReconnects) % clients.length]!;
        const stream = await client.beta.sessions.events.stream(
          this.sessionId,
          {},
          { signal: controller.signal },
        );
        // Opened before the backfill, so nothing falls between the two.
        if (!first) await this.backfill();
        first = false;
        failures = 0;
        for await (const e of stream) {
          if (e.type === "event_start" || e.type === "event_delta") continue;
          this.observe(e as unknown as Event);
          if (this.done) break;
        }
      } catch (err) {
        // dropped, killed gateway, aborted: reconnect below
        const why = `${String((err as Error)?.message ?? err).slice(0, 60)} @${Math.floor(Date.now() / 5000) * 5}`;
        this.reconnectReasons.set(why, (this.reconnectReasons.get(why) ?? 0) + 1);
      }
      if (this.done) return;
      this.sseReconnects++;
      failures++;
      // Back off while the gateway or the log is down; reconnect at once after a plain drop.
      await sleep(Math.min(1_000, 25 * 2 ** Math.min(failures, 6)));
    }
  }

  /** Reads the whole log (all pages) through the list endpoint. */
  async backfill(): Promise<void> {
    this.backfills++;
    const events = await onAnyGateway(this.deps, this.gateway, async (c) => {
      const all: Event[] = [];
      for await (const e of c.beta.sessions.events.list(this.sessionId, { limit: 100 }))
        all.push(e as unknown as Event);
      return all;
    });
    for (const e of events) this.observe(e);
  }

  private async react(): Promise<void> {
    const events = this.order.map((id) => this.seen.get(id)!);
    const answered = new Set(
      events
        .filter((e) => e.type === "user.custom_tool_result" || e.type === "user.tool_confirmation")
        .map((e) => String(e.custom_tool_use_id ?? e.tool_use_id)),
    );
    for (const e of events) {
      if (e.type === "agent.custom_tool_use" && !answered.has(e.id)) {
        await this.send("user.custom_tool_result", e.id, `ctr-${e.id}`, {
          type: "user.custom_tool_result",
          custom_tool_use_id: e.id,
          content: [{ type: "text", text: `value for ${e.id}` }],
        });
      }
      if (e.type === "agent.tool_use" && e.evaluated_permission === "ask" && !answered.has(e.id)) {
        await this.send("user.tool_confirmation", e.id, `conf-${e.id}`, {
          type: "user.tool_confirmation",
          tool_use_id: e.id,
          result: "allow",
        });
      }
    }
    const ends = events.filter(
      (e) =>
        e.type === "session.status_idle" &&
        (e.stop_reason as { type?: string } | undefined)?.type === "end_turn",
    ).length;
    if (ends >= 1) {
      await this.send("user.message", `task-2 ${this.plan.tag}`, `m2-${this.plan.tag}`, {
        type: "user.message",
        content: [{ type: "text", text: `task-2 ${this.plan.tag}` }],
      });
    }
    if (ends >= 2) this.done = true;
  }
  private async send(
    type: string,
    marker: string,
    key: string,
    event: Record<string, unknown>,
  ): Promise<void> {
    if (this.sentKeys.has(key) || this.sending.has(key)) return;
    this.sending.add(key);
    try {
      await onAnyGateway(this.deps, this.gateway, (c) =>
        c.beta.sessions.events.send(
          this.sessionId,
          { events: [event as never] },
          { headers: { "Idempotency-Key": key }, maxRetries: 0 },
        ),
      );
      this.sentKeys.add(key);
      this.sent.push({ type, marker });
    } catch (err) {
      // Refused for good: the checker then finds it missing from the log and says so.
      this.deps.log(`${this.sessionId}: ${type} refused: ${String(err).slice(0, 200)}`);
      this.sentKeys.add(key);
      this.sent.push({ type, marker });
    } finally {
      this.sending.delete(key);
    }
  }

  history(log: SessionHistory["log"]): SessionHistory {
    return {
      sessionId: this.sessionId,
      log,
      expected: this.plan.expected,
      clientSent: this.sent,
      sseIds: this.sseIds,
    };
  }
}
