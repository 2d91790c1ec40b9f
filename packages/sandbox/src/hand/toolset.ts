/**
 * The tools the hand serves: the SDK's agent toolset (`bash`, `read`, `write`, `edit`, `grep`) with our
 * Node-20-capable `glob`, and `runCall`, which turns one call into a result message.
 *
 * Invariants:
 * - `runCall` never rejects: a thrown ToolError becomes its own content with `is_error: true`; any other
 *   throw becomes `<tool>: <message>`; a call past its budget ends as `<tool>: timed out after N ms`.
 * - A bash call never runs longer than the call's budget: the model's `timeout_ms` is clamped to it.
 * - After a bash call that timed out or was cancelled, and before one that asks for a restart, every
 *   other process of the sandbox is killed (`kill(-1, SIGKILL)`: all processes this uid can signal except
 *   the hand and the PID-namespace init), so a fork bomb or a daemonised child does not outlive its shell.
 *   This runs only when `reapStrays` is set (the provider knows the hand has a PID namespace of its own)
 *   and never as uid 0.
 * - Results are capped at `maxOutputBytes` before they leave the hand.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { BetaRunnableTool, BetaToolRunContext } from "@anthropic-ai/sdk/lib/tools/BetaRunnableTool";
import { ToolError } from "@anthropic-ai/sdk/lib/tools/ToolError";
import { betaAgentToolset20260401 } from "@anthropic-ai/sdk/tools/agent-toolset/node";
import { globTool } from "./glob.js";
import type { CallMessage, ContentBlock, ResultMessage } from "./protocol.js";
import { truncateContent } from "./truncate.js";

export interface ToolsetConfig {
  workdir: string;
  maxOutputBytes: number;
  /** The complete environment of tool processes (replaces the hand's own). */
  toolEnv: Record<string, string>;
  /** Kill stray processes after a bash timeout/cancel/restart (only inside a private PID namespace). */
  reapStrays: boolean;
}

/** Extra time the SDK's own bash timeout gets before the hand's backstop timer answers instead. */
const BASH_BACKSTOP_MS = 1_000;

export interface Toolset {
  runCall(call: CallMessage, signal: AbortSignal): Promise<ResultMessage>;
  close(): Promise<void>;
}

function toBlocks(value: unknown): ContentBlock[] {
  if (typeof value === "string") return [{ type: "text", text: value }];
  if (!Array.isArray(value)) return [{ type: "text", text: JSON.stringify(value) ?? "" }];
  return value.map((block: unknown): ContentBlock => {
    const b = block as { type?: unknown; text?: unknown; source?: Record<string, unknown> };
    if (b.type === "text" && typeof b.text === "string") return { type: "text", text: b.text };
    const s = b.source;
    if (
      b.type === "image" &&
      s?.type === "base64" &&
      typeof s.media_type === "string" &&
      typeof s.data === "string"
    ) {
      return { type: "image", source: { type: "base64", media_type: s.media_type, data: s.data } };
    }
    return { type: "text", text: JSON.stringify(block) ?? "" };
  });
}

function errorBlocks(name: string, e: unknown): ContentBlock[] {
  if (e instanceof ToolError) return toBlocks(e.content);
  const msg = e instanceof Error ? e.message : String(e);
  return [{ type: "text", text: `${name}: ${msg}` }];
}

/** Other live processes in this PID namespace (pid 1 is the namespace's init). */
function otherProcesses(): number {
  try {
    return readdirSync("/proc").filter((d) => {
      if (!/^\d+$/.test(d) || d === "1" || Number(d) === process.pid) return false;
      try {
        // Zombies are already dead; the namespace's init reaps them.
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, "utf8"));
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

/**
 * Kills every other process of the sandbox. One kill(-1) is a snapshot: a process in the middle of
 * fork() can leave a child that missed it, so it repeats until nothing else is left (bounded).
 */
function reapStrays(): void {
  if (process.getuid?.() === 0 || process.pid === 1) return;
  for (let round = 0; round < 100; round++) {
    try {
      process.kill(-1, "SIGKILL");
    } catch {
      // ESRCH: nothing else was running
    }
    if (otherProcesses() === 0) return;
  }
}

export function createToolset(cfg: ToolsetConfig): Toolset {
  const ctx = { workdir: cfg.workdir, env: cfg.toolEnv };
  const tools = new Map<string, BetaRunnableTool>();
  for (const tool of betaAgentToolset20260401(ctx)) {
    if ("name" in tool) tools.set(tool.name, tool);
  }
  tools.set("glob", globTool(ctx));

  const runCall = async (call: CallMessage, outer: AbortSignal): Promise<ResultMessage> => {
    const tool = tools.get(call.name);
    const done = (content: ContentBlock[], isError: boolean): ResultMessage => ({
      type: "result",
      id: call.id,
      content: truncateContent(content, cfg.maxOutputBytes),
      is_error: isError,
    });
    if (!tool) return done([{ type: "text", text: `unknown tool ${call.name}` }], true);

    const isBash = call.name === "bash";
    const input: Record<string, unknown> = { ...call.input };
    if (isBash) {
      const asked = input.timeout_ms;
      input.timeout_ms =
        typeof asked === "number" && Number.isFinite(asked) && asked > 0
          ? Math.min(Math.floor(asked), call.timeout_ms)
          : call.timeout_ms;
    }

    const ac = new AbortController();
    const onOuterAbort = () => ac.abort(new Error("the call was cancelled"));
    outer.addEventListener("abort", onOuterAbort, { once: true });
    if (outer.aborted) onOuterAbort();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const deadline = new Promise<ResultMessage>((resolve) => {
      timer = setTimeout(
        () => {
          timedOut = true;
          ac.abort(new Error(`timed out after ${call.timeout_ms} ms`));
          resolve(
            done([{ type: "text", text: `${call.name}: timed out after ${call.timeout_ms} ms` }], true),
          );
        },
        call.timeout_ms + (isBash ? BASH_BACKSTOP_MS : 0),
      );
    });
    const cancelled = new Promise<ResultMessage>((resolve) => {
      ac.signal.addEventListener(
        "abort",
        () => {
          if (!timedOut)
            resolve(done([{ type: "text", text: `${call.name}: the call was cancelled` }], true));
        },
        { once: true },
      );
    });
    const context = {
      toolUse: { type: "tool_use", id: call.id, name: call.name, input },
      toolUseBlock: { type: "tool_use", id: call.id, name: call.name, input },
      signal: ac.signal,
    } as unknown as BetaToolRunContext;
    // A restart is a clean slate: the old shell and everything it left running go first.
    if (isBash && cfg.reapStrays && input.restart === true) reapStrays();
    const started = Date.now();
    const work = (async (): Promise<ResultMessage> => {
      try {
        return done(toBlocks(await tool.run(tool.parse(input), context)), false);
      } catch (e) {
        return done(errorBlocks(call.name, e), true);
      }
    })();
    try {
      const result = await Promise.race([work, deadline, cancelled]);
      if (isBash && cfg.reapStrays) {
        const ranOut = result.is_error && Date.now() - started >= (input.timeout_ms as number);
        if (ranOut || ac.signal.aborted) reapStrays();
      }
      return result;
    } finally {
      clearTimeout(timer);
      outer.removeEventListener("abort", onOuterAbort);
      if (!ac.signal.aborted) ac.abort();
    }
  };

  return {
    runCall,
    async close() {
      for (const tool of tools.values()) {
        try {
          await tool.close?.();
        } catch {
          // closing a dead shell may throw; nothing to do
        }
      }
    },
  };
}
