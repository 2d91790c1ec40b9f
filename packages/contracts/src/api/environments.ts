/**
 * Environments (spec §3.2, §7.3): where a session's tools run. `cloud` environments get sandboxes
 * from the sandbox-manager; `self_hosted` ones are served by the customer's EnvironmentWorker.
 */
import { z } from "zod";
import { EnvironmentId, Metadata, MetadataPatch, QueryBool, Timestamp } from "../common.js";

const Hostname = z.string().min(1).max(253);
const PackageList = z.array(z.string().min(1).max(256)).max(256);

export const NetworkingParams = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("unrestricted") }),
  z.strictObject({
    type: z.literal("limited"),
    allowed_hosts: z.array(Hostname).max(256).nullable().optional(),
    allow_package_managers: z.boolean().nullable().optional(),
    allow_mcp_servers: z.boolean().nullable().optional(),
  }),
]);

export const PackagesParams = z.strictObject({
  type: z.literal("packages").optional(),
  apt: PackageList.nullable().optional(),
  cargo: PackageList.nullable().optional(),
  gem: PackageList.nullable().optional(),
  go: PackageList.nullable().optional(),
  npm: PackageList.nullable().optional(),
  pip: PackageList.nullable().optional(),
});

/**
 * Tendon extension: `provisioning` chooses when a cloud session's sandbox is created. `lazy` (the
 * default) waits for the first tool call that needs it; `eager` provisions at session creation.
 */
export const Provisioning = z.enum(["lazy", "eager"]);

export const CloudConfigParams = z.strictObject({
  type: z.literal("cloud"),
  networking: NetworkingParams.nullable().optional(),
  packages: PackagesParams.nullable().optional(),
  provisioning: Provisioning.nullable().optional(),
});

export const SelfHostedConfigParams = z.strictObject({ type: z.literal("self_hosted") });

export const EnvironmentConfigParams = z.discriminatedUnion("type", [
  CloudConfigParams,
  SelfHostedConfigParams,
]);
export type EnvironmentConfigParams = z.infer<typeof EnvironmentConfigParams>;

export const Networking = z.discriminatedUnion("type", [
  z.object({ type: z.literal("unrestricted") }),
  z.object({
    type: z.literal("limited"),
    allowed_hosts: z.array(z.string()),
    allow_package_managers: z.boolean(),
    allow_mcp_servers: z.boolean(),
  }),
]);
export type Networking = z.infer<typeof Networking>;

export const Packages = z.object({
  type: z.literal("packages"),
  apt: z.array(z.string()),
  cargo: z.array(z.string()),
  gem: z.array(z.string()),
  go: z.array(z.string()),
  npm: z.array(z.string()),
  pip: z.array(z.string()),
});

export const CloudConfig = z.object({
  type: z.literal("cloud"),
  networking: Networking,
  packages: Packages,
  provisioning: Provisioning,
});
export const SelfHostedConfig = z.object({ type: z.literal("self_hosted") });
export const EnvironmentConfig = z.discriminatedUnion("type", [CloudConfig, SelfHostedConfig]);
export type EnvironmentConfig = z.infer<typeof EnvironmentConfig>;

export const EnvironmentScope = z.enum(["organization", "account"]);

export const EnvironmentCreateParams = z.strictObject({
  name: z.string().min(1).max(256),
  config: EnvironmentConfigParams.nullable().optional(),
  description: z.string().max(2048).nullable().optional(),
  metadata: Metadata.optional(),
  scope: EnvironmentScope.nullable().optional(),
});
export type EnvironmentCreateParams = z.infer<typeof EnvironmentCreateParams>;

export const EnvironmentUpdateParams = z.strictObject({
  name: z.string().min(1).max(256).nullable().optional(),
  config: EnvironmentConfigParams.nullable().optional(),
  description: z.string().max(2048).nullable().optional(),
  metadata: MetadataPatch.optional(),
  scope: EnvironmentScope.nullable().optional(),
});
export type EnvironmentUpdateParams = z.infer<typeof EnvironmentUpdateParams>;

export const Environment = z.object({
  id: EnvironmentId,
  type: z.literal("environment"),
  name: z.string(),
  description: z.string().nullable(),
  config: EnvironmentConfig,
  metadata: Metadata,
  scope: EnvironmentScope,
  created_at: Timestamp,
  updated_at: Timestamp,
  archived_at: Timestamp.nullable(),
});
export type Environment = z.infer<typeof Environment>;

export const EnvironmentDeleted = z.object({ id: z.string(), type: z.literal("environment_deleted") });

export const EnvironmentListQuery = z.object({
  include_archived: QueryBool.optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  page: z.string().max(2048).optional(),
});
export type EnvironmentListQuery = z.infer<typeof EnvironmentListQuery>;

function listOrEmpty(v: string[] | null | undefined): string[] {
  return v ?? [];
}

/** Params → stored config, with every default filled in (spec §7.3; `config` optional on create). */
export function resolveEnvironmentConfig(p: EnvironmentConfigParams | null | undefined): EnvironmentConfig {
  if (!p) {
    return resolveEnvironmentConfig({ type: "cloud" });
  }
  if (p.type === "self_hosted") return { type: "self_hosted" };
  const n = p.networking;
  const networking: Networking =
    !n || n.type === "unrestricted"
      ? { type: "unrestricted" }
      : {
          type: "limited",
          allowed_hosts: listOrEmpty(n.allowed_hosts),
          allow_package_managers: n.allow_package_managers ?? false,
          allow_mcp_servers: n.allow_mcp_servers ?? false,
        };
  const pk = p.packages;
  return {
    type: "cloud",
    networking,
    packages: {
      type: "packages",
      apt: listOrEmpty(pk?.apt),
      cargo: listOrEmpty(pk?.cargo),
      gem: listOrEmpty(pk?.gem),
      go: listOrEmpty(pk?.go),
      npm: listOrEmpty(pk?.npm),
      pip: listOrEmpty(pk?.pip),
    },
    provisioning: p.provisioning ?? "lazy",
  };
}
