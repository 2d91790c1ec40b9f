/**
 * Agent configuration: params (as clients send them) → the resolved config stored per version,
 * updates with full-replacement arrays and metadata patches, and per-session overrides.
 * Pure; every rule that spans fields is checked here and reported as a ValidationError.
 */

import { isDeepStrictEqual } from "node:util";
import type { McpServerParams, ModelParams, SkillParams } from "@tendon/contracts";
import {
  AGENT_TOOLSET_TYPE,
  type AgentConfig,
  type AgentCreateParams,
  type AgentUpdateParams,
  applyMetadataPatch,
  BUILTIN_TOOL_NAMES,
  type ModelConfig,
  type PermissionPolicy,
  type ResolvedTool,
  type SessionAgentParams,
  type ToolParams,
  ValidationError,
} from "@tendon/contracts";
import type { z } from "zod";

type ModelInput = z.infer<typeof ModelParams>;
type McpServerInput = z.infer<typeof McpServerParams>;
type SkillInput = z.infer<typeof SkillParams>;

const ALLOW: PermissionPolicy = { type: "always_allow" };
const ASK: PermissionPolicy = { type: "always_ask" };

export function resolveModel(m: ModelInput): ModelConfig {
  if (typeof m === "string") return { id: m };
  const effort = m.effort == null ? undefined : typeof m.effort === "string" ? { type: m.effort } : m.effort;
  return {
    id: m.id,
    ...(effort ? { effort } : {}),
    ...(m.speed ? { speed: m.speed } : {}),
    ...(m.inference_geo ? { inference_geo: m.inference_geo } : {}),
  };
}

function resolveTool(t: ToolParams): ResolvedTool {
  switch (t.type) {
    case AGENT_TOOLSET_TYPE: {
      const enabled = t.default_config?.enabled ?? true;
      const policy = t.default_config?.permission_policy ?? ALLOW;
      const given = new Map((t.configs ?? []).map((c) => [c.name, c]));
      if (given.size !== (t.configs ?? []).length) {
        throw new ValidationError("agent toolset configs name a tool more than once");
      }
      return {
        type: AGENT_TOOLSET_TYPE,
        default_config: { enabled, permission_policy: policy },
        configs: BUILTIN_TOOL_NAMES.map((name) => {
          const c = given.get(name);
          const { name: _n, type: _t, enabled: e, permission_policy: p, ...extras } = c ?? { name };
          const base = { name, type: name, enabled: e ?? enabled, permission_policy: p ?? policy };
          const web = name === "web_fetch" ? { url_sources: null } : {};
          return { ...web, ...extras, ...base };
        }),
      };
    }
    case "mcp_toolset": {
      const enabled = t.default_config?.enabled ?? true;
      const policy = t.default_config?.permission_policy ?? ASK;
      return {
        type: "mcp_toolset",
        mcp_server_name: t.mcp_server_name,
        default_config: { enabled, permission_policy: policy },
        configs: (t.configs ?? []).map((c) => ({
          name: c.name,
          enabled: c.enabled ?? enabled,
          permission_policy: c.permission_policy ?? policy,
        })),
      };
    }
    case "custom":
      return { type: "custom", name: t.name, description: t.description, input_schema: t.input_schema };
  }
}

/** Checks the rules that span tools and MCP servers (spec §7.1). */
function checkTools(tools: ResolvedTool[], servers: McpServerInput[]): void {
  const toolsets = tools.filter((t) => t.type === AGENT_TOOLSET_TYPE);
  if (toolsets.length > 1) throw new ValidationError(`tools: at most one ${AGENT_TOOLSET_TYPE} is allowed`);
  const serverNames = new Set<string>();
  for (const s of servers) {
    if (serverNames.has(s.name)) throw new ValidationError(`mcp_servers: duplicate name "${s.name}"`);
    serverNames.add(s.name);
  }
  const referenced = new Set<string>();
  for (const t of tools) {
    if (t.type !== "mcp_toolset") continue;
    if (!serverNames.has(t.mcp_server_name)) {
      throw new ValidationError(`tools: mcp_toolset references unknown MCP server "${t.mcp_server_name}"`);
    }
    if (referenced.has(t.mcp_server_name)) {
      throw new ValidationError(`tools: more than one mcp_toolset for MCP server "${t.mcp_server_name}"`);
    }
    referenced.add(t.mcp_server_name);
  }
  for (const name of serverNames) {
    if (!referenced.has(name)) {
      throw new ValidationError(`mcp_servers: "${name}" is not referenced by any mcp_toolset in tools`);
    }
  }
  const customNames = new Set<string>();
  for (const t of tools) {
    if (t.type !== "custom") continue;
    if (customNames.has(t.name)) throw new ValidationError(`tools: duplicate custom tool name "${t.name}"`);
    if ((BUILTIN_TOOL_NAMES as readonly string[]).includes(t.name) && toolsets.length > 0) {
      throw new ValidationError(
        `tools: custom tool "${t.name}" collides with a builtin tool of the agent toolset`,
      );
    }
    customNames.add(t.name);
  }
}

