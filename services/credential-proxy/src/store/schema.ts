/**
 * The credential-proxy's own tables, in its own schema (`credentials`) under its own database
 * role: the session-log's role cannot read them.
 */
import type { ColumnType, Selectable } from "kysely";

type Json<T> = ColumnType<T, string, string>;
type Ts = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTs = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface VaultsTable {
  id: string;
  display_name: string;
  metadata: Json<Record<string, string>>;
  created_at: Ts;
  updated_at: Ts;
  archived_at: NullableTs;
}

export interface CredentialsTable {
  id: string;
  vault_id: string;
  display_name: string | null;
  metadata: Json<Record<string, string>>;
  auth_type: string;
  /** mcp_server_url or secret_name: unique among a vault's active credentials. */
  match_key: string;
  /** The non-secret half of `auth`, exactly as responses show it. */
  auth_public: Json<Record<string, unknown>>;
  /** AES-256-GCM of the secret half (JSON), null once archived (purged). */
  secret_ciphertext: Buffer | null;
  secret_nonce: Buffer | null;
  key_id: string | null;
  created_at: Ts;
  updated_at: Ts;
  archived_at: NullableTs;
}

export interface SandboxRegistrationsTable {
  sandbox_id: string;
  session_id: string;
  vault_ids: Json<string[]>;
  networking: Json<Record<string, unknown>>;
  created_at: Ts;
}

export interface EgressLogTable {
  id: ColumnType<number, never, never>;
  session_id: string;
  sandbox_id: string;
  at: Ts;
  method: string;
  scheme: string;
  host: string;
  port: number;
  status: number | null;
  bytes_out: number;
  bytes_in: number;
  credential_ids: Json<string[]>;
  blocked: boolean;
  reason: string | null;
  duration_ms: number;
}

export interface EgressCaTable {
  id: string;
  cert_pem: string;
  key_ciphertext: Buffer;
  key_nonce: Buffer;
  key_id: string;
  created_at: Ts;
}

export interface SessionRepositoriesTable {
  /** The session resource id (sesrsc_…). */
  id: string;
  session_id: string;
  url: string;
  mount_path: string;
  checkout: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  /** The sealed `{ token }`, null for a repository that needs none. */
  secret_ciphertext: Buffer | null;
  secret_nonce: Buffer | null;
  key_id: string | null;
  created_at: Ts;
  updated_at: Ts;
}

export interface CredentialsDatabase {
  vaults: VaultsTable;
  credentials: CredentialsTable;
  sandbox_registrations: SandboxRegistrationsTable;
  egress_log: EgressLogTable;
  egress_ca: EgressCaTable;
  session_repositories: SessionRepositoriesTable;
}

export type VaultsRow = Selectable<VaultsTable>;
export type CredentialsRow = Selectable<CredentialsTable>;
