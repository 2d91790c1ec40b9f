/**
 * Runs one leased session until there is nothing left to do: read the log, decide (derive.ts),
 * act, append, repeat. Every append carries the lease epoch and a key derived from the log
 * position the decision was made on, so a retry or a takeover never duplicates an effect.
 *
 * Ends by releasing the lease (idle, or waiting on someone else), by handing the turn back
 * (shutdown), or silently when fenced (another worker owns the session now).
 */
import type { Bus } from "@tendon/bus";
import {
  AppError,
  type AppendItem,
  customToolHandName,
  type EventPayload,
  type LiveMessage,
  type LogPage,
  type ResolvedTool,
  SandboxManager,
  SessionErrorType,
  type SessionRuntime,
  type StopReason,
  sandboxHandName,
  type ToolResult,
  type Usage,
} from "@tendon/contracts";
import type { Clock, IdGen, Logger } from "@tendon/runtime";
import type { HarnessMetrics } from "../metrics.js";
import { type LlmPort, ModelCallError, type ModelContentBlock, type ModelResult } from "../model/port.js";
import { buildRequest, type ToolDefinitionSource } from "./context.js";
import { decide, type LogView, readLog, type ToolCall } from "./derive.js";
import { type RetryPolicy, SessionLogClient } from "./log-client.js";
import { type McpFailure, McpTools, mcpFailureOf } from "./mcp.js";

export interface DriverConfig {
  maxTokens: number;
  /** Wall-clock budget of one tool call on a hand. */
  toolDeadlineMs: number;
  /** Model retries after the first attempt before the turn gives up. */
  modelMaxRetries: number;
  modelBackoffBaseMs: number;
  modelBackoffMaxMs: number;
  busRetry: RetryPolicy;
  tools: ToolDefinitionSource;
}

export interface DriverDeps {
  bus: Bus;
  llm: LlmPort;
  clock: Clock;
  ids: IdGen;
  log: Logger;
  config: DriverConfig;
  metrics?: HarnessMetrics | undefined;
}

export type DriverOutcome = "done" | "fenced" | "handed_back";

/** Thrown inside the loop to stop and hand the session to another worker. */
class HandBack extends Error {}

type Preview = Extract<LiveMessage, { kind: "preview" }>["preview"];

const ZERO_USAGE: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

function isInputPending(e: unknown): boolean {
  return e instanceof AppError && e.code === "input_pending";
}

export class SessionDriver {
  private readonly logc: SessionLogClient;
  private current: AbortController | undefined;
  private provisioned = false;
  private readonly mcp: McpTools;
  private readonly selfHosted: boolean;

  constructor(
    private readonly d: DriverDeps,
    private readonly session: SessionRuntime,
    epoch: number,
    workerId: string,
    private readonly shutdown: AbortSignal,
    /** The log as the lease's grant read it, when the session-log sent it. */
    log?: LogPage,
  ) {
    this.logc = new SessionLogClient(d.bus, d.clock, d.config.busRetry, session.id, workerId, epoch);
    if (log) this.logc.seed(log);
    this.selfHosted = session.environment?.type === "self_hosted";
    this.mcp = new McpTools(d.bus, session);
  }

  async run(): Promise<DriverOutcome> {
    const sub = this.d.bus.subscribeLive(this.session.id, (m) => this.onLive(m));
    const onShutdown = () => this.current?.abort("shutdown");
    this.shutdown.addEventListener("abort", onShutdown, { once: true });
    try {
      for (;;) {
        if (this.shutdown.aborted) throw new HandBack();
        await this.logc.refresh();
        const view = readLog(this.logc.events);
        const step = decide(view, {
          selfHosted: this.selfHosted,
          handTools: await this.handTools(view.calls),
        });
        switch (step.kind) {
          case "stop":
            await this.logc.release(false);
            return "done";
          case "close_dangling":
            await this.logc.append([
              this.spanEnd(`abandon:${step.startId}`, step.startId, true, "abandoned", ZERO_USAGE),
            ]);
            break;
          case "interrupt":
            await this.logc.append([this.idle(`interrupt:${view.lastSeq}`, { type: "end_turn" })], {
              release: true,
            });
            return "done";
          case "end_turn": {
            const refusal = this.lastStop() === "refusal";
            const idle: EventPayload = refusal
              ? {
                  type: "session.status_idle",
                  stop_reason: { type: "refusal" },
                  stop_details: { type: "refusal", category: null, explanation: null },
                }
              : { type: "session.status_idle", stop_reason: { type: "end_turn" }, stop_details: null };
            if (await this.appendIdle([{ key: `idle:${this.logc.basisSeq}`, payload: idle }])) return "done";
            break;
          }
          case "await_client":
            if (step.alreadyIdle) {
              await this.logc.release(false);
              return "done";
            }
            if (
              await this.appendIdle([
                this.idle(`ra:${this.logc.basisSeq}`, { type: "requires_action", event_ids: step.eventIds }),
              ])
            ) {
              return "done";
            }
            break;
          case "await_worker":
            await this.logc.release(false);
            return "done";
          case "run_tools":
            await this.runTools(step.calls);
            break;
          case "call_model":
            await this.callModel(view, step.attempt);
            break;
        }
      }
    } catch (e) {
      if (e instanceof HandBack || (this.shutdown.aborted && !(e instanceof AppError))) {
        await this.logc.release(true);
        return "handed_back";
      }
      if (e instanceof Error && e.name === "Fenced") return "fenced";
      throw e;
    } finally {
      this.shutdown.removeEventListener("abort", onShutdown);
      sub.unsubscribe();
    }
  }

