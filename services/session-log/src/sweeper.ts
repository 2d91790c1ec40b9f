/**
 * The sweeper re-wakes sessions that should be running but have no live harness: their worker
 * died (its liveness row expired, or its presence subject has no responders any more: a killed
 * process is found within a sweep instead of a lease TTL) or a wake-up was lost. One instance sweeps at a time
 * (transaction-scoped advisory lock); duplicate wake-ups from racing instances are dropped by
 * JetStream msg-id dedupe (one per session per 2 s bucket and lease epoch).
 */
import { sql } from "@tendon/db";
import { serializeError } from "@tendon/runtime";
import type { HandlerContext } from "./context.js";
import { findOrphans } from "./store/sessions.repo.js";
import { requeueExpired } from "./store/work.repo.js";
import { expireWorkers, pruneWorkers, quietHolders } from "./store/workers.repo.js";

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

  /** Workers holding quiet sessions whose NATS connection is gone: dead, whatever their TTL says. */
  const expireGoneWorkers = async () => {
    const suspects = await quietHolders(db.kysely, config.sweepGraceMs, 100);
    if (suspects.length === 0) return;
    const answers = await Promise.all(suspects.map(async (id) => [id, await bus.probePresence(id)] as const));
    const gone = answers.filter(([, p]) => p === "gone").map(([id]) => id);
    if (gone.length === 0) return;
    await expireWorkers(db.kysely, gone);
    log.info("harness workers gone from NATS; their leases end now", { workers: gone });
  };

  const sweepOnce = async (): Promise<number> => {
    await expireGoneWorkers();
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
    // One wake-up per orphan per bucket (the message id dedupes the rest): repeated until a
    // worker takes it, in case one went to a dead worker's last pull.
    const bucket = Math.floor(clock.now().getTime() / config.sweepRewakeMs);
    for (const o of orphans) {
      await bus.enqueueWake({
        v: 1,
        session_id: o.id,
        reason: "sweep",
        cause: `sweep:${o.lease_epoch}:${o.last_seq}:${bucket}`,
      });
    }
    if (orphans.length > 0) {
      ctx.metrics.sweeperRewakes.inc(orphans.length);
      log.info("sweeper re-woke sessions", { count: orphans.length });
    }
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
