#!/usr/bin/env node
/**
 * gateway process: config → bus → createGateway(deps).start() → graceful stop.
 */
import { busOptions, createBus } from "@tendon/bus";
import { announceReady, createLogger, handleShutdown, serializeError } from "@tendon/runtime";
import { createGateway } from "./app.js";
import { loadConfig } from "./config.js";

const cfg = loadConfig(process.env);
const log = createLogger({ service: "gateway", level: cfg.LOG_LEVEL });

try {
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
  const url = await gateway.start();
  announceReady("gateway", { url });
  handleShutdown(
    async () => {
      await gateway.stop();
      await bus.close();
    },
    { log },
  );
} catch (err) {
  log.error("gateway failed to start", { err: serializeError(err) });
  process.exit(1);
}
