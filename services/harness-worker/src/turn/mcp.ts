/**
 * MCP tools for one session, reached only through the credential-proxy (which attaches the
 * session's vault credential; the harness never holds a token).
 *
 * - Tool names the model sees are `<server>__<tool>`, reduced to the characters the Messages API
 *   accepts; the map back to (server, tool) lives here.
 * - Each mcp_toolset's permission policy applies (default always_ask, per-tool overrides;
 *   disabled tools are not offered).
 * - A server that cannot be listed is reported (session.error of the MCP types) and left out of
 *   this call; the session goes on with the rest.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { Bus } from "@tendon/bus";
import {
  AppError,
  CredentialProxy,
  type SessionErrorType,
  type SessionRuntime,
  type ToolResult,
} from "@tendon/contracts";

export function mcpToolName(server: string, tool: string): string {
  return `${server}__${tool}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 128);
}

export interface McpToolRef {
  server: string;
  url: string;
  tool: string;
  policy: "always_allow" | "always_ask" | "auto";
}

export interface McpFailure {
  server: string;
  type: Extract<SessionErrorType, "mcp_connection_failed_error" | "mcp_authentication_failed_error">;
  message: string;
}

export function mcpFailureOf(server: string, e: unknown): McpFailure {
  const auth =
    e instanceof AppError &&
    (e.code === "authentication" || e.details?.error_code === "mcp_authentication_failed");
  return {
    server,
    type: auth ? "mcp_authentication_failed_error" : "mcp_connection_failed_error",
    message: e instanceof Error ? e.message.slice(0, 500) : "the MCP server could not be reached",
  };
}

export class McpTools {
  private readonly refs = new Map<string, McpToolRef>();
  private defs: Anthropic.Tool[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly session: SessionRuntime,
  ) {}

  get hasToolsets(): boolean {
    return this.session.agent.tools.some((t) => t.type === "mcp_toolset");
  }

  /** Lists every MCP server's tools (through the proxy); failures are returned, not thrown. */
  async load(): Promise<McpFailure[]> {
    this.refs.clear();
    const defs: Anthropic.Tool[] = [];
    const failures: McpFailure[] = [];
    for (const toolset of this.session.agent.tools) {
      if (toolset.type !== "mcp_toolset") continue;
      const server = this.session.agent.mcp_servers.find((s) => s.name === toolset.mcp_server_name);
      if (!server) continue;
      try {
        const { tools } = await this.bus.request(CredentialProxy.mcpListTools, {
          session_id: this.session.id,
          vault_ids: this.session.vault_ids,
          server: { name: server.name, url: server.url },
        });
        for (const t of tools) {
          const cfg = toolset.configs.find((c) => c.name === t.name);
          const enabled = cfg?.enabled ?? toolset.default_config.enabled;
          if (!enabled) continue;
          const name = mcpToolName(server.name, t.name);
          this.refs.set(name, {
            server: server.name,
            url: server.url,
            tool: t.name,
            policy: (cfg?.permission_policy ?? toolset.default_config.permission_policy).type,
          });
          defs.push({
            name,
            description: t.description ?? "",
            input_schema: t.input_schema as Anthropic.Tool.InputSchema,
          });
        }
      } catch (e) {
        failures.push(mcpFailureOf(server.name, e));
      }
    }
    this.defs = defs;
    return failures;
  }

  definitions(): Anthropic.Tool[] {
    return this.defs;
  }

  /**
   * The MCP tool a model-side name stands for. A name in a declared server's namespace
   * (`<server>__…`) that the last listing did not return (the server could not be listed this
   * time) is still that server's: the call goes to it, and fails there if the tool is unknown.
   */
  lookup(modelName: string): McpToolRef | undefined {
    const known = this.refs.get(modelName);
    if (known) return known;
    for (const toolset of this.session.agent.tools) {
      if (toolset.type !== "mcp_toolset") continue;
      const server = this.session.agent.mcp_servers.find((s) => s.name === toolset.mcp_server_name);
      const prefix = server ? mcpToolName(server.name, "") : undefined;
      if (!server || !prefix || !modelName.startsWith(prefix) || modelName.length === prefix.length) continue;
      const tool = modelName.slice(prefix.length);
      const cfg = toolset.configs.find((c) => c.name === tool);
      if (!(cfg?.enabled ?? toolset.default_config.enabled)) return undefined;
      return {
        server: server.name,
        url: server.url,
        tool,
        policy: (cfg?.permission_policy ?? toolset.default_config.permission_policy).type,
      };
    }
    return undefined;
  }

  async call(
    server: string,
    tool: string,
    input: Record<string, unknown>,
    deadlineMs: number,
  ): Promise<ToolResult> {
    const s = this.session.agent.mcp_servers.find((x) => x.name === server);
    if (!s)
      return {
        content: [{ type: "text", text: `MCP server "${server}" is not configured for this agent.` }],
        is_error: true,
      };
    return this.bus.request(
      CredentialProxy.mcpCallTool,
      {
        session_id: this.session.id,
        vault_ids: this.session.vault_ids,
        server: { name: s.name, url: s.url },
        tool,
        input,
        deadline_ms: deadlineMs,
      },
      { timeoutMs: deadlineMs + 10_000 },
    );
  }
}
