/**
 * Hands: anything that runs tool calls, reached by name through `execute(name, input)`.
 *
 * - A hand serves `hand.<name>.execute` (request/reply, queue group per name). "No responders"
 *   means no live hand of that name.
 * - Hands announce themselves in the registry (JetStream KV, bucket TTL) on a heartbeat; silent
 *   hands expire. Custom-tool hands also index each tool they serve, so the brain can route a
 *   custom tool call to a hand instead of waiting for the client.
 * - `execute` carries the `tool_use` event id: the hand's execution record (KV) makes a repeat
 *   return the first result, a repeat during the run attach to it, and a repeat after the runner
 *   was lost report "outcome unknown" instead of running the tool again.
 */
import { z } from "zod";
import { ToolResultContentBlock } from "../api/events.js";
import { EventId, SessionId } from "../common.js";

export const ToolResult = z.object({
  content: z.array(ToolResultContentBlock),
  is_error: z.boolean(),
});
export type ToolResult = z.infer<typeof ToolResult>;

export const HandExecuteRequest = z.object({
  v: z.literal(1),
  /** Idempotency key: the `agent.*tool_use` event id. */
  tool_use_id: EventId,
  session_id: SessionId.optional(),
  tool: z.string().min(1).max(128),
  input: z.record(z.string(), z.unknown()),
  /** Wall-clock budget for the call; the hand reports a timeout as a tool error. */
  deadline_ms: z.number().int().positive().max(3_600_000),
});
export type HandExecuteRequest = z.infer<typeof HandExecuteRequest>;

export const HandExecuteReply = z.discriminatedUnion("status", [
  z.object({ status: z.literal("completed"), result: ToolResult, instance: z.string() }),
  /** The call was started by a runner that is gone; it is not run again. */
  z.object({ status: z.literal("unknown"), reason: z.string() }),
]);
export type HandExecuteReply = z.infer<typeof HandExecuteReply>;

export const HandKind = z.enum(["sandbox", "custom"]);

export const HandAnnouncement = z.object({
  name: z.string(),
  kind: HandKind,
  instance: z.string(),
  tools: z.array(z.string()),
  session_id: z.string().optional(),
  provider: z.string().optional(),
  sandbox_id: z.string().optional(),
  started_at: z.string(),
  last_seen: z.string(),
});
export type HandAnnouncement = z.infer<typeof HandAnnouncement>;

export const ExecutionRecord = z.object({
  state: z.enum(["running", "done"]),
  instance: z.string(),
  tool: z.string(),
  started_at: z.string(),
  result: ToolResult.optional(),
});
export type ExecutionRecord = z.infer<typeof ExecutionRecord>;

/**
 * Hand names are `<kind>.<name>`: the kind is its own subject token so credentials can be scoped
 * per kind (a tool-serving machine gets `hand.tool.*`, the sandbox-manager `hand.sandbox.*`).
 */
export function sandboxHandName(sessionId: string): string {
  return `sandbox.${sessionId}`;
}

/** The hand that serves a custom tool by name. */
export function customToolHandName(tool: string): string {
  return `tool.${tool}`;
}

export const SandboxInfo = z.object({
  session_id: SessionId,
  sandbox_id: z.string(),
  hand: z.string(),
  provider: z.string(),
  instance: z.string(),
  state: z.enum(["starting", "ready", "dead"]),
  created_at: z.string(),
  last_used_at: z.string(),
  start_ms: z.number(),
});
export type SandboxInfo = z.infer<typeof SandboxInfo>;