  private onLive(m: LiveMessage): void {
    if (m.kind === "event" && m.event.type === "user.interrupt") this.current?.abort("interrupt");
  }

  /** Appends a batch that ends the turn; false when new input arrived first (keep going). */
  private async appendIdle(items: AppendItem[], before: AppendItem[] = []): Promise<boolean> {
    try {
      await this.logc.append([...before, ...items], { release: true });
      return true;
    } catch (e) {
      if (!isInputPending(e)) throw e;
      if (before.length > 0) await this.logc.append(before);
      return false;
    }
  }

  private idle(key: string, stop_reason: StopReason): AppendItem {
    return { key, payload: { type: "session.status_idle", stop_reason, stop_details: null } };
  }

  private spanEnd(
    key: string,
    startId: string,
    isError: boolean,
    reason: string | undefined,
    usage: Usage,
  ): AppendItem {
    return {
      key,
      payload: {
        type: "span.model_request_end",
        model_request_start_id: startId,
        is_error: isError,
        model_usage: usage,
      },
      ...(reason ? { internal: { reason } } : {}),
    };
  }

  private lastStop(): string | undefined {
    for (let i = this.logc.events.length - 1; i >= 0; i--) {
      const e = this.logc.events[i]!;
      if (e.event.type === "span.model_request_end" && !e.event.is_error) {
        return typeof e.internal?.stop_reason === "string" ? e.internal.stop_reason : undefined;
      }
    }
    return undefined;
  }

  /** Tool calls this server runs: builtin calls in the session's sandbox, custom calls on hands. */
  private async runTools(calls: ToolCall[]): Promise<void> {
    for (const c of calls) {
      if (this.shutdown.aborted) throw new HandBack();
      const item = await this.runTool(c);
      if (item) await this.logc.append([item]);
    }
  }

  private async runTool(c: ToolCall): Promise<AppendItem | undefined> {
    const errorResult = (text: string): ToolResult => ({ content: [{ type: "text", text }], is_error: true });
    const key = `result:${c.id}`;
    if (c.permission === "deny" || c.confirmation === "deny") {
      const text =
        c.denyMessage ??
        `The tool call was denied${c.permission === "deny" ? ": this tool is not enabled for the session" : " by the user"}.`;
      return resultItem(c, key, errorResult(text));
    }
    if (c.kind === "custom") {
      try {
        const r = await this.execute(customToolHandName(c.name), c);
        return {
          key,
          payload: {
            type: "user.custom_tool_result",
            custom_tool_use_id: c.id,
            content: r.content,
            is_error: r.is_error,
          },
          internal: { hand: customToolHandName(c.name) },
        };
      } catch (e) {
        // The hand went away: leave the call to the client (the next step idles with requires_action).
        if (e instanceof AppError && e.details?.error_code === "hand_not_found") return undefined;
        throw e;
      }
    }
    if (c.kind === "mcp") return this.runMcp(c, key);
    if (this.session.environment?.type !== "cloud") {
      return resultItem(c, key, errorResult("This session's environment cannot run builtin tools."));
    }
    return resultItem(c, key, await this.executeInSandbox(c));
  }

