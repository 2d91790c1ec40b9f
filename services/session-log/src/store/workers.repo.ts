/**
 * Harness worker liveness. A session lease is valid while its owner's row is unexpired, so one
 * heartbeat per worker keeps all of its sessions' leases alive.
 */
import { sql } from "@tendon/db";
import type { Executor } from "./executor.js";

export async function heartbeat(db: Executor, workerId: string, ttlMs: number): Promise<void> {
  // Postgres' clock decides expiry, so workers' clocks never need to agree.
  const expires = sql<Date>`clock_timestamp() + make_interval(secs => ${ttlMs / 1000})`;
  await db
    .insertInto("harness_workers")
    .values({ id: workerId, expires_at: expires })
    .onConflict((oc) => oc.column("id").doUpdateSet({ expires_at: expires }))
    .execute();
}

export async function removeWorker(db: Executor, workerId: string): Promise<void> {
  await db.deleteFrom("harness_workers").where("id", "=", workerId).execute();
}

export async function pruneWorkers(db: Executor, olderThanMs: number): Promise<void> {
  await db
    .deleteFrom("harness_workers")
    .where("expires_at", "<", sql<Date>`clock_timestamp() - make_interval(secs => ${olderThanMs / 1000})`)
    .execute();
}

/**
 * Workers that are live by their TTL but hold a session that has been quiet for `graceMs`: the
 * ones worth a presence probe (a dead one's sessions are quiet first).
 */
export async function quietHolders(db: Executor, graceMs: number, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("sessions as s")
    .innerJoin("harness_workers as w", "w.id", "s.lease_owner")
    .select("w.id")
    .distinct()
    .where("s.status", "in", ["running", "rescheduling"])
    .where("s.updated_at", "<", sql<Date>`clock_timestamp() - make_interval(secs => ${graceMs / 1000})`)
    .where("w.expires_at", ">", sql<Date>`clock_timestamp()`)
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** Ends these workers' liveness now: their leases lapse and the sweeper re-wakes their sessions. */
export async function expireWorkers(db: Executor, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("harness_workers")
    .set({ expires_at: sql<Date>`clock_timestamp()` })
    .where("id", "in", ids)
    .where("expires_at", ">", sql<Date>`clock_timestamp()`)
    .execute();
}
