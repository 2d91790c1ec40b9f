/**
 * createCredentialProxy(deps): vaults and credentials over the bus (the MCP proxy and the egress
 * proxy are wired here as they land), with the fail-closed key check at start.
 */
import { type Bus, createRegistrar } from "@tendon/bus";
import { AppError } from "@tendon/contracts";
import { type Db, mapDbError } from "@tendon/db";
import type { EgressProxy } from "@tendon/egress";
import { combineObservers } from "@tendon/observability";
import { type Clock, type IdGen, type Logger, wideEventLogger } from "@tendon/runtime";
import type { CredentialProxyContext } from "./context.js";
import type { SecretStore } from "./domain/secrets.js";
import { type EgressConfig, startEgress } from "./handlers/egress.js";
import { registerKeyHandlers } from "./handlers/keys.js";
import { registerMcpHandlers } from "./handlers/mcp.js";
import { registerRepositoryHandlers } from "./handlers/repositories.js";
import { registerVaultHandlers } from "./handlers/vaults.js";
import { type CredentialProxyMetrics, createCredentialProxyMetrics } from "./metrics.js";
import type { CredentialsDatabase } from "./store/schema.js";

export interface CredentialProxyDeps {
  /** The egress proxy for sandboxes; omitted = no egress from this instance. */
  egress?: EgressConfig | undefined;
  bus: Bus;
  db: Db<CredentialsDatabase>;
  clock: Clock;
  ids: IdGen;
  log: Logger;
  secrets: SecretStore;
  /** Prometheus metrics; a private registry when omitted (tests). */
  metrics?: CredentialProxyMetrics;
}

export interface CredentialProxyService {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Fails closed: refuses to start when stored secrets were sealed with a key this process does not
 * have (a wrong or missing TENDON_MASTER_KEY), instead of failing later, per request.
 */
export async function checkKeys(db: Db<CredentialsDatabase>, secrets: SecretStore): Promise<void> {
  const rows = await db.kysely
    .selectFrom("credentials")
    .select("key_id")
    .where("key_id", "is not", null)
    .union(db.kysely.selectFrom("egress_ca").select("key_id"))
    .union(db.kysely.selectFrom("session_repositories").select("key_id").where("key_id", "is not", null))
    .execute();
  const unknown = [...new Set(rows.map((r) => r.key_id!))].filter((k) => !secrets.keyring.has(k));
  if (unknown.length > 0) {
    throw new AppError(
      "internal",
      `stored credentials are sealed with master key id(s) ${unknown.join(", ")}, which this process was not given; set TENDON_MASTER_KEY (and TENDON_MASTER_KEYS_OLD while rotating)`,
    );
  }
}

export function createCredentialProxy(deps: CredentialProxyDeps): CredentialProxyService {
  const metrics = deps.metrics ?? createCredentialProxyMetrics();
  const ctx: CredentialProxyContext = { ...deps, metrics };
  const registrar = createRegistrar(deps.bus, {
    mapError: mapDbError,
    observer: combineObservers(wideEventLogger(deps.log), metrics.rpc),
  });
  let egress: EgressProxy | undefined;
  return {
    async start() {
      await checkKeys(deps.db, deps.secrets);
      registerVaultHandlers(ctx, registrar.on);
      registerKeyHandlers(ctx, registrar.on);
      registerMcpHandlers(ctx, registrar.on);
      registerRepositoryHandlers(ctx, registrar.on);
      if (deps.egress) egress = await startEgress(ctx, registrar.on, deps.egress);
      await deps.bus.nc.flush();
      deps.log.info("credential-proxy started", { key_id: deps.secrets.keyring.currentKeyId });
    },
    async stop() {
      registrar.close();
      await egress?.close();
    },
  };
}
