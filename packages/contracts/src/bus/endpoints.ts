/**
 * Request/reply endpoints, one entry per operation: who serves it, the request and response
 * schemas (validated on both ends) and the caller's deadline.
 */
import { z } from "zod";
import { Agent, AgentCreateParams, AgentListQuery, AgentUpdateParams } from "../api/agents.js";
import {
  Environment,
  EnvironmentConfig,
  EnvironmentCreateParams,
  EnvironmentDeleted,
  EnvironmentListQuery,
  EnvironmentUpdateParams,
} from "../api/environments.js";
import {
  ClientEventParams,
  EventListQuery,
  ServerEventPayload,
  SessionEvent,
  UserCustomToolResultParams,
} from "../api/events.js";
import {
  RepositoryCheckout,
  ResourceAddParams,
  ResourceDeleted,
  ResourceListQuery,
  ResourceUpdateParams,
  Session,
  SessionAgent,
  SessionCreateParams,
  SessionDeleted,
  SessionListQuery,
  SessionPage,
  SessionResource,
  SessionStatus,
  SessionUpdateParams,
} from "../api/sessions.js";
import {
  Credential,
  CredentialCreateParams,
  CredentialUpdateParams,
  CredentialValidation,
  EgressRecord,
  Vault,
  VaultCreateParams,
  VaultListQuery,
  VaultUpdateParams,
} from "../api/vaults.js";
import {
  EnvironmentKey,
  Work,
  WorkHeartbeat,
  WorkListQuery,
  WorkStats,
  WorkUpdateParams,
} from "../api/work.js";
import { EnvironmentId, EventId, PageOf, SessionId } from "../common.js";
import { WireError } from "../errors.js";
import { SandboxInfo, ToolResult } from "./hands.js";

export interface Endpoint<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly service: string;
  readonly op: string;
  readonly request: Req;
  readonly response: Res;
  /** How long a caller waits for a reply before treating the call as failed (retryable). */
  readonly timeoutMs: number;
}

export type RequestOf<E extends Endpoint> = z.input<E["request"]>;
export type ResponseOf<E extends Endpoint> = z.output<E["response"]>;

export function endpoint<Req extends z.ZodType, Res extends z.ZodType>(
  service: string,
  op: string,
  request: Req,
  response: Res,
  timeoutMs = 5_000,
): Endpoint<Req, Res> {
  return { service, op, request, response, timeoutMs };
}

/** Every reply on the bus is this envelope. */
export const Reply = <T extends z.ZodType>(result: T) =>
  z.discriminatedUnion("ok", [
    z.object({ ok: z.literal(true), result }),
    z.object({ ok: z.literal(false), error: WireError }),
  ]);

const SL = "session-log";
const SM = "sandbox-manager";
const CP = "credential-proxy";
const ById = <T extends z.ZodType>(id: T) => z.object({ id });
const ResourceRef = z.object({ session_id: z.string(), id: z.string() });

/** A session's repository as the credential-proxy keeps it: where and what to clone, and its token. */
export const RepositorySpec = z.object({
  resource_id: z.string(),
  url: z.string(),
  mount_path: z.string(),
  checkout: RepositoryCheckout.nullable().optional(),
});
export type RepositorySpec = z.infer<typeof RepositorySpec>;
const Empty = z.object({});

// ---- principals ----

export const Principal = z.discriminatedUnion("type", [
  z.object({ type: z.literal("api_key"), key_id: z.string() }),
  z.object({ type: z.literal("environment_key"), key_id: z.string(), environment_id: EnvironmentId }),
  z.object({
    type: z.literal("session_token"),
    key_id: z.string(),
    environment_id: EnvironmentId,
    session_id: SessionId,
    work_id: z.string(),
  }),
]);
export type Principal = z.infer<typeof Principal>;

export const ApiKeyCreated = z.object({
  id: z.string(),
  name: z.string(),
  key: z.string(),
  created_at: z.string(),
});