  /** An MCP call through the credential-proxy; a connection or auth failure is also a session.error. */
  private async runMcp(c: ToolCall, key: string): Promise<AppendItem | undefined> {
    const server = c.mcpServer ?? "";
    try {
      return resultItem(c, key, await this.mcp.call(server, c.name, c.input, this.d.config.toolDeadlineMs));
    } catch (e) {
      if (!(e instanceof AppError) || e.code === "internal" || e.code === "invalid_request") throw e;
      const f = mcpFailureOf(server, e);
      await this.logc.append([this.mcpError(f, `mcp-call:${c.id}`)]);
      return resultItem(c, key, {
        content: [{ type: "text", text: `The MCP call failed: ${f.message}` }],
        is_error: true,
      });
    }
  }

  private mcpError(f: McpFailure, key: string): AppendItem {
    return {
      key,
      payload: {
        type: "session.error",
        error: {
          type: f.type,
          message: f.message,
          retry_status: { type: "retrying" },
          mcp_server_name: f.server,
        },
      },
    };
  }

  /** `execute` on the session's sandbox hand, provisioning it on first use (lazy). */
  private async executeInSandbox(c: ToolCall): Promise<ToolResult> {
    const name = sandboxHandName(this.session.id);
    let provisions = 0;
    let timeouts = 0;
    for (;;) {
      try {
        return await this.execute(name, c);
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        this.d.log.warn("sandbox execute failed", {
          session_id: this.session.id,
          tool_use_id: c.id,
          code: e.code,
          reason: e.message,
        });
        if (e.details?.error_code === "hand_not_found" && provisions < 2) {
          provisions++;
          const failed = await this.provisionSandbox(c.id);
          if (failed) return failed;
        } else if (e.code === "timeout" && timeouts < 2) {
          // Asked again with the same tool_use id, the hand attaches to the run in progress.
          timeouts++;
        } else {
          return {
            content: [{ type: "text", text: `No sandbox could run this tool call: ${e.message}` }],
            is_error: true,
          };
        }
      }
    }
  }

  private async execute(hand: string, c: ToolCall): Promise<ToolResult> {
    const reply = await this.d.bus.executeOnHand(hand, {
      v: 1,
      tool_use_id: c.id,
      session_id: this.session.id,
      tool: c.name,
      input: c.input,
      deadline_ms: this.d.config.toolDeadlineMs,
    });
    if (reply.status === "completed") return reply.result;
    return {
      content: [
        {
          type: "text",
          text: `The outcome of this tool call is unknown: the process running it was lost before it reported back (${reply.reason}). It was not run again; check the current state before retrying.`,
        },
      ],
      is_error: true,
    };
  }

  /**
   * Provisions the session's sandbox. A sandbox-manager that cannot be reached fails the turn (it is
   * retried on the next wake); one that answers with an error fails only this tool call, and a
   * repository that cannot be cloned is also a session.error of the spec's repository_* type.
   */ private async provisionSandbox(key: string): Promise<ToolResult | undefined> {
    try {
      await this.d.bus.request(SandboxManager.provision, {
        session_id: this.session.id,
        environment: this.session.environment,
        vault_ids: this.session.vault_ids,
        mcp_server_urls: this.session.agent.mcp_servers.map((m) => m.url),
      });
      return undefined;
    } catch (e) {
      if (!(e instanceof AppError) || e.code === "unavailable" || e.code === "timeout") throw e;
      this.d.log.error("sandbox provisioning failed", {
        session_id: this.session.id,
        code: e.code,
        reason: e.message,
      });
      const type = SessionErrorType.safeParse(e.details?.error_code);
      if (type.success && type.data.startsWith("repository_")) {
        await this.logc.append([
          {
            key: `provision-error:${key}`,
            payload: {
              type: "session.error",
              error: {
                type: type.data,
                message: e.message,
                retry_status: { type: "retrying" },
                repository_url: (e.details?.repository_url as string | undefined) ?? null,
              },
            },
          },
        ]);
      }
      return {
        content: [
          { type: "text", text: `The sandbox for this session could not be provisioned: ${e.message}` },
        ],
        is_error: true,
      };
    }
  }

  /** Custom tools among the open calls that a live hand serves. */
  private async handTools(calls: ToolCall[]): Promise<Set<string>> {
    const names = new Set(
      calls.filter((c) => c.kind === "custom" && !c.resolved && !c.cancelled).map((c) => c.name),
    );
    const out = new Set<string>();
    if (names.size === 0) return out;
    const registry = await this.d.bus.hands();
    for (const n of names) if (await registry.handForTool(n)) out.add(n);
    this.d.log.debug("custom tools served by hands", {
      session_id: this.session.id,
      asked: [...names],
      served: [...out],
    });
    return out;
  }

