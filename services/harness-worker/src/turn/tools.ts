/**
 * The tool definitions the model sees: the agent's custom tools, and the enabled builtin tools of
 * the agent toolset with the SDK's own names, descriptions and input schemas (so a self-hosted
 * EnvironmentWorker running the SDK toolset receives exactly the inputs it expects).
 *
 * `web_fetch` and `web_search` are server tools this release does not run; they are not offered.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { betaAgentToolset20260401 } from "@anthropic-ai/sdk/tools/agent-toolset/node";
import type { ResolvedTool } from "@tendon/contracts";
import type { ToolDefinitionSource } from "./context.js";

export const SANDBOX_TOOLS = ["bash", "read", "write", "edit", "glob", "grep"] as const;

let cache: Map<string, Anthropic.Tool> | undefined;

/** The SDK toolset's definitions (computed once; no tool is run). */
function builtinDefinitions(): Map<string, Anthropic.Tool> {
  if (!cache) {
    const tools = betaAgentToolset20260401({ workdir: "/nonexistent" });
    cache = new Map(
      tools.map((t) => {
        const def = t as unknown as {
          name: string;
          description?: string;
          input_schema: Anthropic.Tool.InputSchema;
        };
        return [
          def.name,
          { name: def.name, description: def.description ?? "", input_schema: def.input_schema },
        ];
      }),
    );
    for (const t of tools) (t as { close?: () => void }).close?.();
  }
  return cache;
}

export const agentToolDefinitions: ToolDefinitionSource = (tools: ResolvedTool[]) => {
  const out: Anthropic.Tool[] = [];
  for (const t of tools) {
    if (t.type === "custom") {
      out.push({
        name: t.name,
        description: t.description,
        input_schema: t.input_schema as Anthropic.Tool.InputSchema,
      });
    } else if (t.type === "agent_toolset_20260401") {
      const defs = builtinDefinitions();
      for (const c of t.configs) {
        const def = c.enabled ? defs.get(c.name) : undefined;
        if (def) out.push(def);
      }
    }
  }
  return out;
};