function resolveSkills(skills: SkillInput[]): AgentConfig["skills"] {
  return skills.map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? "latest" }));
}

function resolveServers(servers: McpServerInput[]): AgentConfig["mcp_servers"] {
  return servers.map((s) => ({ type: "url", name: s.name, url: s.url }));
}

export function resolveAgentConfig(p: AgentCreateParams): AgentConfig {
  const tools = (p.tools ?? []).map(resolveTool);
  const servers = p.mcp_servers ?? [];
  checkTools(tools, servers);
  return {
    name: p.name,
    description: p.description ?? null,
    system: p.system ?? null,
    model: resolveModel(p.model),
    tools,
    mcp_servers: resolveServers(servers),
    skills: resolveSkills(p.skills ?? []),
    multiagent: p.multiagent ?? null,
    execution_identity: p.execution_identity ?? { type: "service_account" },
    metadata: p.metadata ?? {},
  };
}

/**
 * Applies an update: omitted fields are kept, arrays replace (null or [] clears), metadata is a
 * patch. Returns the new config and whether anything changed (a no-op keeps the version).
 */
export function applyAgentUpdate(
  cur: AgentConfig,
  p: AgentUpdateParams,
): { config: AgentConfig; changed: boolean } {
  const servers = p.mcp_servers === undefined ? cur.mcp_servers : (p.mcp_servers ?? []);
  const tools = p.tools === undefined ? cur.tools : (p.tools ?? []).map(resolveTool);
  checkTools(tools, servers);
  const next: AgentConfig = {
    name: p.name ?? cur.name,
    description: p.description === undefined ? cur.description : p.description,
    system: p.system === undefined ? cur.system : p.system,
    model: p.model === undefined ? cur.model : resolveModel(p.model),
    tools,
    mcp_servers: resolveServers(servers),
    skills: p.skills === undefined ? cur.skills : resolveSkills(p.skills ?? []),
    multiagent: p.multiagent === undefined ? cur.multiagent : p.multiagent,
    execution_identity:
      p.execution_identity === undefined
        ? cur.execution_identity
        : (p.execution_identity ?? { type: "service_account" }),
    metadata: applyMetadataPatch(cur.metadata, p.metadata),
  };
  return { config: next, changed: !isDeepStrictEqual(next, cur) };
}

/** `agent_with_overrides`: omit = inherit, null/[] = clear, value = full replacement (spec §7.2). */
export function applySessionOverrides(cur: AgentConfig, a: SessionAgentParams): AgentConfig {
  if (typeof a === "string" || a.type === "agent") return cur;
  const servers = a.mcp_servers === undefined ? cur.mcp_servers : (a.mcp_servers ?? []);
  const tools = a.tools === undefined ? cur.tools : (a.tools ?? []).map(resolveTool);
  checkTools(tools, servers);
  return {
    ...cur,
    model: a.model === undefined ? cur.model : resolveModel(a.model),
    system: a.system === undefined ? cur.system : a.system,
    tools,
    mcp_servers: resolveServers(servers),
    skills: a.skills === undefined ? cur.skills : resolveSkills(a.skills ?? []),
  };
}

/** Session updates may replace the snapshot's tools and MCP servers (while idle). */
export function applySessionAgentUpdate(
  cur: AgentConfig,
  u: { tools?: ToolParams[] | undefined; mcp_servers?: McpServerInput[] | undefined },
): AgentConfig {
  const servers = u.mcp_servers ?? cur.mcp_servers;
  const tools = u.tools === undefined ? cur.tools : u.tools.map(resolveTool);
  checkTools(tools, servers);
  return { ...cur, tools, mcp_servers: resolveServers(servers) };
}