  private backoffMs(attempt: number): number {
    const { modelBackoffBaseMs: base, modelBackoffMaxMs: max } = this.d.config;
    const exp = Math.min(max, base * 2 ** (attempt - 1));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  private async callModel(view: LogView, attempt: number): Promise<void> {
    const ctl = new AbortController();
    this.current = ctl;
    try {
      if (attempt > 0) {
        try {
          await this.d.clock.sleep(this.backoffMs(attempt), ctl.signal);
        } catch {
          if (ctl.signal.reason === "shutdown") throw new HandBack();
          return; // interrupted while waiting: the next derive sees the interrupt
        }
      }
      const basis = this.logc.basisSeq;
      const running: AppendItem[] =
        view.status === "running"
          ? []
          : [{ key: `run:${basis}`, payload: { type: "session.status_running" } }];
      // Eager environments pay for the sandbox before the first token, as coupled designs do.
      const env = this.session.environment;
      const eager = env?.type === "cloud" && env.provisioning === "eager" && !this.provisioned;
      // Work before the request (a sandbox, MCP tool lists) shows the session running while it
      // happens; otherwise "running" and the request's start are one commit.
      if (running.length > 0 && (eager || this.mcp.hasToolsets)) await this.logc.append(running.splice(0));
      if (eager) {
        await this.provisionSandbox(`eager:${basis}`);
        this.provisioned = true;
      }
      if (this.mcp.hasToolsets) {
        const failures = await this.mcp.load();
        if (failures.length > 0)
          await this.logc.append(failures.map((f) => this.mcpError(f, `mcp-list:${f.server}:${basis}`)));
      }
      const request = buildRequest(this.session.agent, this.logc.events, {
        maxTokens: this.d.config.maxTokens,
        tools: this.d.config.tools,
        extraTools: this.mcp.definitions(),
      });
      const startId = this.d.ids.next("event");
      // The request goes out while its start is being logged (a commit less before the first
      // token). Its previews wait for that commit; if it fails (fenced), the request is aborted
      // and the append's error is what the turn sees.
      let held: Preview[] | undefined = [];
      const logged = this.logc
        .append([
          ...running,
          {
            key: `m:${basis}:start`,
            id: startId,
            payload: { type: "span.model_request_start" },
            internal: { basis_seq: basis },
          },
        ])
        .then(
          () => {
            for (const p of held ?? []) this.preview(p);
            held = undefined;
          },
          (e: unknown) => {
            ctl.abort("log");
            throw e;
          },
        );
      logged.catch(() => {}); // awaited below, on every path
      const preview = (p: Preview) => (held ? held.push(p) : this.preview(p));
      const previewIds = new Map<number, string>();
      const m = this.d.metrics;
      const firstToken = m?.timeToFirstToken.startTimer();
      let sawFirst = false;
      let result: ModelResult;
      try {
        result = await this.d.llm.stream(request, {
          signal: ctl.signal,
          observer: {
            onBlockStart: (index, type) => {
              if (!sawFirst) {
                sawFirst = true;
                firstToken?.();
              }
              if (type !== "text" && type !== "thinking") return;
              const id = this.d.ids.next("event");
              previewIds.set(index, id);
              const eventType = type === "text" ? "agent.message" : "agent.thinking";
              preview({ type: "event_start", event: { type: eventType, id } });
            },
            onTextDelta: (index, text) => {
              const id = previewIds.get(index);
              if (id)
                preview({
                  type: "event_delta",
                  event_id: id,
                  delta: { type: "content_delta", index: 0, content: { type: "text", text } },
                });
            },
          },
        });
      } catch (e) {
        await logged;
        if (ctl.signal.aborted) {
          m?.modelRequests.inc({ outcome: "interrupted" });
          return this.abortedCall(ctl, basis, startId);
        }
        return this.failedCall(e, basis, startId, attempt);
      }
      await logged;
      m?.modelRequests.inc({ outcome: "ok" });
      const items = this.outputItems(result.content, basis, previewIds);
      items.push({
        ...this.spanEnd(`m:${basis}:end`, startId, false, undefined, result.usage),
        internal: { stop_reason: result.stopReason },
      });
      await this.logc.append(items);
    } finally {
      this.current = undefined;
    }
  }

  private async abortedCall(ctl: AbortController, basis: number, startId: string): Promise<void> {
    if (ctl.signal.reason === "shutdown") throw new HandBack();
    await this.logc.append([this.spanEnd(`m:${basis}:end`, startId, true, "interrupted", ZERO_USAGE)]);
  }

  private async failedCall(e: unknown, basis: number, startId: string, attempt: number): Promise<void> {
    const err =
      e instanceof ModelCallError
        ? e
        : new ModelCallError("model_request_failed_error", String(e), true, undefined, { cause: e });
    this.d.metrics?.modelRequests.inc({ outcome: "error" });
    this.d.metrics?.modelErrors.inc({ type: err.type });
    this.d.log.warn("model call failed", {
      session_id: this.session.id,
      type: err.type,
      attempt,
      retryable: err.retryable,
    });
    const end = this.spanEnd(`m:${basis}:end`, startId, true, "failed", ZERO_USAGE);
    const giveUp = !err.retryable || attempt >= this.d.config.modelMaxRetries;
    const error = (status: "retrying" | "exhausted"): AppendItem => ({
      key: `m:${basis}:error`,
      payload: {
        type: "session.error",
        error: { type: err.type, message: err.message, retry_status: { type: status } },
      },
    });
    if (!giveUp) {
      await this.logc.append([
        end,
        error("retrying"),
        { key: `m:${basis}:resched`, payload: { type: "session.status_rescheduled" } },
      ]);
      return;
    }
    await this.appendIdle(
      [this.idle(`m:${basis}:idle`, { type: "retries_exhausted" })],
      [end, error("exhausted")],
    );
  }

  private outputItems(
    content: ModelContentBlock[],
    basis: number,
    previewIds: Map<number, string>,
  ): AppendItem[] {
    const custom = new Set(this.session.agent.tools.flatMap((t) => (t.type === "custom" ? [t.name] : [])));
    const builtin = enabledBuiltins(this.session.agent.tools);
    return content.flatMap((b, i): AppendItem[] => {
      const key = `m:${basis}:b${i}`;
      const id = previewIds.get(i);
      const withId = id ? { id } : {};
      switch (b.type) {
        case "text":
          return b.text.length === 0
            ? []
            : [
                {
                  key,
                  ...withId,
                  payload: { type: "agent.message", content: [{ type: "text", text: b.text }] },
                },
              ];
        case "thinking":
          return [
            {
              key,
              ...withId,
              payload: { type: "agent.thinking" },
              internal: { thinking: b.thinking, signature: b.signature },
            },
          ];
        case "redacted_thinking":
          return [{ key, payload: { type: "agent.thinking" }, internal: { redacted: b.data } }];
        case "tool_use": {
          const input = (b.input ?? {}) as Record<string, unknown>;
          if (custom.has(b.name))
            return [{ key, payload: { type: "agent.custom_tool_use", name: b.name, input } }];
          const mcp = this.mcp.lookup(b.name);
          if (mcp) {
            const ask = mcp.policy !== "always_allow";
            return [
              {
                key,
                payload: {
                  type: "agent.mcp_tool_use",
                  mcp_server_name: mcp.server,
                  name: mcp.tool,
                  input,
                  evaluated_permission: ask ? "ask" : "allow",
                  evaluation: { type: ask ? "always_ask" : "always_allow" },
                },
              },
            ];
          }
          const policy = builtin.get(b.name);
          if (policy) {
            const ask = policy === "always_ask";
            return [
              {
                key,
                payload: {
                  type: "agent.tool_use",
                  name: b.name,
                  input,
                  evaluated_permission: ask ? "ask" : "allow",
                  evaluation: { type: ask ? "always_ask" : "always_allow" },
                },
              },
            ];
          }
          return [
            { key, payload: { type: "agent.tool_use", name: b.name, input, evaluated_permission: "deny" } },
          ];
        }
        default:
          return [];
      }
    });
  }

  private preview(p: Preview): void {
    try {
      this.d.bus.publishLive(this.session.id, { kind: "preview", preview: p });
    } catch {
      // Previews are best effort (policy: a lost delta is superseded by the stored event).
    }
  }
}

/** Enabled builtin tools of the agent toolset and their permission policy type. */
export function enabledBuiltins(tools: ResolvedTool[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of tools) {
    if (t.type !== "agent_toolset_20260401") continue;
    for (const c of t.configs) if (c.enabled) out.set(c.name, c.permission_policy.type);
  }
  return out;
}

function resultItem(c: ToolCall, key: string, r: ToolResult): AppendItem {
  return c.kind === "mcp"
    ? {
        key,
        payload: {
          type: "agent.mcp_tool_result",
          mcp_tool_use_id: c.id,
          content: r.content,
          is_error: r.is_error,
        },
      }
    : {
        key,
        payload: { type: "agent.tool_result", tool_use_id: c.id, content: r.content, is_error: r.is_error },
      };
}