// ---- harness-side shapes ----

export const SessionRuntime = z.object({
  id: SessionId,
  status: SessionStatus,
  agent: SessionAgent,
  environment_id: EnvironmentId,
  environment: EnvironmentConfig.nullable(),
  vault_ids: z.array(z.string()),
  last_seq: z.number().int().nonnegative(),
});
export type SessionRuntime = z.infer<typeof SessionRuntime>;

/** An event with its position in the session's log and the server-only data the harness keeps. */
export const LoggedEvent = z.object({
  seq: z.number().int().positive(),
  event: SessionEvent,
  internal: z.record(z.string(), z.unknown()).nullable(),
});
export type LoggedEvent = z.infer<typeof LoggedEvent>;

/** Events after a position, as many as fit one reply, and where the log ended when read. */
export const LogPage = z.object({ events: z.array(LoggedEvent), last_seq: z.number().int().nonnegative() });
export type LogPage = z.infer<typeof LogPage>;

export const AppendItem = z.object({
  /** Idempotency key, unique per session: a repeat returns the event first appended with it. */
  key: z.string().min(1).max(200),
  /** Pre-assigned event id (so stream previews can name the event before it is stored). */
  id: EventId.optional(),
  /** Server events, or a custom tool's result when a registered hand (not the client) ran it. */
  payload: z.union([ServerEventPayload, UserCustomToolResultParams]),
  /** Server-only data kept with the event and never returned by the API (e.g. thinking signatures). */
  internal: z.record(z.string(), z.unknown()).optional(),
});
export type AppendItem = z.infer<typeof AppendItem>;

export const HarnessAppend = z.object({
  session_id: SessionId,
  worker_id: z.string(),
  epoch: z.number().int().positive(),
  /** The last seq the harness read before deciding on these events. Guards idling over unseen input. */
  basis_seq: z.number().int().nonnegative(),
  items: z.array(AppendItem).min(1).max(200),
  /** Release the lease in the same transaction (the turn is over). */
  release: z.boolean().optional(),
});
export type HarnessAppend = z.infer<typeof HarnessAppend>;

export const AppendResult = z.object({
  events: z.array(
    z.object({
      seq: z.number().int().positive(),
      event: SessionEvent,
      /** As stored; lets the appender extend its view without reading the log back. */
      internal: LoggedEvent.shape.internal.optional(),
    }),
  ),
  last_seq: z.number().int().nonnegative(),
});
export type AppendResult = z.infer<typeof AppendResult>;

