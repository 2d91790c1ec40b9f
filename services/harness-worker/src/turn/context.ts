/**
 * The log → a Messages API request. Pure. Decides what enters the model's context; the log keeps
 * everything.
 *
 * Invariants:
 * - Tool-use ids sent to the model are the `agent.*_tool_use` event ids, so results pair up
 *   without storing the model's own ids.
 * - Every tool_use the model sees has a tool_result in the next user turn: calls cancelled by an
 *   interrupt get an error result saying so.
 * - Messages alternate user/assistant; consecutive turns of one role are merged, tool results first.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { LoggedEvent, ResolvedTool, SessionAgent, ToolResultContentBlock } from "@tendon/contracts";
import type { ModelRequest } from "../model/port.js";
import { mcpToolName } from "./mcp.js";

type Block = Anthropic.ContentBlockParam;
type Message = Anthropic.MessageParam;

/** Tool definitions for the agent's tools, as the model sees them. */
export type ToolDefinitionSource = (tools: ResolvedTool[]) => Anthropic.Tool[];

export const customToolDefinitions: ToolDefinitionSource = (tools) =>
  tools.flatMap((t) =>
    t.type === "custom"
      ? [
          {
            name: t.name,
            description: t.description,
            input_schema: t.input_schema as Anthropic.Tool.InputSchema,
          },
        ]
      : [],
  );

function toolResultContent(
  content: ToolResultContentBlock[] | undefined,
): Anthropic.ToolResultBlockParam["content"] {
  if (!content || content.length === 0) return "(no output)";
  return content as Anthropic.ToolResultBlockParam["content"];
}

class Transcript {
  readonly messages: Message[] = [];
  /** tool_use ids the model has seen that have no result yet. */
  private readonly open = new Set<string>();

  add(role: "user" | "assistant", blocks: Block[]): void {
    if (blocks.length === 0) return;
    const last = this.messages.at(-1);
    if (last && last.role === role) {
      const prev = last.content as Block[];
      const merged = role === "user" ? orderToolResultsFirst([...prev, ...blocks]) : [...prev, ...blocks];
      last.content = merged;
    } else {
      this.messages.push({ role, content: role === "user" ? orderToolResultsFirst(blocks) : blocks });
    }
  }

  toolUse(id: string, name: string, input: unknown): void {
    this.open.add(id);
    this.add("assistant", [{ type: "tool_use", id, name, input }]);
  }

  toolResult(id: string, content: Anthropic.ToolResultBlockParam["content"], isError: boolean): void {
    if (!this.open.delete(id)) return;
    this.add("user", [{ type: "tool_result", tool_use_id: id, content, is_error: isError }]);
  }

  /** Closes every open call with an error result (interrupted, or answered nowhere). */
  closeOpen(reason: string): void {
    for (const id of [...this.open]) this.toolResult(id, reason, true);
  }

  get hasOpen(): boolean {
    return this.open.size > 0;
  }
}

function orderToolResultsFirst(blocks: Block[]): Block[] {
  const results = blocks.filter((b) => b.type === "tool_result");
  return results.length === 0 ? blocks : [...results, ...blocks.filter((b) => b.type !== "tool_result")];
}

export function buildMessages(events: ReadonlyArray<LoggedEvent>): Message[] {
  const t = new Transcript();
  for (const { event: e, internal } of events) {
    switch (e.type) {
      case "user.message": {
        if (t.hasOpen)
          t.closeOpen("The call was cancelled: the user sent a new message instead of a result.");
        const blocks = e.content.filter((b) => b.type !== "redacted") as Block[];
        t.add("user", blocks);
        break;
      }
      case "user.interrupt":
        t.closeOpen("The call was cancelled: the user interrupted the session.");
        break;
      case "agent.thinking": {
        const thinking = internal?.thinking;
        const signature = internal?.signature;
        if (typeof thinking === "string" && typeof signature === "string") {
          t.add("assistant", [{ type: "thinking", thinking, signature }]);
        }
        break;
      }
      case "agent.message": {
        const text = e.content.flatMap((b) =>
          b.type === "text" && b.text.length > 0 ? [{ type: "text" as const, text: b.text }] : [],
        );
        t.add("assistant", text);
        break;
      }
      case "agent.custom_tool_use":
      case "agent.tool_use":
        t.toolUse(e.id, e.name, e.input);
        break;
      case "agent.mcp_tool_use":
        t.toolUse(e.id, mcpToolName(e.mcp_server_name, e.name), e.input);
        break;
      case "user.custom_tool_result":
        t.toolResult(e.custom_tool_use_id, toolResultContent(e.content), e.is_error === true);
        break;
      case "agent.tool_result":
      case "user.tool_result":
        t.toolResult(e.tool_use_id, toolResultContent(e.content), e.is_error === true);
        break;
      case "agent.mcp_tool_result":
        t.toolResult(e.mcp_tool_use_id, toolResultContent(e.content), e.is_error === true);
        break;
      default:
        break;
    }
  }
  return t.messages;
}

export interface ContextOptions {
  maxTokens: number;
  tools: ToolDefinitionSource;
  /** Tools discovered at call time (MCP servers' tools). */
  extraTools?: Anthropic.Tool[];
}

export function buildRequest(
  agent: SessionAgent,
  events: ReadonlyArray<LoggedEvent>,
  opts: ContextOptions,
): ModelRequest {
  const tools = [...opts.tools(agent.tools), ...(opts.extraTools ?? [])];
  return {
    model: agent.model.id,
    max_tokens: opts.maxTokens,
    messages: buildMessages(events),
    ...(agent.system ? { system: agent.system } : {}),
    ...(tools.length > 0 ? { tools } : {}),
  };
}
