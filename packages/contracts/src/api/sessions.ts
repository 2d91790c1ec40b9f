/**
 * Sessions (spec §3.4): params, the session object, and list filters.
 */
import { z } from "zod";
import {
  AgentId,
  EnvironmentId,
  Metadata,
  MetadataPatch,
  QueryBool,
  SessionId,
  Timestamp,
} from "../common.js";
import { AgentConfig, McpServerParams, ModelParams, SkillParams, ToolParams } from "./agents.js";
import { UserDefineOutcomeParams, UserMessageParams } from "./events.js";

export const SessionStatus = z.enum(["idle", "running", "rescheduling", "terminated"]);
export type SessionStatus = z.infer<typeof SessionStatus>;

const AgentRef = z.strictObject({
  type: z.literal("agent"),
  id: AgentId,
  version: z.number().int().min(1).optional(),
});
const AgentWithOverrides = z.strictObject({
  type: z.literal("agent_with_overrides"),
  id: AgentId,
  version: z.number().int().min(1).optional(),
  model: ModelParams.optional(),
  system: z.string().max(100_000).nullable().optional(),
  tools: z.array(ToolParams).max(256).nullable().optional(),
  mcp_servers: z.array(McpServerParams).max(20).nullable().optional(),
  skills: z.array(SkillParams).max(20).nullable().optional(),
});
export const SessionAgentParams = z.union([AgentId, AgentRef, AgentWithOverrides]);
export type SessionAgentParams = z.infer<typeof SessionAgentParams>;

export const Budget = z.strictObject({
  type: z.literal("limit"),
  max_list_cost: z.strictObject({ amount: z.string().regex(/^\d+(\.\d+)?$/), currency: z.literal("USD") }),
});

export const RepositoryCheckout = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("branch"),
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[A-Za-z0-9._/-]+$/, "a branch name of letters, digits, '.', '_', '/' and '-'")
      .refine((n) => !n.startsWith("-") && !n.includes(".."), "not a valid branch name"),
  }),
  z.strictObject({
    type: z.literal("commit"),
    sha: z.string().regex(/^[0-9a-f]{7,64}$/, "a hexadecimal commit sha"),
  }),
]);
export type RepositoryCheckout = z.infer<typeof RepositoryCheckout>;

/** Where repositories and files can be mounted: the sandbox's writable workdir. */
export const RESOURCE_MOUNT_ROOT = "/workspace";

const ResourceParams = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("file"),
    file_id: z.string().min(1).max(256),
    mount_path: z.string().max(4096).nullable().optional(),
  }),
  z.strictObject({
    type: z.literal("github_repository"),
    url: z.string().min(1).max(2048),
    authorization_token: z.string().min(1).max(4096).optional(),
    checkout: RepositoryCheckout.nullable().optional(),
    mount_path: z.string().max(4096).nullable().optional(),
  }),
  z.strictObject({
    type: z.literal("memory_store"),
    memory_store_id: z.string().min(1).max(256),
    access: z.enum(["read_write", "read_only"]).nullable().optional(),
    instructions: z.string().max(10_000).nullable().optional(),
  }),
]);

export type ResourceParams = z.infer<typeof ResourceParams>;

/** A repository resource as the API returns it: the token is write-only and never in it. */
export const GitHubRepositoryResource = z.object({
  id: z.string(),
  type: z.literal("github_repository"),
  url: z.string(),
  mount_path: z.string(),
  checkout: RepositoryCheckout.nullable().optional(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type GitHubRepositoryResource = z.infer<typeof GitHubRepositoryResource>;
export const SessionResource = GitHubRepositoryResource;
export type SessionResource = z.infer<typeof SessionResource>;

export const ResourceAddParams = ResourceParams;
export const ResourceUpdateParams = z.strictObject({ authorization_token: z.string().min(1).max(4096) });
export const ResourceListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().max(2048).optional(),
});
export const ResourceDeleted = z.object({ id: z.string(), type: z.literal("session_resource_deleted") });

export const SessionCreateParams = z.strictObject({
  agent: SessionAgentParams,
  environment_id: EnvironmentId,
  title: z.string().max(1024).nullable().optional(),
  metadata: Metadata.optional(),
  resources: z.array(ResourceParams).max(100).optional(),
  vault_ids: z.array(z.string().max(80)).max(20).optional(),
  initial_events: z
    .array(z.discriminatedUnion("type", [UserMessageParams, UserDefineOutcomeParams]))
    .max(50)
    .optional(),
  budget: Budget.optional(),
});
export type SessionCreateParams = z.infer<typeof SessionCreateParams>;

export const SessionUpdateParams = z.strictObject({
  title: z.string().max(1024).nullable().optional(),
  metadata: MetadataPatch.optional(),
  agent: z
    .strictObject({
      tools: z.array(ToolParams).max(256).optional(),
      mcp_servers: z.array(McpServerParams).max(20).optional(),
    })
    .optional(),
  budget: Budget.nullable().optional(),
  vault_ids: z.array(z.string().max(80)).max(20).optional(),
});
export type SessionUpdateParams = z.infer<typeof SessionUpdateParams>;

export const SessionAgent = AgentConfig.omit({ metadata: true }).extend({
  id: AgentId,
  type: z.literal("agent"),
  version: z.number().int(),
});
export type SessionAgent = z.infer<typeof SessionAgent>;

export const SessionUsage = z.object({
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_read_input_tokens: z.number().int(),
  cache_creation: z.object({
    ephemeral_5m_input_tokens: z.number().int(),
    ephemeral_1h_input_tokens: z.number().int(),
  }),
});
export type SessionUsage = z.infer<typeof SessionUsage>;

export const Session = z.object({
  id: SessionId,
  type: z.literal("session"),
  status: SessionStatus,
  agent: SessionAgent,
  environment_id: EnvironmentId,
  title: z.string().nullable(),
  metadata: Metadata,
  resources: z.array(SessionResource),
  vault_ids: z.array(z.string()),
  usage: SessionUsage,
  stats: z.object({ active_seconds: z.number().optional(), duration_seconds: z.number().optional() }),
  outcome_evaluations: z.array(z.unknown()),
  budget: Budget.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Session = z.infer<typeof Session>;

export const SessionDeleted = z.object({ id: z.string(), type: z.literal("session_deleted") });

export const SessionListQuery = z.object({
  agent_id: AgentId.optional(),
  agent_version: z.coerce.number().int().min(1).optional(),
  environment_id: EnvironmentId.optional(),
  "created_at[gt]": z.iso.datetime({ offset: true }).optional(),
  "created_at[gte]": z.iso.datetime({ offset: true }).optional(),
  "created_at[lt]": z.iso.datetime({ offset: true }).optional(),
  "created_at[lte]": z.iso.datetime({ offset: true }).optional(),
  deployment_id: z.string().max(80).optional(),
  memory_store_id: z.string().max(80).optional(),
  include_archived: QueryBool.optional(),
  order: z.enum(["asc", "desc"]).optional(),
  statuses: z.array(SessionStatus).max(4).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().max(2048).optional(),
});
export type SessionListQuery = z.infer<typeof SessionListQuery>;

export const SessionPage = z.object({
  data: z.array(Session),
  next_page: z.string().nullable(),
  prev_page: z.string().nullable(),
});
