#!/usr/bin/env node
/**
 * sandbox-manager process: config → bus + provider → createSandboxManager(deps).start() → stop
 * (kills every sandbox it runs).
 */
import { join } from "node:path";
import { busOptions, createBus } from "@tendon/bus";
import { createMetrics, natsCheck, opsReadyFields, startOps } from "@tendon/observability";
import {
  announceReady,
  createLogger,
  handleShutdown,
  randomIds,
  serializeError,
  systemClock,
} from "@tendon/runtime";
import { createDelayedProvider, type SandboxLimits } from "@tendon/sandbox";
import { startTracing, tracingOptions } from "@tendon/tracing";
import { createSandboxManager } from "./app.js";
import { loadConfig } from "./config.js";
import { createSandboxManagerMetrics } from "./metrics.js";
import { createProvider } from "./provider.js";

const cfg = loadConfig(process.env);
const instanceId = randomIds.next("worker").replace(/^wrk_/, "sbm_");
const log = createLogger({ service: "sandbox-manager", level: cfg.LOG_LEVEL }).child({
  instance: instanceId,
});

function limits(): Partial<SandboxLimits> {
  const l: Partial<SandboxLimits> = {};
  if (cfg.TENDON_SANDBOX_MEMORY_MB) l.memoryBytes = cfg.TENDON_SANDBOX_MEMORY_MB * 1024 * 1024;
  if (cfg.TENDON_SANDBOX_CPU_SECONDS) l.cpuSeconds = cfg.TENDON_SANDBOX_CPU_SECONDS;
  if (cfg.TENDON_SANDBOX_MAX_PROCESSES) l.maxProcesses = cfg.TENDON_SANDBOX_MAX_PROCESSES;
  if (cfg.TENDON_SANDBOX_CALL_TIMEOUT_MS) l.callTimeoutMs = cfg.TENDON_SANDBOX_CALL_TIMEOUT_MS;
  if (cfg.TENDON_SANDBOX_OUTPUT_BYTES) l.maxOutputBytes = cfg.TENDON_SANDBOX_OUTPUT_BYTES;
  if (cfg.TENDON_SANDBOX_DISK_MB) l.diskBytes = cfg.TENDON_SANDBOX_DISK_MB * 1024 * 1024;
  return l;
}

function egressConfig() {
  if (!cfg.TENDON_EGRESS_ADDR || !cfg.TENDON_EGRESS_SECRET) {
    log.info(
      "no egress configured: sandboxes have no network (set TENDON_EGRESS_ADDR and TENDON_EGRESS_SECRET)",
    );
    return undefined;
  }
  const [host, port] = cfg.TENDON_EGRESS_ADDR.split(":") as [string, string];
  return {
    host,
    port: Number(port),
    secret: cfg.TENDON_EGRESS_SECRET,
    dir: join(cfg.TENDON_SANDBOX_DIR, instanceId, "egress"),
  };
}

const metrics = createSandboxManagerMetrics(createMetrics({ service: "sandbox-manager" }));

try {
  // First: everything after it may create spans. A no-op without an OTLP endpoint.
  const tracing = await startTracing(tracingOptions(cfg, "sandbox-manager"), log);
  const ops = await startOps({ port: cfg.OPS_PORT, host: cfg.OPS_HOST, metrics: metrics.metrics, log });
  const bus = await createBus(
    busOptions(cfg, "sandbox-manager", (s) => log.info("nats status", { status: s.type })),
  );
  const base = createProvider(cfg, {
    instanceId,
    limits: limits(),
    log: (level, msg, fields) => log[level](msg, fields),
  });
  const provider =
    cfg.TENDON_SANDBOX_START_DELAY_MS > 0
      ? createDelayedProvider(base, {
          startDelayMs: cfg.TENDON_SANDBOX_START_DELAY_MS,
          jitterMs: cfg.TENDON_SANDBOX_START_JITTER_MS,
        })
      : base;
  const manager = createSandboxManager({
    bus,
    provider,
    clock: systemClock,
    log,
    metrics,
    config: {
      instanceId,
      idleMs: cfg.TENDON_SANDBOX_IDLE_MS,
      reapEveryMs: Math.min(30_000, cfg.TENDON_SANDBOX_IDLE_MS),
      egress: egressConfig(),
    },
  });
  await manager.start();
  ops?.ready([natsCheck(bus.nc)]);
  announceReady("sandbox-manager", { instance: instanceId, provider: provider.name, ...opsReadyFields(ops) });
  handleShutdown(
    async () => {
      ops?.draining();
      await manager.stop();
      await bus.close();
      await tracing.shutdown(); // flushes the spans still buffered
      await ops?.close();
    },
    { log },
  );
} catch (err) {
  log.error("sandbox-manager failed to start", { err: serializeError(err) });
  process.exit(1);
}
