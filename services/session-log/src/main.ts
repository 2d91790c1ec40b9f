#!/usr/bin/env node
/**
 * session-log process: config → clients → createSessionLog(deps).start() → graceful stop.
 */
import { busOptions, createBus } from "@tendon/bus";
import { createDb, migrateToLatest, sql } from "@tendon/db";
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
import { createSessionLog } from "./app.js";
import { loadConfig } from "./config.js";
import { createSessionLogMetrics } from "./metrics.js";

const cfg = loadConfig(process.env);
const log = createLogger({ service: "session-log", level: cfg.LOG_LEVEL });

const metrics = createSessionLogMetrics(createMetrics({ service: "session-log" }));

try {
  // First: everything after it may create spans. A no-op without an OTLP endpoint.
  const tracing = await startTracing(tracingOptions(cfg, "session-log"), log);
  const ops = await startOps({ port: cfg.OPS_PORT, host: cfg.OPS_HOST, metrics: metrics.metrics, log });
  const db = createDb({
    url: cfg.DATABASE_URL,
    schema: cfg.TENDON_DB_SCHEMA,
    max: cfg.TENDON_DB_POOL_MAX,
    applicationName: "tendon-session-log",
  });
  if (cfg.TENDON_MIGRATE_ON_START) await migrateToLatest(db);
  const bus = await createBus(
    busOptions(cfg, "session-log", (s) => log.info("nats status", { status: s.type })),
  );
  const service = createSessionLog({
    bus,
    db,
    clock: systemClock,
    ids: randomIds,
    log,
    metrics,
    config: {
      sweepIntervalMs: cfg.TENDON_SWEEP_INTERVAL_MS,
      sweepGraceMs: cfg.TENDON_SWEEP_GRACE_MS,
      sweepRewakeMs: cfg.TENDON_SWEEP_REWAKE_MS,
      unsafeDisableFencing: cfg.TENDON_UNSAFE_DISABLE_FENCING,
      maxReplyBytes: Math.floor(bus.maxPayload() * 0.75),
    },
  });
  if (cfg.TENDON_UNSAFE_DISABLE_FENCING) {
    log.error(
      "TENDON_UNSAFE_DISABLE_FENCING is set: stale harness workers can write to sessions (test builds only)",
    );
  }
  await service.start();
  ops?.ready([natsCheck(bus.nc), databaseCheck(() => sql`select 1`.execute(db.kysely))]);
  announceReady("session-log", opsReadyFields(ops));
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
  log.error("session-log failed to start", { err: serializeError(err) });
  process.exit(1);
}
