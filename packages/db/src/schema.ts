/**
 * Table types for kysely. These describe storage, not the API: JSON columns hold the API objects
 * (validated by @tendon/contracts at the edges) and are written as JSON text.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

/** A jsonb column: read as `T`, written as JSON text (pg would turn JS arrays into SQL arrays). */
export type Json<T> = ColumnType<T, string, string>;
export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
export type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;

export interface ApiKeysTable {
  id: string;
  name: string;
  /** `api` (control plane), `environment` (work-queue pollers) or `session` (one work item). */
  kind: string;
  /** sha256 of the key; keys are 190+ bits of randomness, so a fast hash is enough. */
  hash: string;
  environment_id: string | null;
  session_id: string | null;
  work_id: string | null;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
}

export interface AgentsTable {
  id: string;
  current_version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  archived_at: NullableTimestamp;
}

export interface AgentVersionsTable {
  agent_id: string;
  version: number;
  config: Json<unknown>;
  created_at: Timestamp;
}

export interface EnvironmentsTable {
  id: string;
  name: string;
  description: string | null;
  config: Json<unknown>;
  metadata: Json<Record<string, string>>;
  scope: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  archived_at: NullableTimestamp;
}

export interface SessionsTable {
  id: string;
  agent_id: string;
  agent_version: number;
  agent: Json<unknown>;
  environment_id: string;
  /** `cloud` or `self_hosted`, fixed at creation (an environment's type cannot change). */
  environment_kind: string;
  title: string | null;
  metadata: Json<Record<string, string>>;
  resources: Json<unknown[]>;
  vault_ids: Json<string[]>;
  budget: Json<unknown> | null;
  status: string;
  last_seq: ColumnType<number, number | undefined, number>;
  /** The projection of the log (see session-log's domain/projection.ts). */
  state: Json<unknown>;
  lease_owner: string | null;
  lease_epoch: ColumnType<number, number | undefined, number>;
  /** When the current epoch was granted (null before the first lease). */
  lease_granted_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  archived_at: NullableTimestamp;
}

export interface EventsTable {
  session_id: string;
  seq: number;
  id: string;
  type: string;
  /** The event exactly as the API returns it. */
  body: Json<Record<string, unknown>>;
  /** Server-only data (never returned by the API). */
  internal: Json<Record<string, unknown>> | null;
  idem_key: string;
  processed_at: Timestamp;
}

export interface HarnessWorkersTable {
  id: string;
  expires_at: Timestamp;
  started_at: Timestamp;
}

export interface WorkItemsTable {
  id: string;
  environment_id: string;
  session_id: string;
  state: string;
  metadata: Json<Record<string, string>>;
  created_at: Timestamp;
  /** Handed out by a poll and not yet acknowledged ("pending"); reclaimable after a while. */
  polled_at: NullableTimestamp;
  polled_by: string | null;
  acknowledged_at: NullableTimestamp;
  started_at: NullableTimestamp;
  latest_heartbeat_at: NullableTimestamp;
  /** The exact `last_heartbeat` string returned to the worker (it echoes it back byte for byte). */
  last_heartbeat: string | null;
  lease_expires_at: NullableTimestamp;
  ttl_seconds: ColumnType<number, number | undefined, number>;
  stop_requested_at: NullableTimestamp;
  stopped_at: NullableTimestamp;
}

export interface WorkPollersTable {
  environment_id: string;
  worker_id: string;
  last_seen: Timestamp;
}

export interface Database {
  api_keys: ApiKeysTable;
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  environments: EnvironmentsTable;
  sessions: SessionsTable;
  events: EventsTable;
  harness_workers: HarnessWorkersTable;
  work_items: WorkItemsTable;
  work_pollers: WorkPollersTable;
}

export type SessionRow = Selectable<SessionsTable>;
export type EventRow = Selectable<EventsTable>;
export type NewEvent = Insertable<EventsTable>;
export type SessionUpdate = Updateable<SessionsTable>;
export type AgentVersionRow = Selectable<AgentVersionsTable>;
export type EnvironmentRow = Selectable<EnvironmentsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type WorkItemRow = Selectable<WorkItemsTable>;
export type { Generated };
