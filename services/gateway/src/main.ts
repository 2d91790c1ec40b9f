#!/usr/bin/env node
/**
 * gateway process: config → bus → createGateway(deps).start() → graceful stop.
 */
import { busOptions, createBus } from "@tendon/bus";
import { createMetrics, natsCheck, opsReadyFields, startOps } from "@tendon/observability";
import { announceReady, createLogger, handleShutdown, serializeError } from "@tendon/runtime";
import { startTracing, tracingOptions } from "@tendon/tracing";
import { createGateway } from "./app.js";
import { loadConfig } from "./config.js";
import { traceGateway } from "./http/tracing.js";
import { createGatewayMetrics } from "./metrics.js";

const cfg = loadConfig(process.env);
const log = createLogger({ service: "gateway", level: cfg.LOG_LEVEL });

const metrics = createGatewayMetrics(createMetrics({ service: "gateway" }));

try {
  // First: everything after it may create spans. A no-op without an OTLP endpoint.
  const tracing = await startTracing(tracingOptions(cfg, "gateway"), log);
  // The API port keeps its own /healthz and /readyz; OPS_PORT adds the ops listener with /metrics.
  const ops = await startOps({ port: cfg.OPS_PORT, host: cfg.OPS_HOST, metrics: metrics.metrics, log });
  let onReconnect = () => {};
  const bus = await createBus(
    busOptions(cfg, "gateway", (s) => {
      log.info("nats status", { status: s.type });
      if (s.type === "reconnect") onReconnect();
    }),
  );
  const gateway = createGateway({
    bus,
    log,
    metrics,
    config: {
      host: cfg.HOST,
      port: cfg.PORT,
      maxBodyBytes: cfg.TENDON_MAX_BODY_BYTES,
      authCacheMs: cfg.TENDON_AUTH_CACHE_MS,
      ssePingMs: cfg.TENDON_SSE_PING_MS,
      sseMaxBufferedBytes: cfg.TENDON_SSE_MAX_BUFFERED_BYTES,
    },
  });
  onReconnect = () => gateway.streams.resyncAll();
  if (tracing.enabled) traceGateway(gateway.app);
  const url = await gateway.start();
  ops?.ready([natsCheck(bus.nc)]);
  announceReady("gateway", { url, ...opsReadyFields(ops) });
  handleShutdown(
    async () => {
      ops?.draining();
      await gateway.stop();
      await bus.close();
      await tracing.shutdown(); // flushes the spans still buffered
      await ops?.close();
    },
    { log },
  );
} catch (err) {
  log.error("gateway failed to start", { err: serializeError(err) });
  process.exit(1);
}