export const SessionLog = {
  authVerify: endpoint(
    SL,
    "auth.verify",
    z.object({ key: z.string().max(512) }),
    z.object({ principal: Principal }),
  ),
  keysCreate: endpoint(SL, "keys.create", z.object({ name: z.string().min(1).max(256) }), ApiKeyCreated),

  agentsCreate: endpoint(SL, "agents.create", AgentCreateParams, Agent),
  agentsRetrieve: endpoint(
    SL,
    "agents.retrieve",
    z.object({ id: z.string(), version: z.number().int().optional() }),
    Agent,
  ),
  agentsUpdate: endpoint(SL, "agents.update", z.object({ id: z.string(), params: AgentUpdateParams }), Agent),
  agentsList: endpoint(SL, "agents.list", AgentListQuery, PageOf(Agent)),
  agentsArchive: endpoint(SL, "agents.archive", ById(z.string()), Agent),
  agentsVersions: endpoint(
    SL,
    "agents.versions",
    z.object({
      id: z.string(),
      limit: z.number().int().min(1).max(100).optional(),
      page: z.string().optional(),
    }),
    PageOf(Agent),
  ),

  environmentsCreate: endpoint(SL, "environments.create", EnvironmentCreateParams, Environment),
  environmentsRetrieve: endpoint(SL, "environments.retrieve", ById(z.string()), Environment),
  environmentsUpdate: endpoint(
    SL,
    "environments.update",
    z.object({ id: z.string(), params: EnvironmentUpdateParams }),
    Environment,
  ),
  environmentsList: endpoint(SL, "environments.list", EnvironmentListQuery, PageOf(Environment)),
  environmentsArchive: endpoint(SL, "environments.archive", ById(z.string()), Environment),
  environmentsDelete: endpoint(SL, "environments.delete", ById(z.string()), EnvironmentDeleted),

  sessionsCreate: endpoint(SL, "sessions.create", SessionCreateParams, Session, 10_000),
  sessionsRetrieve: endpoint(SL, "sessions.retrieve", ById(z.string()), Session),
  sessionsUpdate: endpoint(
    SL,
    "sessions.update",
    z.object({ id: z.string(), params: SessionUpdateParams }),
    Session,
  ),
  sessionsList: endpoint(SL, "sessions.list", SessionListQuery, SessionPage),
  sessionsArchive: endpoint(SL, "sessions.archive", ById(z.string()), Session),
  sessionsDelete: endpoint(SL, "sessions.delete", ById(z.string()), SessionDeleted),

  resourcesAdd: endpoint(
    SL,
    "resources.add",
    z.object({ session_id: z.string(), params: ResourceAddParams }),
    SessionResource,
    10_000,
  ),
  resourcesList: endpoint(
    SL,
    "resources.list",
    ResourceListQuery.extend({ session_id: z.string() }),
    PageOf(SessionResource),
  ),
  resourcesRetrieve: endpoint(SL, "resources.retrieve", ResourceRef, SessionResource),
  resourcesUpdate: endpoint(
    SL,
    "resources.update",
    ResourceRef.extend({ params: ResourceUpdateParams }),
    SessionResource,
    10_000,
  ),
  resourcesDelete: endpoint(SL, "resources.delete", ResourceRef, ResourceDeleted, 10_000),
  eventsSend: endpoint(
    SL,
    "events.send",
    z.object({ session_id: z.string(), events: z.array(ClientEventParams).min(1).max(100) }),
    z.object({ data: z.array(SessionEvent) }),
    10_000,
  ),
  eventsList: endpoint(
    SL,
    "events.list",
    z.object({ session_id: z.string(), query: EventListQuery }),
    PageOf(SessionEvent),
  ),
  /** Existence check and the log position a new live reader starts after. */
  eventsTail: endpoint(
    SL,
    "events.tail",
    z.object({ session_id: z.string() }),
    z.object({ last_seq: z.number().int().nonnegative(), status: SessionStatus }),
  ),
  /** Events by position, for readers that backfill gaps in the live stream. */
  eventsRange: endpoint(
    SL,
    "events.range",
    z.object({
      session_id: z.string(),
      after_seq: z.number().int().nonnegative(),
      limit: z.number().int().min(1).max(1000),
    }),
    LogPage,
  ),

  harnessAcquire: endpoint(
    SL,
    "harness.acquire",
    z.object({ session_id: SessionId, worker_id: z.string() }),
    z.object({
      epoch: z.number().int().positive(),
      session: SessionRuntime,
      /** The log's first page, read once the lease was granted: the harness starts without a read. */
      log: LogPage.optional(),
    }),
  ),
  harnessAppend: endpoint(SL, "harness.append", HarnessAppend, AppendResult, 10_000),
  harnessRelease: endpoint(
    SL,
    "harness.release",
    z.object({
      session_id: SessionId,
      worker_id: z.string(),
      epoch: z.number().int().positive(),
      rewake: z.boolean(),
    }),
    Empty,
  ),
  workClaim: endpoint(
    SL,
    "work.claim",
    z.object({
      environment_id: z.string(),
      worker_id: z.string().max(256),
      reclaim_older_than_ms: z.number().int().min(0),
    }),
    z.object({ work: Work.nullable() }),
  ),
  workAck: endpoint(SL, "work.ack", z.object({ environment_id: z.string(), work_id: z.string() }), Work),
  workHeartbeat: endpoint(
    SL,
    "work.heartbeat",
    z.object({
      environment_id: z.string(),
      work_id: z.string(),
      expected_last_heartbeat: z.string(),
      desired_ttl_seconds: z.number().int().optional(),
    }),
    WorkHeartbeat,
  ),
  workStop: endpoint(
    SL,
    "work.stop",
    z.object({ environment_id: z.string(), work_id: z.string(), force: z.boolean() }),
    Work,
  ),
  workRetrieve: endpoint(
    SL,
    "work.retrieve",
    z.object({ environment_id: z.string(), work_id: z.string() }),
    Work,
  ),
  workUpdate: endpoint(
    SL,
    "work.update",
    z.object({ environment_id: z.string(), work_id: z.string(), params: WorkUpdateParams }),
    Work,
  ),
  workList: endpoint(
    SL,
    "work.list",
    z.object({ environment_id: z.string(), query: WorkListQuery }),
    PageOf(Work),
  ),
  workStats: endpoint(SL, "work.stats", z.object({ environment_id: z.string() }), WorkStats),
  environmentKeysCreate: endpoint(
    SL,
    "environments.keys.create",
    z.object({ environment_id: z.string(), name: z.string() }),
    EnvironmentKey,
  ),

  /**
   * A harness worker's liveness. `driving`: every session it drives or is acquiring right now;
   * leases it holds on any other session are given back (a worker keeps no lease it does not use:
   * other workers drop wake-ups for a session whose lease a live worker holds).
   */
  workersHeartbeat: endpoint(
    SL,
    "workers.heartbeat",
    z.object({
      worker_id: z.string(),
      ttl_ms: z.number().int().min(100).max(600_000),
      driving: z.array(z.string().max(64)).max(10_000).optional(),
    }),
    Empty,
  ),
} as const;

