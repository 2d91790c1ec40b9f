/**
 * createSessionLog(deps): wires the handlers to the bus, runs the sweeper, and stops cleanly.
 */
import type { Bus, Handler, Subscription } from "@tendon/bus";
import { AppError, type Endpoint, toAppError } from "@tendon/contracts";
import type { Db } from "@tendon/db";
import { type Clock, type IdGen, type Logger, serializeError } from "@tendon/runtime";
import type { HandlerContext, SessionLogConfig } from "./context.js";
import { createEffects } from "./effects.js";
import { registerAgentHandlers } from "./handlers/agents.js";
import { registerAuthHandlers } from "./handlers/auth.js";
import { registerEnvironmentHandlers } from "./handlers/environments.js";
import { registerEventHandlers } from "./handlers/events.js";
import { registerHarnessHandlers } from "./handlers/harness.js";
import type { Registrar } from "./handlers/registrar.js";
import { registerSessionHandlers } from "./handlers/sessions.js";
import { registerWorkHandlers } from "./handlers/work.js";
import { type Sweeper, startSweeper } from "./sweeper.js";

export interface SessionLogDeps {
  bus: Bus;
  db: Db;
  clock: Clock;
  ids: IdGen;
  log: Logger;
  config: SessionLogConfig;
}

export interface SessionLogService {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly sweeper: Sweeper | undefined;
}

const PG_UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/** Postgres being down or restarting is a retryable `unavailable`, not an internal error. */
export function mapDbError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  const code = (e as { code?: string } | undefined)?.code;
  const msg = e instanceof Error ? e.message : "";
  if (
    (code && (PG_UNAVAILABLE.has(code) || code.startsWith("08"))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      msg,
    )
  ) {
    return new AppError("unavailable", "the database is unavailable; retry shortly", { cause: e });
  }
  return toAppError(e);
}

export function createSessionLog(deps: SessionLogDeps): SessionLogService {
  const { bus, log } = deps;
  const ctx: HandlerContext = { ...deps, effects: createEffects(bus, log) };
  const subs: Subscription[] = [];
  let sweeper: Sweeper | undefined;

  const on: Registrar = <E extends Endpoint>(e: E, handler: Handler<E>) => {
    const wrapped: Handler<E> = async (req, hctx) => {
      try {
        return await handler(req, hctx);
      } catch (err) {
        throw mapDbError(err);
      }
    };
    subs.push(
      bus.serve(e, wrapped, {
        onHandled: ({ op, ok, durationMs, error }) => {
          const fields = { op, ok, duration_ms: Math.round(durationMs * 100) / 100 };
          if (ok) log.debug("wide_event", fields);
          else if (error && (error.code === "internal" || error.code === "unavailable")) {
            log.error("wide_event", {
              ...fields,
              error: { code: error.code, ...serializeError(error.cause ?? error) },
            });
          } else log.info("wide_event", { ...fields, error: { code: error?.code, message: error?.message } });
        },
      }),
    );
  };

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
      registerEventHandlers(ctx, on);
      registerHarnessHandlers(ctx, on);
      registerWorkHandlers(ctx, on);
      await bus.nc.flush();
      if (deps.config.sweepIntervalMs > 0) sweeper = startSweeper(ctx);
      log.info("session-log started", { prefix: bus.subjects.prefix });
    },
    async stop() {
      for (const s of subs) s.unsubscribe();
      await sweeper?.stop();
    },
  };
}
