#!/usr/bin/env node
/**
 * harness-worker process: config → bus + model client → createHarnessWorker(deps).start() →
 * graceful stop (finish or hand back the turns in flight).
 */
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
import { startTracing, tracingOptions } from "@tendon/tracing";
import { createHarnessWorker } from "./app.js";
import { loadConfig } from "./config.js";
import { createHarnessMetrics } from "./metrics.js";
import { createAnthropicModel } from "./model/anthropic.js";
import { agentToolDefinitions } from "./turn/tools.js";

const cfg = loadConfig(process.env);
const workerId = randomIds.next("worker");
const log = createLogger({ service: "harness-worker", level: cfg.LOG_LEVEL }).child({ worker_id: workerId });

const metrics = createHarnessMetrics(createMetrics({ service: "harness-worker" }));

try {
  // First: everything after it may create spans. A no-op without an OTLP endpoint.
  const tracing = await startTracing(tracingOptions(cfg, "harness-worker"), log);
  const ops = await startOps({ port: cfg.OPS_PORT, host: cfg.OPS_HOST, metrics: metrics.metrics, log });
  const bus = await createBus(
    busOptions(cfg, "harness-worker", (s) => log.info("nats status", { status: s.type })),
  );
  const llm = createAnthropicModel({
    baseURL: cfg.ANTHROPIC_BASE_URL,
    apiKey: cfg.ANTHROPIC_API_KEY,
    authToken: cfg.ANTHROPIC_AUTH_TOKEN,
    timeoutMs: cfg.HARNESS_MODEL_TIMEOUT_MS,
  });
  const worker = createHarnessWorker({
    bus,
    llm,
    clock: systemClock,
    ids: randomIds,
    log,
    metrics,
    config: {
      workerId,
      concurrency: cfg.HARNESS_CONCURRENCY,
      leaseTtlMs: cfg.HARNESS_LEASE_TTL_MS,
      heartbeatMs: cfg.HARNESS_HEARTBEAT_MS,
      ackWaitMs: cfg.HARNESS_ACK_WAIT_MS,
      maxDeliver: cfg.HARNESS_MAX_DELIVER,
      shutdownGraceMs: cfg.HARNESS_SHUTDOWN_GRACE_MS,
      maxTokens: cfg.HARNESS_MAX_TOKENS,
      toolDeadlineMs: cfg.HARNESS_TOOL_DEADLINE_MS,
      modelMaxRetries: cfg.HARNESS_MODEL_MAX_RETRIES,
      modelBackoffBaseMs: cfg.HARNESS_MODEL_BACKOFF_BASE_MS,
      modelBackoffMaxMs: cfg.HARNESS_MODEL_BACKOFF_MAX_MS,
      busRetry: { attempts: 8, baseMs: 100, maxMs: 2_000 },
      tools: agentToolDefinitions,
    },
  });
  await worker.start();
  ops?.ready([natsCheck(bus.nc)]);
  announceReady("harness-worker", { worker_id: workerId, ...opsReadyFields(ops) });
  handleShutdown(
    async () => {
      ops?.draining();
      await worker.stop();
      await bus.close();
      await tracing.shutdown(); // flushes the spans still buffered
      await ops?.close();
    },
    { log, timeoutMs: cfg.HARNESS_SHUTDOWN_GRACE_MS + 5_000 },
  );
} catch (err) {
  log.error("harness-worker failed to start", { err: serializeError(err) });
  process.exit(1);
}
