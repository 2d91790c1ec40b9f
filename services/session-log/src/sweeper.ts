/**
 * The sweeper re-wakes sessions that should be running but have no live harness: their worker
 * died (its liveness row expired) or a wake-up was lost. One instance sweeps at a time
 * (transaction-scoped advisory lock); duplicate wake-ups from racing instances are dropped by
 * JetStream msg-id dedupe (one per session per 2 s bucket and lease epoch).
 */
import { sql } from "@tendon/db";
import { serializeError } from "@tendon/runtime";
import type { HandlerContext } from "./context.js";
import { findOrphans } from "./store/sessions.repo.js";
import { requeueExpired } from "./store/work.repo.js";
import { pruneWorkers } from "./store/workers.repo.js";

const LOCK_KEY = 0x7e4d0_5eed;

export interface Sweeper {
  /** One pass; returns how many sessions were re-woken. */
  sweepOnce(): Promise<number>;
  stop(): Promise<void>;
}

export function startSweeper(ctx: HandlerContext): Sweeper {
  const { db, bus, log, config, clock } = ctx;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  let passes = 0;

  const sweepOnce = async (): Promise<number> => {
    const { orphans, requeued } = await db.kysely.transaction().execute(async (trx) => {
      const lock = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${LOCK_KEY}) as ok`.execute(
        trx,
      );
      if (!lock.rows[0]?.ok) return { orphans: [], requeued: [] };
      if (++passes % 300 === 0) await pruneWorkers(trx, 600_000);
      const requeued = await requeueExpired(trx, clock.now());
      return { orphans: await findOrphans(trx, config.sweepGraceMs, 500), requeued };
    });
    for (const env of new Set(requeued.map((r) => r.environment_id))) bus.notifyWorkAvailable(env);
    if (requeued.length > 0)
      log.info("work items re-queued after their lease lapsed", { count: requeued.length });
    const bucket = Math.floor(clock.now().getTime() / 2_000);
    for (const o of orphans) {
      await bus.enqueueWake({
        v: 1,
        session_id: o.id,
        reason: "sweep",
        cause: `sweep:${o.lease_epoch}:${o.last_seq}:${bucket}`,
      });
    }
    if (orphans.length > 0) log.info("sweeper re-woke sessions", { count: orphans.length });
    return orphans.length;
  };

  const tick = () => {
    if (stopped) return;
    current = sweepOnce()
      .catch((err: unknown) => log.warn("sweep failed", { err: serializeError(err) }))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, config.sweepIntervalMs);
      });
  };
  timer = setTimeout(tick, config.sweepIntervalMs);

  return {
    sweepOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
