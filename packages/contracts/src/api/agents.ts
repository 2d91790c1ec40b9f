/**
 * Agents (spec §3.1, §7): request params as the SDK sends them, and the resolved form we store
 * per version and return. `resolveAgentConfig` turns params into the resolved form; it is pure.
 */
import { z } from "zod";
import { AgentId, Metadata, MetadataPatch, QueryBool, Timestamp } from "../common.js";

export const PermissionPolicy = z.discriminatedUnion("type", [
  z.object({ type: z.literal("always_allow") }),
  z.object({ type: z.literal("always_ask") }),
  z.object({ type: z.literal("auto") }),
]);
export type PermissionPolicy = z.infer<typeof PermissionPolicy>;

export const BUILTIN_TOOL_NAMES = [
  "bash",
  "edit",
  "read",
  "write",
  "glob",
  "grep",
  "web_fetch",
  "web_search",
] as const;
export const BuiltinToolName = z.enum(BUILTIN_TOOL_NAMES);
export type BuiltinToolName = z.infer<typeof BuiltinToolName>;
export const AGENT_TOOLSET_TYPE = "agent_toolset_20260401";

const ToolsetDefaultConfigParams = z
  .strictObject({
    enabled: z.boolean().nullable().optional(),
    permission_policy: PermissionPolicy.nullable().optional(),
  })
  .nullable();

const DomainList = z.array(z.string().min(1).max(253)).max(64);

const BuiltinToolConfigParams = z.strictObject({
  name: BuiltinToolName,
  type: BuiltinToolName.optional(),
  enabled: z.boolean().nullable().optional(),
  permission_policy: PermissionPolicy.nullable().optional(),
  // web_fetch / web_search options, stored as given
  allowed_domains: DomainList.optional(),
  blocked_domains: DomainList.optional(),
  max_content_tokens: z.number().int().positive().nullable().optional(),
  url_sources: z.unknown().optional(),
  user_location: z.unknown().optional(),
});

export const AgentToolsetParams = z.strictObject({
  type: z.literal(AGENT_TOOLSET_TYPE),
  default_config: ToolsetDefaultConfigParams.optional(),
  configs: z.array(BuiltinToolConfigParams).max(BUILTIN_TOOL_NAMES.length).optional(),
});

const McpToolConfigParams = z.strictObject({
  name: z.string().min(1).max(255),
  enabled: z.boolean().nullable().optional(),
  permission_policy: PermissionPolicy.nullable().optional(),
});

export const McpToolsetParams = z.strictObject({
  type: z.literal("mcp_toolset"),
  mcp_server_name: z.string().min(1).max(255),
  default_config: ToolsetDefaultConfigParams.optional(),
  configs: z.array(McpToolConfigParams).max(256).optional(),
});

export const CustomToolInputSchema = z.looseObject({
  type: z.literal("object"),
  properties: z.record(z.string(), z.unknown()).nullable().optional(),
  required: z.array(z.string()).nullable().optional(),
});

export const CustomToolParams = z.strictObject({
  type: z.literal("custom"),
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/, "must contain only letters, digits, '_' and '-'"),
  description: z.string().max(10_000),
  input_schema: CustomToolInputSchema,
});
export type CustomToolParams = z.infer<typeof CustomToolParams>;

export const ToolParams = z.discriminatedUnion("type", [
  AgentToolsetParams,
  McpToolsetParams,
  CustomToolParams,
]);
export type ToolParams = z.infer<typeof ToolParams>;

export const McpServerParams = z.strictObject({
  type: z.literal("url"),
  name: z.string().min(1).max(255),
  url: z.url({ protocol: /^https?$/ }),
});

const Effort = z.enum(["low", "medium", "high", "xhigh", "max"]);
export const ModelParams = z.union([
  z.string().min(1).max(256),
  z.strictObject({
    id: z.string().min(1).max(256),
    effort: z
      .union([Effort, z.object({ type: Effort })])
      .nullable()
      .optional(),
    speed: z.enum(["standard", "fast"]).nullable().optional(),
    inference_geo: z.string().max(64).nullable().optional(),
  }),
]);

export const SkillParams = z.strictObject({
  type: z.enum(["anthropic", "custom"]),
  skill_id: z.string().min(1).max(256),
  version: z.string().max(64).nullable().optional(),
});

export const ExecutionIdentity = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("service_account") }),
  z.strictObject({ type: z.literal("aws_role"), role_arn: z.string().min(1).max(2048) }),
]);

/** Multi-agent rosters are stored as given (tier 3): validated only as an object. */
const Multiagent = z.record(z.string(), z.unknown());

