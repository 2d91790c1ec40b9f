/**
 * createSessionLog(deps): wires the handlers to the bus, runs the sweeper, and stops cleanly.
 */
import { type Bus, createRegistrar } from "@tendon/bus";
import { type Db, mapDbError } from "@tendon/db";
import { combineObservers } from "@tendon/observability";
import { type Clock, type IdGen, type Logger, wideEventLogger } from "@tendon/runtime";
import type { HandlerContext, SessionLogConfig } from "./context.js";
import { createEffects } from "./effects.js";
import { registerAgentHandlers } from "./handlers/agents.js";
import { registerAuthHandlers } from "./handlers/auth.js";
import { registerEnvironmentHandlers } from "./handlers/environments.js";
import { registerEventHandlers } from "./handlers/events.js";
import { registerHarnessHandlers } from "./handlers/harness.js";
import { registerResourceHandlers } from "./handlers/resources.js";
import { registerSessionHandlers } from "./handlers/sessions.js";
import { registerWorkHandlers } from "./handlers/work.js";
import { createSessionLogMetrics, type SessionLogMetrics } from "./metrics.js";
import { type Sweeper, startSweeper } from "./sweeper.js";

export interface SessionLogDeps {
  bus: Bus;
  db: Db;
  clock: Clock;
  ids: IdGen;
  log: Logger;
  config: SessionLogConfig;
  /** Prometheus metrics; a private registry when omitted (tests). */
  metrics?: SessionLogMetrics;
}

export interface SessionLogService {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly sweeper: Sweeper | undefined;
}

export function createSessionLog(deps: SessionLogDeps): SessionLogService {
  const { bus, log } = deps;
  const metrics = deps.metrics ?? createSessionLogMetrics();
  const ctx: HandlerContext = { ...deps, effects: createEffects(bus, log), metrics };
  const registrar = createRegistrar(bus, {
    mapError: mapDbError,
    observer: combineObservers(wideEventLogger(log), metrics.rpc),
  });
  const on = registrar.on;
  let sweeper: Sweeper | undefined;

  return {
    get sweeper() {
      return sweeper;
    },
    async start() {
      await bus.ensureWakeStream();
      registerAuthHandlers(ctx, on);
      registerAgentHandlers(ctx, on);
      registerEnvironmentHandlers(ctx, on);
      registerSessionHandlers(ctx, on);
      registerResourceHandlers(ctx, on);
      registerEventHandlers(ctx, on);
      registerHarnessHandlers(ctx, on);
      registerWorkHandlers(ctx, on);
      await bus.nc.flush();
      if (deps.config.sweepIntervalMs > 0) sweeper = startSweeper(ctx);
      log.info("session-log started", { prefix: bus.subjects.prefix });
    },
    async stop() {
      registrar.close();
      await sweeper?.stop();
    },
  };
}
