#!/usr/bin/env node
/**
 * credential-proxy process: config → keyring → database → bus → createCredentialProxy(deps).start().
 */
import { readFileSync } from "node:fs";
import { busOptions, createBus } from "@tendon/bus";
import { createDb, runMigrations, sql } from "@tendon/db";
import { createMetrics, databaseCheck, natsCheck, opsReadyFields, startOps } from "@tendon/observability";
import {
  announceReady,
  createLogger,
  handleShutdown,
  randomIds,
  serializeError,
  systemClock,
} from "@tendon/runtime";
import { startTracing, tracingOptions } from "@tendon/tracing";
import { createCredentialProxy } from "./app.js";
import { loadConfig, masterKeyText } from "./config.js";
import { createKeyring, parseKey } from "./domain/keyring.js";
import { createSecretStore } from "./domain/secrets.js";
import type { EgressConfig } from "./handlers/egress.js";
import { createCredentialProxyMetrics } from "./metrics.js";
import { CREDENTIAL_MIGRATIONS } from "./store/migrations.js";
import type { CredentialsDatabase } from "./store/schema.js";

const cfg = loadConfig(process.env);
const log = createLogger({ service: "credential-proxy", level: cfg.LOG_LEVEL });

function egressConfig(): EgressConfig | undefined {
  if (cfg.TENDON_EGRESS_PORT === undefined || !cfg.TENDON_EGRESS_SECRET) {
    log.info("egress proxy disabled (set TENDON_EGRESS_PORT and TENDON_EGRESS_SECRET)");
    return undefined;
  }
  const overrides = cfg.TENDON_EGRESS_HOST_OVERRIDES ?? {};
  return {
    host: cfg.TENDON_EGRESS_HOST,
    port: cfg.TENDON_EGRESS_PORT,
    identitySecret: cfg.TENDON_EGRESS_SECRET,
    ...(Object.keys(overrides).length > 0
      ? {
          resolve: async (host: string, port: number) => {
            const o = overrides[host];
            if (!o) return { host, port };
            const [h, p] = o.split(":") as [string, string];
            return { host: h, port: Number(p) };
          },
        }
      : {}),
    ...(cfg.TENDON_EGRESS_EXTRA_CA_FILE
      ? { upstreamCa: [readFileSync(cfg.TENDON_EGRESS_EXTRA_CA_FILE, "utf8")] }
      : {}),
  };
}

const metrics = createCredentialProxyMetrics(createMetrics({ service: "credential-proxy" }));

try {
  // First: everything after it may create spans. A no-op without an OTLP endpoint.
  const tracing = await startTracing(tracingOptions(cfg, "credential-proxy"), log);
  const ops = await startOps({ port: cfg.OPS_PORT, host: cfg.OPS_HOST, metrics: metrics.metrics, log });
  const keyring = createKeyring(
    parseKey(masterKeyText(cfg)),
    (cfg.TENDON_MASTER_KEYS_OLD ?? "")
      .split(",")
      .filter((k) => k.trim() !== "")
      .map(parseKey),
  );
  const db = createDb<CredentialsDatabase>({
    url: (cfg.CREDENTIALS_DATABASE_URL ?? cfg.DATABASE_URL)!,
    schema: cfg.TENDON_CREDENTIALS_SCHEMA,
    applicationName: "tendon-credential-proxy",
  });
  if (cfg.TENDON_MIGRATE_ON_START) await runMigrations(db, CREDENTIAL_MIGRATIONS);
  const bus = await createBus(
    busOptions(cfg, "credential-proxy", (s) => log.info("nats status", { status: s.type })),
  );
  const service = createCredentialProxy({
    bus,
    db,
    clock: systemClock,
    ids: randomIds,
    log,
    metrics,
    secrets: createSecretStore(keyring),
    egress: egressConfig(),
  });
  await service.start();
  ops?.ready([natsCheck(bus.nc), databaseCheck(() => sql`select 1`.execute(db.kysely))]);
  announceReady("credential-proxy", { key_id: keyring.currentKeyId, ...opsReadyFields(ops) });
  handleShutdown(
    async () => {
      ops?.draining();
      await service.stop();
      await bus.close();
      await tracing.shutdown(); // flushes the spans still buffered
      await db.close();
      await ops?.close();
    },
    { log },
  );
} catch (err) {
  log.error("credential-proxy failed to start", { err: serializeError(err) });
  process.exit(1);
}