export const SandboxManager = {
  /** Provisions the session's sandbox (or returns the live one) and starts serving its hand. */
  provision: endpoint(
    SM,
    "provision",
    z.object({
      session_id: SessionId,
      environment: EnvironmentConfig.nullable(),
      vault_ids: z.array(z.string()).default([]),
      /** The agent's MCP server URLs: reachable from the sandbox under `limited` + allow_mcp_servers. */
      mcp_server_urls: z.array(z.string()).default([]),
    }),
    SandboxInfo,
    60_000,
  ),
  kill: endpoint(SM, "kill", z.object({ session_id: SessionId }), z.object({ killed: z.boolean() })),
  list: endpoint(SM, "list", z.object({}), z.object({ data: z.array(SandboxInfo) })),
} as const;

const VaultRef = z.object({ vault_id: z.string(), id: z.string() });
export const McpServerRef = z.object({ name: z.string(), url: z.string() });

export const CredentialProxy = {
  vaultsCreate: endpoint(CP, "vaults.create", VaultCreateParams, Vault),
  vaultsRetrieve: endpoint(CP, "vaults.retrieve", ById(z.string()), Vault),
  vaultsUpdate: endpoint(CP, "vaults.update", z.object({ id: z.string(), params: VaultUpdateParams }), Vault),
  vaultsList: endpoint(CP, "vaults.list", VaultListQuery, PageOf(Vault)),
  vaultsArchive: endpoint(CP, "vaults.archive", ById(z.string()), Vault),
  vaultsDelete: endpoint(
    CP,
    "vaults.delete",
    ById(z.string()),
    z.object({ id: z.string(), type: z.literal("vault_deleted") }),
  ),
  /** Which of these vault ids do not exist (or are archived): sessions may only reference live vaults. */
  vaultsCheck: endpoint(
    CP,
    "vaults.check",
    z.object({ ids: z.array(z.string()).max(20) }),
    z.object({ missing: z.array(z.string()) }),
  ),

  credentialsCreate: endpoint(
    CP,
    "credentials.create",
    z.object({ vault_id: z.string(), params: CredentialCreateParams }),
    Credential,
  ),
  credentialsRetrieve: endpoint(CP, "credentials.retrieve", VaultRef, Credential),
  credentialsUpdate: endpoint(
    CP,
    "credentials.update",
    VaultRef.extend({ params: CredentialUpdateParams }),
    Credential,
  ),
  credentialsList: endpoint(
    CP,
    "credentials.list",
    z.object({ vault_id: z.string(), query: VaultListQuery }),
    PageOf(Credential),
  ),
  credentialsArchive: endpoint(CP, "credentials.archive", VaultRef, Credential),
  credentialsDelete: endpoint(
    CP,
    "credentials.delete",
    VaultRef,
    z.object({ id: z.string(), type: z.literal("vault_credential_deleted") }),
  ),
  credentialsValidate: endpoint(CP, "credentials.validate", VaultRef, CredentialValidation, 30_000),

  /** Re-seals every stored secret under the current master key (after adding a new one). */
  keysRotate: endpoint(
    CP,
    "keys.rotate",
    z.object({}),
    z.object({ key_id: z.string(), resealed: z.number().int() }),
    120_000,
  ),

  /** MCP through the proxy: the session's vault credential is attached here; callers never see it. */
  mcpListTools: endpoint(
    CP,
    "mcp.list_tools",
    z.object({ session_id: z.string(), vault_ids: z.array(z.string()), server: McpServerRef }),
    z.object({
      tools: z.array(
        z.object({
          name: z.string(),
          description: z.string().optional(),
          input_schema: z.record(z.string(), z.unknown()),
        }),
      ),
    }),
    30_000,
  ),
  mcpCallTool: endpoint(
    CP,
    "mcp.call_tool",
    z.object({
      session_id: z.string(),
      vault_ids: z.array(z.string()),
      server: McpServerRef,
      tool: z.string(),
      input: z.record(z.string(), z.unknown()),
      deadline_ms: z.number().int().positive(),
    }),
    ToolResult,
    130_000,
  ),

  /** A sandbox that will use the egress proxy: the env its tools get (placeholders, proxy, CA). */
  egressRegister: endpoint(
    CP,
    "egress.register",
    z.object({
      sandbox_id: z.string(),
      session_id: z.string(),
      vault_ids: z.array(z.string()),
      networking: z.record(z.string(), z.unknown()),
    }),
    z.object({
      env: z.record(z.string(), z.string()),
      ca_cert_pem: z.string(),
      /** The session's repositories, cloned into the sandbox (through the proxy) before first use. */
      repositories: z.array(RepositorySpec).default([]),
    }),
  ),
  /**
   * Stores (or updates, by resource_id) a session's repository resources with their write-only tokens; the
   * proxy injects a token only into git requests for its own repository.
   */
  repositoriesPut: endpoint(
    CP,
    "repositories.put",
    z.object({
      session_id: z.string(),
      repositories: z.array(RepositorySpec.extend({ authorization_token: z.string().optional() })).max(100),
    }),
    z.object({}),
  ),
  /** Rotates one repository's token. */
  repositoriesSetToken: endpoint(
    CP,
    "repositories.set_token",
    z.object({ session_id: z.string(), resource_id: z.string(), authorization_token: z.string() }),
    z.object({}),
  ),
  /** Forgets one repository (resource_id) or all of a session's. */
  repositoriesDelete: endpoint(
    CP,
    "repositories.delete",
    z.object({ session_id: z.string(), resource_id: z.string().optional() }),
    z.object({}),
  ),
  egressUnregister: endpoint(CP, "egress.unregister", z.object({ sandbox_id: z.string() }), z.object({})),
  egressList: endpoint(
    CP,
    "egress.list",
    z.object({
      session_id: z.string(),
      limit: z.number().int().min(1).max(1000).optional(),
      page: z.string().optional(),
    }),
    PageOf(EgressRecord),
  ),
} as const;
