/**
 * Vaults and credentials (spec §3.8, §8). Secret fields are write-only: they appear in create and
 * update params and nowhere else — no response, event, log line or error carries them.
 */
import { z } from "zod";
import { Metadata, MetadataPatch, QueryBool, Timestamp } from "../common.js";

const HostRule = z.string().min(1).max(253);
const Secret = z
  .string()
  .min(1)
  .max(64 * 1024);
const Url = z.url({ protocol: /^https?$/ }).max(2048);

export const CredentialNetworking = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("unrestricted") }),
  z.strictObject({ type: z.literal("limited"), allowed_hosts: z.array(HostRule).max(64) }),
]);
export type CredentialNetworking = z.infer<typeof CredentialNetworking>;

const TokenEndpointAuthParams = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("none") }),
  z.strictObject({ type: z.literal("client_secret_basic"), client_secret: Secret }),
  z.strictObject({ type: z.literal("client_secret_post"), client_secret: Secret }),
]);

export const McpOAuthCreate = z.strictObject({
  type: z.literal("mcp_oauth"),
  mcp_server_url: Url,
  access_token: Secret,
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  refresh: z
    .strictObject({
      refresh_token: Secret,
      client_id: z.string().min(1).max(512),
      token_endpoint: Url,
      token_endpoint_auth: TokenEndpointAuthParams,
      scope: z.string().max(2048).nullable().optional(),
      resource: z.string().max(2048).nullable().optional(),
    })
    .nullable()
    .optional(),
});
export const StaticBearerCreate = z.strictObject({
  type: z.literal("static_bearer"),
  mcp_server_url: Url,
  token: Secret,
});
export const EnvironmentVariableCreate = z.strictObject({
  type: z.literal("environment_variable"),
  secret_name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a valid environment variable name"),
  secret_value: Secret,
  networking: CredentialNetworking,
  injection_location: z
    .strictObject({ header: z.boolean().optional(), body: z.boolean().optional() })
    .optional(),
});
export const CredentialAuthCreate = z.discriminatedUnion("type", [
  McpOAuthCreate,
  StaticBearerCreate,
  EnvironmentVariableCreate,
]);
export type CredentialAuthCreate = z.infer<typeof CredentialAuthCreate>;

export const CredentialAuthUpdate = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("mcp_oauth"),
    access_token: Secret.nullable().optional(),
    expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
    refresh: z
      .strictObject({
        refresh_token: Secret.nullable().optional(),
        scope: z.string().max(2048).nullable().optional(),
        token_endpoint_auth: z
          .discriminatedUnion("type", [
            z.strictObject({
              type: z.literal("client_secret_basic"),
              client_secret: Secret.nullable().optional(),
            }),
            z.strictObject({
              type: z.literal("client_secret_post"),
              client_secret: Secret.nullable().optional(),
            }),
          ])
          .optional(),
      })
      .nullable()
      .optional(),
  }),
  z.strictObject({ type: z.literal("static_bearer"), token: Secret.nullable().optional() }),
  z.strictObject({
    type: z.literal("environment_variable"),
    secret_value: Secret.nullable().optional(),
    networking: CredentialNetworking.nullable().optional(),
    injection_location: z
      .strictObject({ header: z.boolean().optional(), body: z.boolean().optional() })
      .optional(),
  }),
]);
export type CredentialAuthUpdate = z.infer<typeof CredentialAuthUpdate>;

/** What responses show of a credential's auth: never a secret. */
export const CredentialAuthPublic = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("mcp_oauth"),
    mcp_server_url: z.string(),
    expires_at: z.string().nullable().optional(),
    refresh: z
      .object({
        client_id: z.string(),
        token_endpoint: z.string(),
        token_endpoint_auth: z.object({
          type: z.enum(["none", "client_secret_basic", "client_secret_post"]),
        }),
        scope: z.string().nullable().optional(),
        resource: z.string().nullable().optional(),
      })
      .nullable()
      .optional(),
  }),
  z.object({ type: z.literal("static_bearer"), mcp_server_url: z.string() }),
  z.object({
    type: z.literal("environment_variable"),
    secret_name: z.string(),
    networking: CredentialNetworking,
    injection_location: z.object({ header: z.boolean(), body: z.boolean() }),
  }),
]);
export type CredentialAuthPublic = z.infer<typeof CredentialAuthPublic>;

export const VaultCreateParams = z.strictObject({
  display_name: z.string().min(1).max(255),
  metadata: Metadata.optional(),
});
export const VaultUpdateParams = z.strictObject({
  display_name: z.string().min(1).max(255).optional(),
  metadata: MetadataPatch.optional(),
});
export const Vault = z.object({
  id: z.string(),
  type: z.literal("vault"),
  display_name: z.string(),
  metadata: Metadata,
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Vault = z.infer<typeof Vault>;

export const CredentialCreateParams = z.strictObject({
  auth: CredentialAuthCreate,
  display_name: z.string().max(255).nullable().optional(),
  metadata: Metadata.optional(),
});
export type CredentialCreateParams = z.infer<typeof CredentialCreateParams>;
export const CredentialUpdateParams = z.strictObject({
  auth: CredentialAuthUpdate.optional(),
  display_name: z.string().max(255).nullable().optional(),
  metadata: MetadataPatch.optional(),
});
export type CredentialUpdateParams = z.infer<typeof CredentialUpdateParams>;

export const Credential = z.object({
  id: z.string(),
  type: z.literal("vault_credential"),
  vault_id: z.string(),
  display_name: z.string().nullable(),
  auth: CredentialAuthPublic,
  metadata: Metadata,
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Credential = z.infer<typeof Credential>;

const HttpResponseInfo = z
  .object({
    status_code: z.number().int(),
    content_type: z.string(),
    body: z.string(),
    body_truncated: z.boolean(),
  })
  .nullable();
export const CredentialValidation = z.object({
  type: z.literal("vault_credential_validation"),
  credential_id: z.string(),
  vault_id: z.string(),
  status: z.enum(["valid", "invalid", "unknown"]),
  has_refresh_token: z.boolean(),
  mcp_probe: z.object({ method: z.string(), http_response: HttpResponseInfo }).nullable(),
  refresh: z
    .object({
      status: z.enum(["succeeded", "failed", "connect_error", "no_refresh_token"]),
      http_response: HttpResponseInfo,
    })
    .nullable(),
  validated_at: Timestamp,
});

export const VaultListQuery = z.object({
  include_archived: QueryBool.optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().max(2048).optional(),
});
export type VaultListQuery = z.infer<typeof VaultListQuery>;

/** One request that went through the egress proxy (Tendon extension: GET /v1/sessions/{id}/egress). */
export const EgressRecord = z.object({
  id: z.string(),
  type: z.literal("egress_request"),
  session_id: z.string(),
  sandbox_id: z.string(),
  at: Timestamp,
  method: z.string(),
  scheme: z.enum(["http", "https"]),
  host: z.string(),
  port: z.number().int(),
  status: z.number().int().nullable(),
  bytes_out: z.number().int(),
  bytes_in: z.number().int(),
  credential_ids: z.array(z.string()),
  blocked: z.boolean(),
  reason: z.string().nullable(),
  duration_ms: z.number(),
});
export type EgressRecord = z.infer<typeof EgressRecord>;