const agentFields = {
  name: z.string().min(1).max(256),
  model: ModelParams,
  description: z.string().max(2048).nullable(),
  system: z.string().max(100_000).nullable(),
  tools: z.array(ToolParams).max(256),
  mcp_servers: z.array(McpServerParams).max(20),
  skills: z.array(SkillParams).max(20),
  multiagent: Multiagent.nullable(),
  execution_identity: ExecutionIdentity.nullable(),
};

export const AgentCreateParams = z.strictObject({
  name: agentFields.name,
  model: agentFields.model,
  description: agentFields.description.optional(),
  system: agentFields.system.optional(),
  tools: agentFields.tools.optional(),
  mcp_servers: agentFields.mcp_servers.optional(),
  skills: agentFields.skills.optional(),
  multiagent: agentFields.multiagent.optional(),
  execution_identity: agentFields.execution_identity.optional(),
  metadata: Metadata.optional(),
});
export type AgentCreateParams = z.infer<typeof AgentCreateParams>;

export const AgentUpdateParams = z.strictObject({
  name: agentFields.name.optional(),
  model: agentFields.model.optional(),
  description: agentFields.description.optional(),
  system: agentFields.system.optional(),
  tools: agentFields.tools.nullable().optional(),
  mcp_servers: agentFields.mcp_servers.nullable().optional(),
  skills: agentFields.skills.nullable().optional(),
  multiagent: agentFields.multiagent.optional(),
  execution_identity: agentFields.execution_identity.optional(),
  metadata: MetadataPatch.optional(),
  version: z.number().int().min(1).optional(),
});
export type AgentUpdateParams = z.infer<typeof AgentUpdateParams>;

// ---- resolved forms (responses and storage) ----

export const ResolvedBuiltinToolConfig = z.looseObject({
  name: BuiltinToolName,
  type: BuiltinToolName,
  enabled: z.boolean(),
  permission_policy: PermissionPolicy,
});

export const ResolvedAgentToolset = z.object({
  type: z.literal(AGENT_TOOLSET_TYPE),
  default_config: z.object({ enabled: z.boolean(), permission_policy: PermissionPolicy }),
  configs: z.array(ResolvedBuiltinToolConfig),
});
export type ResolvedAgentToolset = z.infer<typeof ResolvedAgentToolset>;

export const ResolvedMcpToolset = z.object({
  type: z.literal("mcp_toolset"),
  mcp_server_name: z.string(),
  default_config: z.object({ enabled: z.boolean(), permission_policy: PermissionPolicy }),
  configs: z.array(z.object({ name: z.string(), enabled: z.boolean(), permission_policy: PermissionPolicy })),
});
export type ResolvedMcpToolset = z.infer<typeof ResolvedMcpToolset>;

export const ResolvedCustomTool = z.object({
  type: z.literal("custom"),
  name: z.string(),
  description: z.string(),
  input_schema: CustomToolInputSchema,
});
export type ResolvedCustomTool = z.infer<typeof ResolvedCustomTool>;

export const ResolvedTool = z.discriminatedUnion("type", [
  ResolvedAgentToolset,
  ResolvedMcpToolset,
  ResolvedCustomTool,
]);
export type ResolvedTool = z.infer<typeof ResolvedTool>;

export const ModelConfig = z.object({
  id: z.string(),
  effort: z.object({ type: Effort }).optional(),
  speed: z.enum(["standard", "fast"]).optional(),
  inference_geo: z.string().optional(),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

/** Everything an agent version holds; the session snapshot is this plus id/version. */
export const AgentConfig = z.object({
  name: z.string(),
  description: z.string().nullable(),
  system: z.string().nullable(),
  model: ModelConfig,
  tools: z.array(ResolvedTool),
  mcp_servers: z.array(z.object({ type: z.literal("url"), name: z.string(), url: z.string() })),
  skills: z.array(
    z.object({ type: z.enum(["anthropic", "custom"]), skill_id: z.string(), version: z.string() }),
  ),
  multiagent: Multiagent.nullable(),
  execution_identity: ExecutionIdentity,
  metadata: Metadata,
});
export type AgentConfig = z.infer<typeof AgentConfig>;

export const Agent = AgentConfig.extend({
  id: AgentId,
  type: z.literal("agent"),
  version: z.number().int(),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Agent = z.infer<typeof Agent>;

export const AgentListQuery = z.object({
  "created_at[gte]": z.iso.datetime({ offset: true }).optional(),
  "created_at[lte]": z.iso.datetime({ offset: true }).optional(),
  include_archived: QueryBool.optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().max(2048).optional(),
});
export type AgentListQuery = z.infer<typeof AgentListQuery>;

export const AgentRetrieveQuery = z.object({ version: z.coerce.number().int().min(1).optional() });
